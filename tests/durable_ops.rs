//! The durable store for operators: `GET /api/v5/storage` and `roost ctl
//! storage info` show where it is, its size, what it holds, its sync policy
//! and last sync; `durable_storage.max_size` raises the `storage_size_high`
//! alarm once the store passes 90% of it, and at it new messages for offline
//! durable sessions are dropped and counted (EMQX-like) while connected
//! sessions still get theirs, and the store stays sound across a restart.

#[macro_use]
mod common;
use common::access::ctl_ok;
use common::http::get;
use common::*;

#[tokio::test]
async fn storage_info_through_the_api_and_ctl() {
    let b = Broker::start();
    // One durable session and one retained message in the store.
    let (mut c, _) = RawClient::connect_ok(
        b.addr(),
        persistent_connect(ProtocolVersion::V5, "keep", 600),
    )
    .await;
    c.subscribe("t/#", QoS::AtLeastOnce).await;
    c.publish("r/1", b"x", QoS::AtLeastOnce, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(b.http_addr(), "/api/v5/storage").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v["path"].as_str().unwrap().ends_with("store"), "{v}");
    assert!(v["disk_size"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["sync"], "batch");
    assert!(v["sessions"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["retained_messages"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["syncs"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["last_sync_at"].is_string(), "{v}");
    let out = ctl_ok(&b, &["storage", "info"]);
    for key in [
        "path",
        "disk_size",
        "sessions",
        "retained_messages",
        "sync",
        "last_sync_at",
    ] {
        assert!(out.contains(key), "{key} not in:\n{out}");
    }
    assert!(out.contains("batch"), "{out}");
}

#[tokio::test]
async fn a_store_near_its_max_size_raises_an_alarm() {
    let b = Broker::start_with(&[("ROOST__DURABLE_STORAGE__MAX_SIZE", "1")]);
    let (mut c, _) = RawClient::connect_ok(
        b.addr(),
        persistent_connect(ProtocolVersion::V5, "keep", 600),
    )
    .await;
    c.subscribe("t/#", QoS::AtLeastOnce).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = get(b.http_addr(), "/api/v5/alarms?activated=true").await;
        let names: Vec<String> = r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        if names.iter().any(|n| n == "storage_size_high") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no storage_size_high alarm: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn storage(b: &Broker) -> serde_json::Value {
    let r = get(b.http_addr(), "/api/v5/storage").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn dropped_storage_full(b: &Broker) -> u64 {
    let (status, stats) =
        common::access::api(b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(status, 200, "{stats}");
    stats["delivery.dropped.storage_full"]
        .as_u64()
        .unwrap_or_else(|| panic!("no delivery.dropped.storage_full: {stats}"))
}

#[tokio::test]
async fn a_full_store_drops_new_messages_for_offline_sessions() {
    let dir = common::broker::unique_data_dir();
    let env = [
        ("ROOST__NODE__DATA_DIR", dir.to_str().unwrap()),
        // Any store is past one byte: full from its first write.
        ("ROOST__DURABLE_STORAGE__MAX_SIZE", "1"),
    ];
    let mut b = Broker::start_with(&env);
    let v = ProtocolVersion::V5;
    let (mut off, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "off", 600)).await;
    off.subscribe("full/t", QoS::AtLeastOnce).await;
    off.disconnect().await;
    let (mut on, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "on", 600)).await;
    on.subscribe("full/t", QoS::AtLeastOnce).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while storage(&b).await["full"] != true {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            storage(&b).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut publ = RawClient::connected(b.addr(), v, "full-pub").await;
    for i in 0..5u8 {
        publ.publish("full/t", &[i], QoS::AtLeastOnce, false).await;
    }
    // The connected session gets every message.
    let got = on.recv_messages(5).await;
    assert_eq!(got.len(), 5);
    for p in &got {
        on.ack(p).await;
    }
    // The offline one took none: dropped, counted and logged.
    assert_eq!(dropped_storage_full(&b).await, 5);
    assert!(b.has_log("storage_full"), "no storage_full log line");
    // The store is sound: a restart restores both sessions.
    assert!(b.stop_graceful(Duration::from_secs(20)).is_some());
    let b = Broker::start_with(&env);
    let line = b
        .wait_for_log("sessions_restored", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(line.contains("sessions=2"), "{line}");
    let (mut off, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "off", 600)).await;
    assert!(ack.session_present, "{ack:?}");
    off.recv_none_for(Duration::from_millis(800)).await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
