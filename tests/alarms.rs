//! Alarms (issue 14), black-box: raised and cleared by the broker's own
//! checks (connections near a listener's `max_connections`, a session queue
//! dropping, memory above its watermark), listed by `/api/v5/alarms` (paged,
//! `activated=true|false`), the history cleared by `DELETE /api/v5/alarms`,
//! and each change published on `$SYS/brokers/<node>/alarms/activate` and
//! `deactivate`.

#[macro_use]
mod common;
use common::access::api;
use common::*;
use serde_json::Value;
use std::time::Instant;

/// The names of the alarms `GET /api/v5/alarms?activated=...` lists.
async fn names(b: &Broker, activated: bool) -> Vec<String> {
    let (status, v) = api(
        b,
        "GET",
        &format!("/api/v5/alarms?activated={activated}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_for(b: &Broker, what: &str, pred: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = b;
}

/// The next alarm event on the watcher's `$SYS/brokers/+/alarms/#`.
async fn alarm_event(w: &mut RawClient) -> (String, Value) {
    let p = w.recv_message().await;
    let event = p.topic.rsplit('/').next().unwrap().to_string();
    (event, serde_json::from_slice(&p.payload).unwrap())
}

const NAME: &str = "too_many_connections/tcp";

#[tokio::test]
async fn connections_near_max_connections_raise_and_clear_an_alarm() {
    let b = Broker::start_with(&[
        ("ROOST__LISTENERS__TCP__MAX_CONNECTIONS", "10"),
        ("ROOST__ALARM__CHECK_INTERVAL", "100ms"),
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "0s"),
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
        ("ROOST__NODE__NAME", "roost@alarms"),
    ]);
    let mut watcher = RawClient::connected(b.addr(), ProtocolVersion::V5, "watcher").await;
    watcher
        .subscribe("$SYS/brokers/+/alarms/#", QoS::AtMostOnce)
        .await;
    let mut clients = Vec::new();
    for i in 0..7 {
        clients.push(RawClient::connected(b.addr(), ProtocolVersion::V5, &format!("c{i}")).await);
    }
    // 8 of 10 (the watcher and 7 clients): below the line.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!names(&b, true).await.contains(&NAME.to_string()));
    clients.push(RawClient::connected(b.addr(), ProtocolVersion::V5, "c7").await);
    // 9 of 10: raised.
    wait_for(&b, "the alarm is raised", async || {
        names(&b, true).await.contains(&NAME.to_string())
    })
    .await;
    let (status, v) = api(&b, "GET", "/api/v5/alarms?activated=true", None).await;
    assert_eq!(status, 200);
    let a = &v["data"][0];
    assert_eq!(a["name"], NAME, "{v}");
    assert_eq!(a["node"], "roost@alarms", "{v}");
    assert_eq!(a["activated"], true, "{v}");
    assert_eq!(a["details"]["connections"], 9, "{v}");
    assert_eq!(a["details"]["max_connections"], 10, "{v}");
    assert_eq!(a["deactivate_at"], "infinity", "{v}");
    assert!(
        humantime::parse_rfc3339(a["activate_at"].as_str().unwrap()).is_ok(),
        "{v}"
    );
    assert_eq!(v["meta"]["count"], 1, "{v}");
    let (event, alarm) = alarm_event(&mut watcher).await;
    assert_eq!(
        (event.as_str(), &alarm["name"]),
        ("activate", &Value::from(NAME))
    );
    assert!(alarm["message"]
        .as_str()
        .unwrap()
        .contains("max_connections"));

    // 8 of 10 (the watcher and 7 clients): not below 80%, still active.
    clients.truncate(7);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(names(&b, true).await.contains(&NAME.to_string()));
    // 7 of 10: below 80%, cleared.
    clients.truncate(6);
    wait_for(&b, "the alarm is cleared", async || {
        names(&b, false).await.contains(&NAME.to_string())
    })
    .await;
    assert!(!names(&b, true).await.contains(&NAME.to_string()));
    let (event, alarm) = alarm_event(&mut watcher).await;
    assert_eq!(
        (event.as_str(), &alarm["name"]),
        ("deactivate", &Value::from(NAME))
    );
    assert_eq!(alarm["activated"], false);
    let (_, v) = api(&b, "GET", "/api/v5/alarms?activated=false", None).await;
    assert!(
        v["data"][0]["deactivate_at"].as_str().unwrap() != "infinity",
        "{v}"
    );

    // The history is cleared; an active alarm would stay.
    let (status, _) = api(&b, "DELETE", "/api/v5/alarms", None).await;
    assert_eq!(status, 204);
    assert!(names(&b, false).await.is_empty());
}

#[tokio::test]
async fn a_session_queue_dropping_raises_an_alarm_until_it_is_quiet() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "5"),
        ("ROOST__ALARM__CHECK_INTERVAL", "300ms"),
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "0s"),
    ]);
    let v = ProtocolVersion::V5;
    let (mut s, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "slow", 60)).await;
    s.subscribe("q/#", QoS::AtLeastOnce).await;
    s.disconnect().await;
    let mut p = RawClient::connected(b.addr(), v, "fast").await;
    for i in 0..20 {
        p.publish(&format!("q/{i}"), b"x", QoS::AtLeastOnce, false)
            .await;
    }
    wait_for(&b, "message_queue_full is raised", async || {
        names(&b, true)
            .await
            .contains(&"message_queue_full".to_string())
    })
    .await;
    // No more drops: cleared at a later check.
    wait_for(&b, "message_queue_full is cleared", async || {
        names(&b, false)
            .await
            .contains(&"message_queue_full".to_string())
    })
    .await;
    // The alarm's details are what the check that raised it saw: a check may
    // fall in the middle of the 20 publishes, so they hold at least one drop;
    // the counter holds all 15 (20 into a queue of 5).
    let (_, v) = api(&b, "GET", "/api/v5/alarms?activated=false", None).await;
    let seen = v["data"][0]["details"]["dropped_total"].as_u64().unwrap();
    assert!((1..=15).contains(&seen), "{v}");
    let (_, m) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(m["delivery.dropped.queue_full"], 15, "{m}");
}

#[tokio::test]
async fn memory_above_its_watermark_raises_an_alarm_and_the_listing_pages() {
    let b = Broker::start_with(&[
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "100ms"),
        ("ROOST__SYSMON__OS__SYSMEM_HIGH_WATERMARK", "0%"),
        ("ROOST__SYSMON__OS__PROCMEM_HIGH_WATERMARK", "0%"),
    ]);
    wait_for(&b, "both memory alarms are raised", async || {
        names(&b, true).await.len() == 2
    })
    .await;
    let mut all = names(&b, true).await;
    all.sort();
    assert_eq!(
        all,
        ["high_process_memory_usage", "high_system_memory_usage"]
    );
    let (_, v) = api(
        &b,
        "GET",
        "/api/v5/alarms?activated=true&page=2&limit=1",
        None,
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["meta"]["count"], 2, "{v}");
    assert_eq!(v["meta"]["page"], 2, "{v}");
    assert_eq!(v["meta"]["hasnext"], false, "{v}");
    // Active alarms survive DELETE (it clears the history only).
    let (status, _) = api(&b, "DELETE", "/api/v5/alarms", None).await;
    assert_eq!(status, 204);
    assert_eq!(names(&b, true).await.len(), 2);
}

#[tokio::test]
async fn a_bad_watermark_stops_start_up_naming_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["check-config"])
        .env("ROOST__SYSMON__OS__SYSMEM_HIGH_WATERMARK", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sysmon.os.sysmem_high_watermark"), "{err}");
}
