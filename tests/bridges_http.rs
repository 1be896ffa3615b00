//! The http type end to end (issue 16): a rule on "t/#" sends to http
//! actions configured in config.yaml's sections (here from the environment,
//! as YAML), against an HTTP server this test runs on a loopback port:
//! method, path, headers and body templates, the whole output as the default
//! body, batching with every message arriving and counted; a bad key stops
//! start-up naming it.

#[macro_use]
mod common;
mod bridges_support;

use bridges_support::*;
use common::*;
use std::process::Command;

/// A broker whose rule `r1` sends what is published to `t/#` to `actions`.
fn broker(sink: std::net::SocketAddr, actions: &str, rule_actions: &str) -> Broker {
    let connectors = format!(
        r#"{{http: {{hook: {{url: "http://{sink}/base", headers: {{x-conn: c1}}, pool_size: 4}}}}}}"#
    );
    let rules = format!(
        r#"{{r1: {{sql: 'SELECT payload, clientid, topic, payload.t AS t FROM "t/#"', actions: {rule_actions}}}}}"#
    );
    Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", &rules),
        ("ROOST__LOG__LEVEL", "info,roost_bridges=debug"),
    ])
}

#[tokio::test]
async fn an_http_action_renders_method_path_headers_and_body_from_the_output() {
    let sink = Sink::start(0, 200, Seen::default()).await;
    let actions = r#"{http: {
        tpl: {connector: hook, parameters: {method: put, path: "dev/${clientid}", headers: {x-topic: "${topic}", content-type: text/plain}, body: "t=${payload.t} from ${clientid}"}},
        whole: {connector: hook, parameters: {path: whole}}}}"#;
    let b = broker(sink.addr, actions, r#"["http:tpl", "http:whole"]"#);
    let mut c = V4Client::connect(b.addr(), "dev7").await;
    for i in 0..5 {
        c.publish(
            &format!("t/{i}"),
            format!(r#"{{"t": {i}}}"#).as_bytes(),
            1,
            false,
        )
        .await;
    }
    let seen = sink.seen.clone();
    access::eventually(Duration::from_secs(10), "10 requests", || {
        let n = seen.lock().unwrap().len();
        async move { n >= 10 }
    })
    .await;
    let reqs = seen.lock().unwrap().clone();
    let tpl: Vec<_> = reqs.iter().filter(|r| r.path == "/base/dev/dev7").collect();
    assert_eq!(tpl.len(), 5, "{reqs:#?}");
    let mut bodies: Vec<&str> = tpl.iter().map(|r| r.body.as_str()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "t=0 from dev7",
            "t=1 from dev7",
            "t=2 from dev7",
            "t=3 from dev7",
            "t=4 from dev7"
        ]
    );
    for r in &tpl {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.header("x-conn"), Some("c1"), "the connector's headers");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(r.header("x-topic").unwrap().starts_with("t/"));
    }
    let whole: Vec<_> = reqs.iter().filter(|r| r.path == "/base/whole").collect();
    assert_eq!(whole.len(), 5);
    for r in &whole {
        assert_eq!(r.method, "POST", "EMQX's default method");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("the output as JSON");
        assert_eq!(v["clientid"], "dev7");
        assert!(v["topic"].as_str().unwrap().starts_with("t/"));
        assert_eq!(
            v["t"],
            serde_json::json!(v["topic"].as_str().unwrap()[2..].parse::<i64>().unwrap())
        );
    }
    let logs = || b.logs();
    let m = wait_metrics(
        logs,
        "http:tpl",
        Duration::from_secs(10),
        "tpl: success 5",
        |m| counter(m, "success") == 5,
    )
    .await;
    assert_eq!(m["matched"], 5);
    assert_eq!(m["failed"], 0);
}

