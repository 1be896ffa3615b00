//! Overload protection (issue 19; EMQX's `overload_protection`), black-box:
//! with a memory watermark the broker is always above, new connections are
//! refused with CONNACK 0x89 Server busy (3.1.1: 0x03 Server unavailable),
//! the `overloaded` alarm is listed by `/api/v5/alarms`, and a client that
//! was connected before stays connected.

#[macro_use]
mod common;
use common::access::api;
use common::*;
use std::time::Instant;

async fn active_alarms(b: &Broker) -> Vec<String> {
    let (status, v) = api(b, "GET", "/api/v5/alarms?activated=true", None).await;
    assert_eq!(status, 200, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_overloaded_broker_refuses_new_connections_and_raises_an_alarm() {
    let b = Broker::start_with(&[
        ("ROOST__OVERLOAD_PROTECTION__ENABLE", "true"),
        // Any resident memory is above 0% of the machine's.
        ("ROOST__SYSMON__OS__PROCMEM_HIGH_WATERMARK", "0%"),
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "1s"),
    ]);
    // Connected before the first memory check: it stays.
    let (mut early, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "early")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !active_alarms(&b).await.iter().any(|a| a == "overloaded") {
        assert!(
            Instant::now() < deadline,
            "the overloaded alarm is never raised"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_c, ack) =
        RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "late5")).await;
    assert_eq!(
        ack.reason_code,
        ReasonCode::ServerBusy,
        "5.0: 0x89 Server busy"
    );
    let mut c = RawClient::open(b.addr(), ProtocolVersion::V3_1_1).await;
    c.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V3_1_1,
        "late3",
    )))
    .await;
    c.expect_connack().await;
    assert_eq!(
        connack_code_byte(&c.last_frame()),
        0x03,
        "3.1.1: 0x03 Server unavailable"
    );
    assert!(b.has_log("connect_refused_overloaded"));
    early.ping().await;
}

#[tokio::test]
async fn without_overload_protection_the_same_memory_refuses_nobody() {
    let b = Broker::start_with(&[
        ("ROOST__SYSMON__OS__PROCMEM_HIGH_WATERMARK", "0%"),
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "1s"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !active_alarms(&b)
        .await
        .iter()
        .any(|a| a == "high_process_memory_usage")
    {
        assert!(
            Instant::now() < deadline,
            "the memory alarm is never raised"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!active_alarms(&b).await.iter().any(|a| a == "overloaded"));
    RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "c")).await;
}
