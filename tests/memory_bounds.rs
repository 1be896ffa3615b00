//! Memory bounds under floods (issue 19), black-box: a subscriber that stops
//! reading while a QoS 0 publisher floods it (`force_shutdown`, either
//! policy), a session queue bounded in bytes (`mqtt.max_mqueue_bytes`), CONNECTs that trickle in (`mqtt.max_connect_packet_size`, the
//! CONNECT deadline counted from the accept, the broker-wide
//! `mqtt.max_pre_connect_bytes`), and the total of retained
//! messages (`retainer.max_retained_bytes`, `max_retained_messages`). The
//! broker's resident memory is read from `/proc/<pid>/status`, and every
//! message is accounted for in `/api/v5/metrics`.
//!
//! The durations and counts here are kept small for CI; the figures of the
//! issue (60 s of flood, 2,000 trickling CONNECTs) are reached with
//! `ROOST_FLOOD_SECS=60` and `ROOST_TRICKLE_CONNS=2000` (see
//! docs/security.md, "Memory bounds and rate limits").

#[macro_use]
mod common;
use common::access::api;
use common::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// No `$SYS` message: every message counted is the test's.
const QUIET_SYS: [(&str, &str); 6] = [
    // No alarm either: an alarm's `$SYS` message reaches nobody and would be
    // counted as a dropped message the test did not publish.
    ("ROOST__ALARM__CHECK_INTERVAL", "0s"),
    ("ROOST__SYSMON__OS__MEM_CHECK_INTERVAL", "0s"),
    ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
    ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "0s"),
    (
        "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED",
        "false",
    ),
    (
        "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_DISCONNECTED",
        "false",
    ),
];

/// The broker's resident memory in bytes (Linux).
fn rss(b: &Broker) -> u64 {
    rss_of(b.pid())
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kb * 1024
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The broker's counters.
async fn metrics(b: &Broker) -> serde_json::Value {
    let (status, m) = api(b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(status, 200, "{m}");
    m
}

fn count(m: &serde_json::Value, name: &str) -> u64 {
    m[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {m}"))
}

/// The bound the flood tests hold the broker's RSS to: far above what a
/// bounded broker uses (tens of MB), far below what the unbounded one reached
/// (10.9 GB in 60 s, a few hundred MB per second).
const FLOOD_RSS_BOUND: u64 = 300 << 20;

/// One QoS 0 publisher floods `flood/1` for `secs` seconds (1 KB payloads,
/// written as fast as the socket takes them) while a subscriber that never
/// reads its socket is subscribed; the broker's RSS is sampled every 250 ms.
/// Returns the publishes written and the highest RSS seen.
async fn flood_a_non_reading_subscriber(b: &Broker, secs: u64) -> (u64, u64) {
    let (mut sub, _) = RawClient::connect_ok(
        b.addr(),
        connect_packet(ProtocolVersion::V3_1_1, "stuck-sub"),
    )
    .await;
    sub.subscribe("flood/#", QoS::AtMostOnce).await;
    // From here on the subscriber reads nothing.
    let (mut publisher, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V3_1_1, "flooder")).await;
    let frame = {
        let p = publish_packet("flood/1", &[b'x'; 1024], QoS::AtMostOnce, false);
        let mut buf = bytes::BytesMut::new();
        roost_protocol::encode(&Packet::Publish(p), ProtocolVersion::V3_1_1, &mut buf).unwrap();
        buf.freeze()
    };
    const PER_WRITE: u64 = 64;
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * PER_WRITE as usize)
        .collect();
    // RSS sampled every 250 ms beside the flood (a write may wait meanwhile).
    let pid = b.pid();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_of(pid));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            peak
        })
    };
    let start = Instant::now();
    let mut written = 0u64;
    let flood = async {
        while start.elapsed() < Duration::from_secs(secs) {
            publisher.send_bytes(&chunk).await;
            written += PER_WRITE;
        }
    };
    tokio::time::timeout(Duration::from_secs(secs + 30), flood)
        .await
        .expect("the broker stopped reading the publisher");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap().max(rss(b));
    assert!(
        peak < FLOOD_RSS_BOUND,
        "peak RSS {} MB during {secs} s of flood (bound {} MB)",
        peak >> 20,
        FLOOD_RSS_BOUND >> 20
    );
    publisher.disconnect().await;
    drop(sub);
    (written, peak)
}

