use super::*;

fn new_trace(kind: &str, value: &str) -> NewTrace {
    NewTrace {
        name: "t1".into(),
        kind: kind.into(),
        clientid: (kind == "clientid").then(|| value.into()),
        topic: (kind == "topic").then(|| value.into()),
        ip_address: (kind == "ip_address").then(|| value.into()),
        start_at: None,
        end_at: None,
        payload_encode: None,
        file: None,
        formatter: None,
    }
}

fn ok(r: Result<TraceSpec, Failure>) -> TraceSpec {
    match r {
        Ok(s) => s,
        Err(Failure(_, e)) => panic!("{}", e.message),
    }
}

fn message(r: Result<TraceSpec, Failure>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(Failure(status, e)) => format!("{status} {} {}", e.code, e.message),
    }
}

#[test]
fn requests_are_checked_before_a_trace_is_made() {
    let tracer = Tracer::new("data/trace".into());
    let now = SystemTime::now();
    let s = ok(spec(&tracer, new_trace("clientid", "c1"), now));
    assert_eq!(s.filter, TraceFilter::ClientId("c1".into()));
    assert_eq!(s.file, PathBuf::from("data/trace/t1.log"));
    assert!(!s.own_file);
    assert_eq!(s.end_at, now + DEFAULT_DURATION);
    assert!(message(spec(&tracer, new_trace("topic", "a/#/b"), now)).starts_with("400"));
    assert!(
        message(spec(&tracer, new_trace("ip_address", "10.0.0.300"), now)).contains("ip_address")
    );
    assert!(message(spec(&tracer, new_trace("clientid", ""), now)).contains("needs clientid"));
    assert!(message(spec(&tracer, new_trace("rule", "x"), now)).contains("type"));
    let mut bad_name = new_trace("clientid", "c1");
    bad_name.name = "../x".into();
    assert!(message(spec(&tracer, bad_name, now)).contains("name"));
    let mut past = new_trace("clientid", "c1");
    past.start_at = Some(serde_json::json!(1_000));
    past.end_at = Some(serde_json::json!("2001-01-01T00:00:00Z"));
    assert!(message(spec(&tracer, past, now)).contains("future"));
    let mut relative = new_trace("clientid", "c1");
    relative.file = Some("x.log".into());
    assert!(message(spec(&tracer, relative, now)).contains("absolute"));
    let mut own = new_trace("topic", "a/+");
    own.file = Some("/tmp/own.log".into());
    own.payload_encode = Some("hex".into());
    let s = ok(spec(&tracer, own, now));
    assert!(s.own_file && s.payload_encode == PayloadEncode::Hex);
}

#[test]
fn a_listed_trace_has_emqx_fields() {
    let tracer = Tracer::new("data/trace".into());
    let s = ok(spec(
        &tracer,
        new_trace("ip_address", "127.0.0.1"),
        SystemTime::now(),
    ));
    let info = TraceInfo {
        spec: s,
        status: roost_core::trace::TraceStatus::Running,
        dropped: 0,
    };
    let v = serde_json::to_value(view("roost@n1", &info)).unwrap();
    assert_eq!(v["type"], "ip_address");
    assert_eq!(v["ip_address"], "127.0.0.1");
    assert_eq!(v["status"], "running");
    assert_eq!(v["payload_encode"], "text");
    assert_eq!(v["log_size"]["roost@n1"], 0);
    assert!(v.get("clientid").is_none());
}
