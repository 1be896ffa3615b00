//! Overload protection (issue 19; EMQX's `overload_protection`), black-box:
//! with a memory watermark the broker is always above, or while its runtime
//! has more ready tasks than it can run (`scheduler_delay_watermark`), new
//! connections are refused with CONNACK 0x89 Server busy (3.1.1: 0x03 Server
//! unavailable), the `overloaded` alarm is listed by `/api/v5/alarms`, and a
//! client that was connected before stays connected. A scheduler overload
//! ends with the load, and new clients are accepted again.

#[macro_use]
mod common;
use common::access::api;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

async fn active_alarms(b: &Broker) -> Vec<String> {
    active_alarm_details(b)
        .await
        .into_iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

async fn active_alarm_details(b: &Broker) -> Vec<serde_json::Value> {
    let (status, v) = api(b, "GET", "/api/v5/alarms?activated=true", None).await;
    assert_eq!(status, 200, "{v}");
    v["data"].as_array().unwrap().clone()
}

/// Load that keeps the broker's runtime busy: `subscribers` clients on
/// `load/#` that read everything, and `publishers` clients that write QoS 0
/// PUBLISHes to `load/x` in batches of 50, as fast as the broker takes them. Each publish is
/// one delivery per subscriber (a session and a connection task each), so
/// far more tasks are ready than the broker's worker threads can run.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(addr: std::net::SocketAddr, subscribers: usize, publishers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for i in 0..subscribers {
            let mut c =
                RawClient::connected(addr, ProtocolVersion::V5, &format!("load-sub-{i}")).await;
            c.subscribe("load/#", QoS::AtMostOnce).await;
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if c.recv_raw().await.is_none() {
                        return;
                    }
                }
            }));
        }
        let mut batch = bytes::BytesMut::new();
        for _ in 0..50 {
            let p = publish_packet("load/x", &[b'x'; 64], QoS::AtMostOnce, false);
            roost_protocol::encode(&Packet::Publish(p), ProtocolVersion::V5, &mut batch).unwrap();
        }
        // All connected before any publishes (an overloaded broker refuses
        // new clients).
        let mut pubs = Vec::new();
        for i in 0..publishers {
            pubs.push(
                RawClient::connected(addr, ProtocolVersion::V5, &format!("load-pub-{i}")).await,
            );
        }
        for mut c in pubs {
            let stop = stop.clone();
            let batch = batch.clone();
            tasks.push(tokio::spawn(async move {
                // A PINGREQ after each batch, answered once the batch is
                // handled: the backlog stays one batch per publisher, so it
                // is gone soon after the load stops.
                while !stop.load(Ordering::Relaxed) {
                    c.send_bytes(&batch).await;
                    c.ping().await;
                }
            }));
        }
        Load { stop, tasks }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Waits until `/api/v5/alarms` lists `overloaded` as active (`true`) or not.
async fn wait_overloaded(b: &Broker, active: bool, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while active_alarms(b).await.iter().any(|a| a == "overloaded") != active {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// The scheduler half of overload protection: a flood fanned out to many
/// subscribers keeps more tasks ready than the worker threads run, so the
/// scheduler probe runs late past `scheduler_delay_watermark`; new clients
/// are refused (0x89) while it lasts, a client connected before stays, and
/// once the load stops the alarm clears and new clients are accepted. The
/// memory half is kept out of it (a watermark of 100%).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_backlog_refuses_new_connections_until_it_clears() {
    let b = Broker::start_with(&[
        ("ROOST__OVERLOAD_PROTECTION__ENABLE", "true"),
        (
            "ROOST__OVERLOAD_PROTECTION__SCHEDULER_DELAY_WATERMARK",
            "20ms",
        ),
        ("ROOST__SYSMON__OS__PROCMEM_HIGH_WATERMARK", "100%"),
        ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "1s"),
    ]);
    let (mut early, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "early")).await;
    // Idle: not overloaded (ten probes in a row on time are a second).
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_overloaded(
        &b,
        false,
        Duration::from_secs(30),
        "an idle broker stays overloaded",
    )
    .await;
    RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "idle")).await;

    let load = Load::start(b.addr(), 200, 4).await;
    wait_overloaded(
        &b,
        true,
        Duration::from_secs(60),
        "the load never overloads the scheduler",
    )
    .await;
    let alarm = active_alarm_details(&b)
        .await
        .into_iter()
        .find(|a| a["name"] == "overloaded")
        .expect("the overloaded alarm");
    eprintln!("overloaded under load: {alarm}");
    assert_eq!(alarm["details"]["reason"], "scheduler_backlog", "{alarm}");
    // While the load goes on, new clients are refused (the alarm may blink
    // off between two probes of a bursty load: a few tries).
    let mut refused = false;
    for i in 0..20 {
        let (_c, ack) = RawClient::connect(
            b.addr(),
            connect_packet(ProtocolVersion::V5, &format!("late{i}")),
        )
        .await;
        if ack.reason_code == ReasonCode::ServerBusy {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refused, "no new client was refused while overloaded");
    assert!(b
        .wait_for_log("connect_refused_overloaded", Duration::from_secs(5))
        .await
        .is_some());

    load.stop().await;
    wait_overloaded(
        &b,
        false,
        Duration::from_secs(60),
        "the overload never clears",
    )
    .await;
    assert!(b
        .wait_for_log("alarm_deactivated", Duration::from_secs(5))
        .await
        .is_some());
    RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "after")).await;
    early.ping().await;
}