/// Waits until the broker has read every publish written, then checks that
/// each is accounted for: delivered, or dropped with a reason.
async fn assert_every_message_counted(b: &Broker, written: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = metrics(b).await;
        let received = count(&m, "messages.received");
        let delivered = count(&m, "messages.delivered");
        let dropped = count(&m, "delivery.dropped") + count(&m, "messages.dropped");
        if received == written && received == delivered + dropped {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "written {written}, received {received}, delivered {delivered} + dropped {dropped} \
             (= {}): queue_full {}, no_session {}, no_subscribers {}, qos0_msg {}",
            delivered + dropped,
            count(&m, "delivery.dropped.queue_full"),
            count(&m, "delivery.dropped.no_session"),
            count(&m, "messages.dropped.no_subscribers"),
            count(&m, "delivery.dropped.qos0_msg"),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `force_shutdown.enable: true` (the default, EMQX's): the subscriber whose
/// backlog passes `max_mailbox_size` is disconnected, the messages it never
/// got are counted as dropped (queue_full, then no_subscribers once its
/// session has ended), and the broker stays small.
#[tokio::test]
async fn a_flood_to_a_non_reading_subscriber_shuts_it_down_and_counts_everything() {
    let b = Broker::start_with(&QUIET_SYS);
    let secs = env_or("ROOST_FLOOD_SECS", 15);
    let (written, peak) = flood_a_non_reading_subscriber(&b, secs).await;
    let m = assert_every_message_counted(&b, written).await;
    eprintln!(
        "flood, force_shutdown on: {written} publishes in {secs} s, peak RSS {} MB, \
         delivered {}, queue_full {}, no_subscribers {}",
        peak >> 20,
        count(&m, "messages.delivered"),
        count(&m, "delivery.dropped.queue_full"),
        count(&m, "messages.dropped.no_subscribers"),
    );
    assert!(b.has_log("force_shutdown"), "the shutdown is logged");
    assert!(
        count(&m, "messages.dropped.no_subscribers") > 0,
        "the subscriber was disconnected (its clean session ended): {m}"
    );
}

/// `force_shutdown.enable: false`: the subscriber stays connected, and the
/// QoS 0 messages past its connection's bound are dropped and counted
/// (`delivery.dropped.queue_full`).
#[tokio::test]
async fn without_force_shutdown_a_flood_drops_and_counts_past_the_bound() {
    let mut env = QUIET_SYS.to_vec();
    env.push(("ROOST__FORCE_SHUTDOWN__ENABLE", "false"));
    // The publisher is never held back by the subscriber's session.
    env.push(("ROOST__MQTT__BACKPRESSURE", "false"));
    let b = Broker::start_with(&env);
    let secs = env_or("ROOST_FLOOD_SECS", 15);
    let (written, peak) = flood_a_non_reading_subscriber(&b, secs).await;
    let m = assert_every_message_counted(&b, written).await;
    eprintln!(
        "flood, force_shutdown off: {written} publishes in {secs} s, peak RSS {} MB, \
         delivered {}, queue_full {}",
        peak >> 20,
        count(&m, "messages.delivered"),
        count(&m, "delivery.dropped.queue_full"),
    );
    assert!(
        count(&m, "delivery.dropped.queue_full") > 0,
        "messages past the bound were dropped and counted: {m}"
    );
    assert!(!b.has_log("force_shutdown"), "not shut down");
}

/// The first bytes of a CONNECT that declares `len` bytes of remaining length
/// (3.1.1, a client id that would take up the rest).
fn connect_head(len: usize) -> Vec<u8> {
    let mut v = vec![0x10];
    let mut x = len;
    loop {
        let mut byte = (x % 128) as u8;
        x /= 128;
        if x > 0 {
            byte |= 0x80;
        }
        v.push(byte);
        if x == 0 {
            break;
        }
    }
    v.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60]);
    let id_len = (len - 12).min(0xFFFF) as u16;
    v.extend_from_slice(&id_len.to_be_bytes());
    v
}

/// Waits up to `within` for the broker to close `s` (EOF or reset).
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Partial CONNECTs that go on trickling one byte a second are closed once
/// `mqtt.idle_timeout` has passed since their accept (the deadline does not
/// restart on every byte), and what they make the broker hold is bounded.
#[tokio::test]
async fn trickling_connects_are_closed_at_the_deadline_from_accept() {
    let b = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "3s")]);
    let conns = env_or("ROOST_TRICKLE_CONNS", 300) as usize;
    let before = rss(&b);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let addr = b.addr();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            // 100 KB of a CONNECT of 120 KB (under max_connect_packet_size).
            let mut first = connect_head(120 * 1024);
            first.resize(100 * 1024, b'a');
            let _ = s.write_all(&first).await;
            // Then a byte a second: each would have restarted a per-read timeout.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
            loop {
                if closed_within(&mut s, Duration::from_secs(1)).await {
                    return true;
                }
                if tokio::time::Instant::now() >= deadline {
                    return false;
                }
                let _ = s.write_all(b"a").await;
            }
        }));
    }
    let mut peak = 0;
    while !tasks.iter().all(|t| t.is_finished()) {
        peak = peak.max(rss(&b));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut closed = 0;
    for t in tasks {
        closed += usize::from(t.await.unwrap());
    }
    eprintln!(
        "{conns} trickling CONNECTs: {closed} closed in {:?}; RSS {} MB before, peak {} MB",
        started.elapsed(),
        before >> 20,
        peak >> 20
    );
    assert_eq!(
        closed, conns,
        "every trickling CONNECT is closed by its deadline"
    );
    // Each may hold its partial CONNECT (100 KB, in a buffer of up to twice
    // that): 300 x 200 KB = 60 MB at most above the start.
    let bound = before + (conns as u64) * 200 * 1024 + (64 << 20);
    assert!(
        peak < bound,
        "peak RSS {} MB, bound {} MB",
        peak >> 20,
        bound >> 20
    );
}