#[tokio::test]
async fn batched_outputs_all_arrive_and_are_counted_and_4xx_fails() {
    let ok = Sink::start(0, 200, Seen::default()).await;
    let actions = r#"{http: {
        batched: {connector: hook, parameters: {path: "n"}, resource_opts: {batch_size: 10, batch_time: 50ms, worker_pool_size: 2}}}}"#;
    let b = broker(ok.addr, actions, r#"["http:batched"]"#);
    let mut c = V4Client::connect(b.addr(), "pub").await;
    for i in 0..100 {
        c.publish("t/b", format!(r#"{{"t": {i}}}"#).as_bytes(), 1, false)
            .await;
    }
    let m = wait_metrics(
        || b.logs(),
        "http:batched",
        Duration::from_secs(15),
        "success 100",
        |m| counter(m, "success") == 100,
    )
    .await;
    assert!(accounted(&m), "{m}");
    assert_eq!(m["matched"], 100);
    // One request per output (EMQX's http action), every one arrived (batches
    // in flight side by side may arrive out of order, as in EMQX).
    let mut ts: Vec<i64> = ok
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["t"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ts.len(), 100);
    ts.sort();
    assert_eq!(ts, (0..100).collect::<Vec<_>>());

    // A server answering 400: failed, not retried.
    let bad = Sink::start(0, 400, Seen::default()).await;
    let actions = r#"{http: {rejected: {connector: hook, parameters: {}, resource_opts: {health_check_interval: 1s}}}}"#;
    let b2 = broker(bad.addr, actions, r#"["http:rejected"]"#);
    let mut c2 = V4Client::connect(b2.addr(), "pub2").await;
    for _ in 0..3 {
        c2.publish("t/x", b"{}", 1, false).await;
    }
    let m = wait_metrics(
        || b2.logs(),
        "http:rejected",
        Duration::from_secs(10),
        "failed 3",
        |m| counter(m, "failed") == 3,
    )
    .await;
    assert_eq!(m["retried"], 0);
    assert_eq!(bad.seen.lock().unwrap().len(), 3);
}

/// A request answered 503 is sent again, and only it and those after it:
/// the requests of its batch that were answered are not repeated. Action
/// `once` (`max_retries: 0`) hands the rest of the batch back to its buffer,
/// which sends it again; action `again` (`max_retries: 3`, EMQX's
/// per-request retries) sends the failing request again at once, and its
/// buffer never retries.
#[tokio::test]
async fn a_retried_batch_never_repeats_an_answered_request() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    let tries: std::sync::Arc<Mutex<HashMap<(String, i64), u32>>> = Default::default();
    let tries2 = tries.clone();
    // Each action's 6th output is refused with a 503 three times.
    let (addr, _) = access::http_service(move |v| {
        let key = (
            v["x-token"].as_str().unwrap_or_default().to_string(),
            v["t"].as_i64().unwrap_or(-1),
        );
        let mut tries = tries2.lock().unwrap();
        let n = tries.entry(key.clone()).or_default();
        *n += 1;
        match (key.1, *n) {
            (5, 1..=3) => (503, serde_json::json!({})),
            _ => (200, serde_json::json!({})),
        }
    })
    .await;
    let opts = "{batch_size: 10, batch_time: 1s, worker_pool_size: 1, inflight_window: 1}";
    let actions = format!(
        r#"{{http: {{
        once: {{connector: hook, parameters: {{headers: {{x-token: once}}, max_retries: 0}}, resource_opts: {opts}}},
        again: {{connector: hook, parameters: {{headers: {{x-token: again}}, max_retries: 3}}, resource_opts: {opts}}}}}}}"#
    );
    let b = broker(addr, &actions, r#"["http:once", "http:again"]"#);
    let mut c = V4Client::connect(b.addr(), "pub").await;
    for i in 0..10 {
        c.publish("t/r", format!(r#"{{"t": {i}}}"#).as_bytes(), 1, false)
            .await;
    }
    for id in ["http:once", "http:again"] {
        let m = wait_metrics(
            || b.logs(),
            id,
            Duration::from_secs(20),
            "success 10",
            |m| counter(m, "success") == 10,
        )
        .await;
        assert!(accounted(&m), "{m}");
        assert_eq!(m["failed"], 0, "{id}: {m}");
        if id == "http:again" {
            assert_eq!(
                m["retried"], 0,
                "{id}: retried by the request, not the buffer: {m}"
            );
        } else {
            assert!(m["retried"].as_u64().unwrap() > 0, "{id}: {m}");
        }
    }
    let tries = tries.lock().unwrap().clone();
    for action in ["once", "again"] {
        for t in 0..10 {
            let want = if t == 5 { 4 } else { 1 };
            assert_eq!(
                tries.get(&(action.to_string(), t)),
                Some(&want),
                "requests of {action} for t={t}: {tries:?}"
            );
        }
    }
}

/// `roost start` with `env`: its exit code and stderr (it must not start).
fn start_fails(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = common::broker::unique_data_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
    cmd.arg("start")
        .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
        .env("ROOST__HTTP__BIND", "127.0.0.1:0")
        .env("ROOST__NODE__DATA_DIR", &dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run roost");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_key_or_value_stops_start_up_naming_it() {
    let conn = r#"{http: {hook: {url: "http://127.0.0.1:9/"}}}"#;
    let cases = [
        (
            r#"{http: {a: {connector: hook, parameters: {method: fly}}}}"#,
            "actions.http.a.parameters.method",
        ),
        (
            r#"{http: {a: {connector: hook, parameters: {methd: post}}}}"#,
            "actions.http.a.parameters.methd",
        ),
        (
            r#"{http: {a: {connector: hook, resource_opts: {batch_sise: 10}}}}"#,
            "actions.http.a.resource_opts",
        ),
        (
            r#"{http: {a: {connector: nope}}}"#,
            "actions.http.a.connector",
        ),
        (r#"{htp: {a: {connector: hook}}}"#, "actions.htp"),
    ];
    for (actions, key) in cases {
        let (code, err) = start_fails(&[("ROOST__CONNECTORS", conn), ("ROOST__ACTIONS", actions)]);
        assert_eq!(code, Some(2), "{actions}: {err}");
        assert!(
            err.contains("config error") && err.contains(key),
            "{actions}: want {key} in {err}"
        );
    }
    // Keys EMQX has whose values this client cannot honour are refused,
    // not ignored.
    for (conn, key) in [
        (
            r#"{http: {hook: {url: "ftp://x"}}}"#,
            "connectors.http.hook.url",
        ),
        (
            r#"{http: {hook: {url: "http://h/", pool_type: hash}}}"#,
            "connectors.http.hook.pool_type",
        ),
        (
            r#"{http: {hook: {url: "http://h/", enable_pipelining: 100}}}"#,
            "connectors.http.hook.enable_pipelining",
        ),
        (
            r#"{http: {hook: {url: "https://h/", ssl: {enable: true, versions: [tlsv1.3, tlsv1.1]}}}}"#,
            "connectors.http.hook.ssl.versions",
        ),
    ] {
        let (code, err) = start_fails(&[("ROOST__CONNECTORS", conn)]);
        assert_eq!(code, Some(2), "{conn}: {err}");
        assert!(err.contains(key), "{conn}: want {key} in {err}");
    }
}
