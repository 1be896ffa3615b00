//! Log trace (`/api/v5/trace` and `roost ctl trace`), black-box: a running
//! broker, real MQTT clients, and the trace's log read back through the API
//! or from the file.

#[macro_use]
mod common;
use common::http::{get, http, ADMIN};
use common::*;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Instant;

async fn post_trace(http_addr: SocketAddr, body: Value) -> common::http::Resp {
    http(
        http_addr,
        "POST",
        "/api/v5/trace",
        Some(ADMIN),
        Some(&body.to_string()),
    )
    .await
}

/// The whole log of trace `name`, through the download endpoint.
async fn log_of(http_addr: SocketAddr, name: &str) -> String {
    let r = get(http_addr, &format!("/api/v5/trace/{name}/download")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Waits until the log of `name` holds `what` (the writer is a task behind a
/// queue: lines land a moment after the packet).
async fn wait_log(http_addr: SocketAddr, name: &str, what: &str) -> String {
    let deadline = Instant::now() + RECV_TIMEOUT;
    loop {
        let log = log_of(http_addr, name).await;
        if log.contains(what) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{what:?} never in the log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn trace_named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no trace {name} in {list}"))
}

#[tokio::test]
async fn a_client_trace_writes_that_clients_packets_and_events_only() {
    let b = Broker::start();
    let h = b.http_addr();
    let r = post_trace(
        h,
        json!({"name": "t1", "type": "clientid", "clientid": "traced"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "running");

    let mut c = V5Client::connect(b.addr(), "traced").await;
    c.subscribe("t/#", 1).await;
    let mut other = V5Client::connect(b.addr(), "bystander").await;
    other.subscribe("elsewhere", 0).await;
    other.publish("t/from-other", b"x", 0, false).await;
    c.publish("t/a", b"hello", 1, false).await;
    c.recv_publishes(2).await;
    c.disconnect().await;

    let log = wait_log(h, "t1", "client_disconnected").await;
    for line in [
        "[MQTT] traced@127.0.0.1:",
        "mqtt_packet_received, packet: CONNECT(ClientId=traced, ProtoVer=5",
        "mqtt_packet_sent, packet: CONNACK(SessionPresent=0, ReasonCode=0x00)",
        "packet: SUBSCRIBE(PacketId=1, TopicFilters=[t/#(Q1)])",
        "msg: subscribe, topic: t/#, qos: 1",
        "packet: SUBACK(PacketId=1, ReasonCodes=[0x01])",
        "packet: PUBLISH_IN(Q1, R0, D0, Topic=t/a, PacketId=",
        "Payload=hello)",
        "packet: PUBLISH_OUT(Q1, R0, D0, Topic=t/a,",
        "packet: PUBLISH_OUT(Q0, R0, D0, Topic=t/from-other,",
        // The client's ack of its delivery, and the broker's of its publish.
        "mqtt_packet_received, packet: PUBACK(PacketId=1, ReasonCode=0x00)",
        "mqtt_packet_sent, packet: PUBACK(PacketId=",
        "packet: DISCONNECT(ReasonCode=0x00)",
        "msg: client_connected",
        "msg: client_disconnected, reason: normal",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
    // The bystander's own packets are not this trace's.
    assert!(!log.contains("bystander"), "{log}");
    assert!(!log.contains("Topic=elsewhere"), "{log}");
    // Every line is time-stamped (RFC 3339, microseconds).
    for l in log.lines() {
        let stamp = l.split(' ').next().unwrap();
        assert!(humantime::parse_rfc3339(stamp).is_ok(), "{l}");
    }
}

#[tokio::test]
async fn a_topic_trace_writes_only_matching_publishes_and_deliveries() {
    let b = Broker::start();
    let h = b.http_addr();
    let body = json!({"name": "temps", "type": "topic", "topic": "sensors/+/temp",
                      "payload_encode": "hex"});
    assert_eq!(post_trace(h, body).await.status, 200);

    let mut sub = V5Client::connect(b.addr(), "sub").await;
    sub.subscribe("sensors/#", 0).await;
    let mut publisher = V5Client::connect(b.addr(), "pub").await;
    publisher.publish("sensors/1/hum", b"40", 0, false).await;
    publisher.publish("sensors/1/temp", b"21", 0, false).await;
    sub.recv_publishes(2).await;

    let log = wait_log(h, "temps", "PUBLISH_OUT").await;
    assert!(
        log.contains("[PUBLISH] pub msg: publish_to, topic: sensors/1/temp, qos: 0, retain: false, payload: 3231"),
        "{log}"
    );
    assert!(
        log.contains("sub@127.0.0.1:")
            && log.contains(
                "PUBLISH_OUT(Q0, R0, D0, Topic=sensors/1/temp, PacketId=0, Payload=3231)"
            ),
        "{log}"
    );
    assert!(!log.contains("sensors/1/hum"), "{log}");
    assert!(!log.contains("CONNECT("), "{log}");
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[tokio::test]
async fn stop_ends_writing_list_shows_status_and_the_log_pages() {
    let b = Broker::start();
    let h = b.http_addr();
    let later =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(3600));
    let body = json!({"name": "later", "type": "ip_address", "ip_address": "127.0.0.1",
                      "start_at": later.to_string()});
    assert_eq!(post_trace(h, body).await.status, 200);
    let body = json!({"name": "s1", "type": "clientid", "clientid": "s1"});
    assert_eq!(post_trace(h, body).await.status, 200);
    // The same name, or the same filter, again: 409.
    let again = post_trace(
        h,
        json!({"name": "s1", "type": "clientid", "clientid": "x"}),
    )
    .await;
    assert_eq!(
        (again.status, again.json()["code"].clone()),
        (409, json!("ALREADY_EXISTS"))
    );
    let same = post_trace(
        h,
        json!({"name": "s2", "type": "clientid", "clientid": "s1"}),
    )
    .await;
    assert_eq!(same.status, 409, "{}", same.body);
    let bad = post_trace(h, json!({"name": "s3", "type": "rule", "clientid": "s1"})).await;
    assert_eq!(
        (bad.status, bad.json()["code"].clone()),
        (400, json!("BAD_REQUEST"))
    );

    let mut c = V5Client::connect(b.addr(), "s1").await;
    c.publish("a", b"before-stop", 1, false).await;
    wait_log(h, "s1", "before-stop").await;

    let list = get(h, "/api/v5/trace").await.json();
    assert_eq!(trace_named(&list, "later")["status"], "waiting");
    let s1 = trace_named(&list, "s1");
    assert_eq!(s1["status"], "running");
    assert_eq!(s1["type"], "clientid");
    assert_eq!(s1["clientid"], "s1");
    assert!(
        s1["log_size"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_u64()
            .unwrap()
            > 0
    );

    let r = http(h, "PUT", "/api/v5/trace/s1/stop", Some(ADMIN), None).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("stopped"))
    );
    c.publish("a", b"after-stop", 1, false).await;
    c.disconnect().await;
    tokio::time::sleep(QUIET).await;
    let log = log_of(h, "s1").await;
    assert!(!log.contains("after-stop"), "{log}");
    let list = get(h, "/api/v5/trace").await.json();
    assert_eq!(trace_named(&list, "s1")["status"], "stopped");

    // Pages: position and bytes, as EMQX's.
    let p1 = get(h, "/api/v5/trace/s1/log?position=0&bytes=10")
        .await
        .json();
    assert_eq!(p1["items"].as_str().unwrap(), &log[..10]);
    assert_eq!(
        (p1["meta"]["position"].clone(), p1["meta"]["bytes"].clone()),
        (json!(10), json!(10))
    );
    let p2 = get(h, "/api/v5/trace/s1/log?position=10&bytes=1000000")
        .await
        .json();
    assert_eq!(p2["items"].as_str().unwrap(), &log[10..]);
    assert_eq!(p2["meta"]["position"], json!(log.len()));
    let end = get(h, &format!("/api/v5/trace/s1/log?position={}", log.len()))
        .await
        .json();
    assert_eq!(
        (end["items"].clone(), end["meta"]["bytes"].clone()),
        (json!(""), json!(0))
    );

    let r = http(h, "DELETE", "/api/v5/trace/s1", Some(ADMIN), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(get(h, "/api/v5/trace/s1/log").await.status, 404);
    let r = http(h, "DELETE", "/api/v5/trace", Some(ADMIN), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(get(h, "/api/v5/trace").await.json(), json!([]));
}

#[tokio::test]
async fn ctl_trace_start_writes_the_file_and_stop_ends_it() {
    let b = Broker::start();
    let url = format!("http://{}", b.http_addr());
    let file = std::env::temp_dir().join(format!("roost-ctl-trace-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();

    let out = roost_ctl(&["--url", &url, "trace", "start", "client", "ctl-dev", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "trace clientid ctl-dev successfully\n"
    );

    let mut c = V5Client::connect(b.addr(), "ctl-dev").await;
    c.publish("x/y", b"via-ctl", 0, false).await;
    let deadline = Instant::now() + RECV_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("PUBLISH_IN(Q0, R0, D0, Topic=x/y, PacketId=0, Payload=via-ctl)") {
            assert!(text.contains("CONNECT(ClientId=ctl-dev"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the file never got the PUBLISH:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let out = roost_ctl(&["--url", &url, "trace", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("Trace(clientid=ctl-dev, ")
            && list.contains("status=running")
            && list.contains(path),
        "{list}"
    );

    let out = roost_ctl(&["--url", &url, "trace", "stop", "client", "ctl-dev"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "stop tracing clientid ctl-dev successfully\n"
    );
    let size = std::fs::metadata(&file).unwrap().len();
    c.publish("x/y", b"after", 0, false).await;
    c.disconnect().await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        size,
        "written after stop"
    );

    // A file that exists is never written over.
    let out = roost_ctl(&["--url", &url, "trace", "start", "topic", "#", path]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);

    let out = roost_ctl(&["--url", &url, "trace", "stop", "client", "ctl-dev"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Not Found."));
    let out = roost_ctl(&["--url", &url, "trace", "list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_trace_starts_and_ends_on_time() {
    let b = Broker::start();
    let h = b.http_addr();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Unix seconds, as EMQX also takes them.
    let body = json!({"name": "soon", "type": "clientid", "clientid": "soon",
                      "start_at": now + 1, "end_at": now + 3});
    let r = post_trace(h, body).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("waiting")),
        "{}",
        r.body
    );
    for want in ["running", "stopped"] {
        let deadline = Instant::now() + RECV_TIMEOUT;
        loop {
            let list = get(h, "/api/v5/trace").await.json();
            if trace_named(&list, "soon")["status"] == want {
                break;
            }
            assert!(Instant::now() < deadline, "never {want}: {list}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if want == "running" {
            let _c = V5Client::connect(b.addr(), "soon").await;
            wait_log(h, "soon", "client_connected").await;
        }
    }
}