/// A CONNECT larger than `mqtt.max_connect_packet_size` is refused as soon as
/// its fixed header is read, before its body is buffered; a smaller one in
/// the same connection state is still accepted.
#[tokio::test]
async fn a_connect_larger_than_max_connect_packet_size_is_refused_at_its_header() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_CONNECT_PACKET_SIZE", "4096")]);
    let mut s = tokio::net::TcpStream::connect(b.addr()).await.unwrap();
    s.write_all(&connect_head(8192)).await.unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(3)).await,
        "a CONNECT declaring 8 KB (limit 4 KB) closes the connection"
    );
    // An ordinary CONNECT fits.
    let (_c, ack) =
        RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "small")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    // After CONNECT, max_packet_size applies (a 10 KB PUBLISH goes through).
    let (mut sub, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "s")).await;
    sub.subscribe("big", QoS::AtMostOnce).await;
    let (mut p, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "p")).await;
    p.publish("big", &[7u8; 10 * 1024], QoS::AtMostOnce, false)
        .await;
    assert_eq!(sub.recv_message().await.payload.len(), 10 * 1024);
}

/// The partial CONNECTs of all connections together are bounded by
/// `mqtt.max_pre_connect_bytes`: with a budget of 1 MB, 40 connections each
/// sending 100 KB of a 120 KB CONNECT (and nothing more) leave at most ten
/// holding their bytes; the others are closed at once, long before the
/// CONNECT deadline, and counted in `client.pre_connect_refused`. A CONNECT
/// that arrives whole still connects while the budget is spent, and once the
/// held connections go, a partial CONNECT is held again.
#[tokio::test]
async fn partial_connects_past_the_broker_wide_budget_are_closed_and_counted() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_PRE_CONNECT_BYTES", "1MB"),
        // The deadline is far: closing within seconds is the budget's doing.
        ("ROOST__MQTT__IDLE_TIMEOUT", "60s"),
    ]);
    let partial = || {
        let mut first = connect_head(120 * 1024);
        first.resize(100 * 1024, b'a');
        first
    };
    let mut conns = Vec::new();
    for _ in 0..40 {
        let mut s = tokio::net::TcpStream::connect(b.addr()).await.unwrap();
        let _ = s.write_all(&partial()).await;
        conns.push(s);
    }
    let mut tasks = Vec::new();
    for mut s in conns {
        tasks.push(tokio::spawn(async move {
            let closed = closed_within(&mut s, Duration::from_secs(5)).await;
            (closed, s)
        }));
    }
    let mut held = Vec::new();
    let mut closed = 0;
    for t in tasks {
        match t.await.unwrap() {
            (true, _) => closed += 1,
            (false, s) => held.push(s),
        }
    }
    eprintln!(
        "40 partial CONNECTs of 100 KB, budget 1 MB: {} held, {closed} closed",
        held.len()
    );
    // 1 MB holds ten 100 KB partial CONNECTs (fewer if several were caught
    // half read when the budget ran out).
    assert!(held.len() <= 10, "{} partial CONNECTs held", held.len());
    assert!(
        !held.is_empty(),
        "the budget lets some partial CONNECTs wait"
    );
    assert_eq!(closed, 40 - held.len());
    assert_eq!(
        count(&metrics(&b).await, "client.pre_connect_refused"),
        closed as u64
    );
    assert!(b.has_log("pre_connect_budget_exceeded"));
    // A whole CONNECT is decoded as it is read: the spent budget is no matter.
    let (_c, ack) =
        RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "whole")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    // The held connections go; their bytes return to the budget.
    drop(held);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut s = tokio::net::TcpStream::connect(b.addr()).await.unwrap();
    let _ = s.write_all(&partial()).await;
    assert!(
        !closed_within(&mut s, Duration::from_secs(3)).await,
        "a partial CONNECT is closed although the budget was given back"
    );
    assert_eq!(
        count(&metrics(&b).await, "client.pre_connect_refused"),
        closed as u64
    );
}

