//! The durable store for operators: `GET /api/v5/storage` and `roost ctl
//! storage info` show where it is, its size, what it holds, its sync policy
//! and last sync; `durable_storage.max_size` raises the `storage_size_high`
//! alarm once the store passes 90% of it.

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