/// `retainer.max_retained_bytes` and `max_retained_messages`, for both
/// storage types: a retained message past a cap is not stored, counted in
/// `messages.retained.dropped`, logged, and still delivered to subscribers; a
/// replacement of a stored topic counts the old message as gone.
#[tokio::test]
async fn retained_messages_are_capped_in_bytes_and_count() {
    for storage in ["ram", "disc"] {
        // 1,000 bytes of payload + a 4-byte topic per message: 10 fit in 10,100 bytes.
        let b = Broker::start_with(&[
            ("ROOST__RETAINER__STORAGE_TYPE", storage),
            ("ROOST__RETAINER__MAX_RETAINED_BYTES", "10100"),
        ]);
        let (mut live, _) =
            RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "live")).await;
        live.subscribe("r/#", QoS::AtMostOnce).await;
        let (mut p, _) =
            RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "p")).await;
        for i in 0..20 {
            p.publish(&format!("r/{i:02}"), &[b'r'; 1000], QoS::AtLeastOnce, true)
                .await;
        }
        // Every one is delivered to the live subscriber, stored or not.
        assert_eq!(live.recv_messages(20).await.len(), 20, "{storage}");
        let m = metrics(&b).await;
        // The broker's own retained `$SYS` messages take a little of the room.
        let dropped = count(&m, "messages.retained.dropped");
        let stored = 20 - dropped as usize;
        assert!(
            (8..=10).contains(&stored),
            "{storage}: {stored} stored: {m}"
        );
        assert!(b.has_log("retained_message_dropped"), "{storage}: logged");
        // A replacement of a stored topic (smaller) is accepted.
        p.publish("r/00", b"small", QoS::AtLeastOnce, true).await;
        let (mut late, _) =
            RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "late")).await;
        late.subscribe("r/#", QoS::AtMostOnce).await;
        let got = late.recv_messages(stored).await;
        let topics: Vec<&str> = got.iter().map(|m| m.topic.as_str()).collect();
        let first: Vec<String> = (0..stored).map(|i| format!("r/{i:02}")).collect();
        assert_eq!(topics, first, "{storage}");
        assert_eq!(&got[0].payload[..], b"small", "{storage}");
        late.recv_none_for(QUIET).await;
        // The room the replacement freed takes one more.
        p.publish("r/10", &[b'r'; 900], QoS::AtLeastOnce, true)
            .await;
        let m = metrics(&b).await;
        assert_eq!(
            count(&m, "messages.retained.dropped"),
            dropped,
            "{storage}: {m}"
        );
    }
    // The count cap (EMQX's max_retained_messages) refuses new topics the
    // same way. The broker's own retained `$SYS` messages count too: the cap
    // is set 3 above them.
    let own = {
        let b = Broker::start();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, stats) = api(&b, "GET", "/api/v5/stats?aggregate=true", None).await;
        assert_eq!(status, 200, "{stats}");
        stats["retained.count"]
            .as_u64()
            .unwrap_or_else(|| panic!("{stats}"))
    };
    let cap = (own + 3).to_string();
    let b = Broker::start_with(&[("ROOST__RETAINER__MAX_RETAINED_MESSAGES", &cap)]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut p, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "p")).await;
    for i in 0..5 {
        p.publish(&format!("c/{i}"), b"x", QoS::AtLeastOnce, true)
            .await;
    }
    let m = metrics(&b).await;
    assert_eq!(count(&m, "messages.retained.dropped"), 2, "{m}");
}

/// `mqtt.max_mqueue_bytes`: an offline session's queue keeps the newest
/// messages that fit in its bytes, dropping (and counting) the oldest, even
/// far below `max_mqueue_len`.
#[tokio::test]
async fn a_session_queue_is_bounded_in_bytes() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_MQUEUE_BYTES", "1MB")]);
    let v = ProtocolVersion::V5;
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "offline", 600)).await;
    sub.subscribe("q", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let (mut p, _) = RawClient::connect_ok(b.addr(), connect_packet(v, "p")).await;
    // 100,001 bytes of topic and payload each: 10 fit in 1 MB, 11 do not.
    for i in 0..50u8 {
        p.publish("q", &vec![i; 100_000], QoS::AtLeastOnce, false)
            .await;
    }
    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(v, "offline", 600)).await;
    assert!(ack.session_present);
    let got = sub.recv_messages(10).await;
    let firsts: Vec<u8> = got.iter().map(|m| m.payload[0]).collect();
    assert_eq!(
        firsts,
        (40..50).collect::<Vec<u8>>(),
        "the newest 10 are kept"
    );
    sub.recv_none_for(QUIET).await;
    let m = metrics(&b).await;
    assert_eq!(count(&m, "delivery.dropped.queue_full"), 40, "{m}");
}
