//! Backpressure from congested subscribers to their publishers
//! (`mqtt.backpressure`, a Roost choice the MQTT specifications leave open;
//! off = EMQX's behaviour, the queue's drop policy), and the bounded queue
//! of a slow subscriber either way.

#[macro_use]
mod common;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

fn payload_str(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

/// Receives `n` PUBLISHes without acknowledging them.
async fn unacked(c: &mut RawClient, n: usize) -> Vec<Publish> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(c.expect_publish().await);
    }
    v
}

/// A broker counter from `/api/v5/metrics`.
async fn metric(b: &Broker, name: &str) -> u64 {
    let (status, stats) = access::api(b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(status, 200, "{stats}");
    stats[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {stats}"))
}

/// Publishes QoS 1 messages `m0..m{n-1}` to `topic` as fast as the broker
/// acknowledges them, with up to `window` unacknowledged (a client keeping to
/// the server's Receive Maximum).
async fn publish_flat_out(p: &mut RawClient, topic: &str, n: usize, window: usize) {
    let (mut sent, mut acked) = (0, 0);
    while acked < n {
        while sent < n && sent - acked < window {
            let mut m = publish_packet(
                topic,
                format!("m{sent}").as_bytes(),
                QoS::AtLeastOnce,
                false,
            );
            m.packet_id = p.next_pid();
            p.send(&Packet::Publish(m)).await;
            sent += 1;
        }
        match p.recv().await {
            Packet::PubAck(a) => {
                assert!(!a.reason_code.is_error(), "{a:?}");
                acked += 1;
            }
            other => panic!("expected PUBACK, got {}", show(&other)),
        }
    }
}

/// Receives PUBLISHes, acknowledging each `delay` after it arrived, until `n`
/// arrived or none came for `quiet`; their payloads in arrival order.
async fn receive_slowly(
    sub: &mut RawClient,
    n: usize,
    delay: Duration,
    quiet: Duration,
) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        match sub.try_recv_for(quiet).await {
            Recv::Packet(Packet::Publish(m)) => {
                tokio::time::sleep(delay).await;
                sub.ack(&m).await;
                got.push(payload_str(&m));
            }
            Recv::Timeout => break,
            other => panic!("after {} messages: {other:?}", got.len()),
        }
    }
    got
}

fn sequence(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

/// A subscriber slower than its publisher (acks each message 2 ms after it
/// came) with a queue of 20, and 300 QoS 1 messages published flat out.
/// Returns (payloads received, messages_dropped_queue_full, publishers_paused).
async fn slow_subscriber_flat_out_publisher(backpressure: &str) -> (Vec<String>, u64, u64) {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "20"),
        ("ROOST__MQTT__BACKPRESSURE", backpressure),
    ]);
    let tag = format!("bp-{backpressure}");
    let mut sub = RawClient::connected(b.addr(), V5, &format!("{tag}-sub")).await;
    sub.subscribe("fc/bp/slow", QoS::AtLeastOnce).await;
    let reader = tokio::spawn(async move {
        let got = receive_slowly(
            &mut sub,
            300,
            Duration::from_millis(2),
            Duration::from_secs(2),
        )
        .await;
        (sub, got)
    });
    let mut p = RawClient::connected(b.addr(), V5, &format!("{tag}-pub")).await;
    publish_flat_out(&mut p, "fc/bp/slow", 300, 32).await;
    let (_sub, got) = reader.await.unwrap();
    let dropped = metric(&b, "delivery.dropped.queue_full").await;
    let paused = metric(&b, "publishers.paused").await;
    (got, dropped, paused)
}

// mqtt.backpressure (default on): a connected subscriber that is merely slower
// than its publisher loses nothing. The publisher is held back while the
// subscriber's queue is over half full, so all 300 messages arrive, in order
// [MQTT-4.6.0-6], nothing is dropped and the pauses are counted.
#[tokio::test]
async fn backpressure_slow_subscriber_loses_nothing() {
    let (got, dropped, paused) = slow_subscriber_flat_out_publisher("true").await;
    assert_eq!(got, sequence(300), "every message, in order");
    assert_eq!(dropped, 0, "delivery.dropped.queue_full");
    assert!(paused > 0, "publishers_paused is {paused}");
}

// The same run with mqtt.backpressure off is EMQX's behaviour: the publisher is
// acknowledged once its message is queued, the queue overflows and its oldest
// messages are dropped and counted.
#[tokio::test]
async fn without_backpressure_slow_subscriber_drops_oldest() {
    let (got, dropped, paused) = slow_subscriber_flat_out_publisher("false").await;
    assert!(
        got.len() < 300,
        "nothing lost without backpressure? {}",
        got.len()
    );
    assert_eq!(dropped as usize, 300 - got.len(), "every loss is counted");
    assert_eq!(paused, 0, "publishers.paused");
    let mut sorted = got.clone();
    sorted.sort_by_key(|m| m[1..].parse::<usize>().unwrap());
    assert_eq!(got, sorted, "what arrives is in order");
    assert_eq!(
        got.last().map(String::as_str),
        Some("m299"),
        "the newest is kept"
    );
}

// A bound subscriber that never reads nor acks does not block its publisher for
// ever: each pause ends after mqtt.backpressure_timeout (200 ms here), so all 100
// messages are acknowledged within a few timeouts. The subscriber's session
// then falls back to the queue's policy: of m0..m99, m0..m31 fill its window
// (Receive Maximum 32), the newest 20 are queued and the rest are dropped, oldest
// first, and counted.
#[tokio::test]
async fn backpressure_stuck_subscriber_never_blocks_publisher() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "20"),
        ("ROOST__MQTT__BACKPRESSURE_TIMEOUT", "200ms"),
    ]);
    let mut sub = RawClient::connected(b.addr(), V5, "bp-stuck-sub").await;
    sub.subscribe("fc/bp/stuck", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "bp-stuck-pub").await;
    tokio::time::timeout(
        Duration::from_secs(10),
        publish_flat_out(&mut p, "fc/bp/stuck", 100, 32),
    )
    .await
    .expect("the publisher was blocked by a stuck subscriber");
    assert!(metric(&b, "publishers.pause_timeouts").await > 0);
    assert_eq!(
        metric(&b, "delivery.dropped.queue_full").await,
        100 - 32 - 20
    );
    let window = unacked(&mut sub, 32).await;
    assert_eq!(
        window.iter().map(payload_str).collect::<Vec<_>>(),
        sequence(32)
    );
    for m in &window {
        sub.ack(m).await;
    }
    let queued: Vec<_> = sub
        .recv_messages(20)
        .await
        .iter()
        .map(payload_str)
        .collect();
    assert_eq!(
        queued,
        sequence(100)[80..].to_vec(),
        "the newest 20 were kept"
    );
    sub.recv_none_for(QUIET).await;
}

/// One of two clients that publish flat out to each other: publishes `n` QoS 1
/// messages to `to`, one every 2 ms (so they reach the broker in separate
/// reads) whenever fewer than 32 are unacknowledged, while receiving the
/// other's `n`, each acknowledged 150 ms after it came (at most 213 a second
/// with the window of 32: slower than it publishes). Returns what it received.
async fn publish_and_receive(c: &mut RawClient, to: &str, n: usize) -> Vec<String> {
    let (mut sent, mut acked) = (0, 0);
    let mut got = Vec::new();
    let mut to_ack: std::collections::VecDeque<(std::time::Instant, Publish)> = Default::default();
    let delay = Duration::from_millis(150);
    let mut last_sent = std::time::Instant::now();
    while acked < n || got.len() < n {
        while to_ack.front().is_some_and(|(at, _)| at.elapsed() >= delay) {
            let (_, m) = to_ack.pop_front().unwrap();
            c.ack(&m).await;
        }
        if sent < n && sent - acked < 32 && last_sent.elapsed() >= Duration::from_millis(2) {
            last_sent = std::time::Instant::now();
            let mut m = publish_packet(to, format!("m{sent}").as_bytes(), QoS::AtLeastOnce, false);
            m.packet_id = c.next_pid();
            c.send(&Packet::Publish(m)).await;
            sent += 1;
        }
        match c.try_recv_for(Duration::from_millis(1)).await {
            Recv::Packet(Packet::PubAck(a)) => {
                assert!(!a.reason_code.is_error(), "{a:?}");
                acked += 1;
            }
            Recv::Packet(Packet::Publish(m)) => {
                got.push(payload_str(&m));
                to_ack.push_back((std::time::Instant::now(), m));
            }
            Recv::Timeout => {}
            other => panic!(
                "sent {sent}, acked {acked}, received {}: {other:?}",
                got.len()
            ),
        }
    }
    got
}

// Two clients each publishing flat out to a topic the other subscribes to, both
// slower to acknowledge than to publish: each one's connection is held back by
// the other's congested session, yet both finish, without waiting for a pause to
// time out (the timeout is 60 s here) and without a loss. A held connection
// still takes in its client's acks and still sends it its messages.
#[tokio::test]
async fn backpressure_between_two_publishing_subscribers_does_not_deadlock() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "100"),
        ("ROOST__MQTT__BACKPRESSURE_TIMEOUT", "60s"),
    ]);
    let mut a = RawClient::connected(b.addr(), V5, "bp-a").await;
    a.subscribe("fc/bp/to-a", QoS::AtLeastOnce).await;
    let mut c = RawClient::connected(b.addr(), V5, "bp-b").await;
    c.subscribe("fc/bp/to-b", QoS::AtLeastOnce).await;
    let (got_a, got_b) = tokio::time::timeout(Duration::from_secs(40), async {
        tokio::join!(
            publish_and_receive(&mut a, "fc/bp/to-b", 400),
            publish_and_receive(&mut c, "fc/bp/to-a", 400)
        )
    })
    .await
    .expect("two clients publishing to each other deadlocked");
    assert_eq!(got_a, sequence(400));
    assert_eq!(got_b, sequence(400));
    assert_eq!(metric(&b, "delivery.dropped.queue_full").await, 0);
    assert!(
        metric(&b, "publishers.paused").await > 0,
        "no congestion: test too easy"
    );
    assert_eq!(metric(&b, "publishers.pause_timeouts").await, 0);
}

// An offline persistent session never holds a publisher back (only a session
// bound to a live connection does): its queue fills and drops its oldest, as
// EMQX's does, while the publisher is acknowledged at full speed (a single
// pause would take the 60 s timeout here).
#[tokio::test]
async fn backpressure_ignores_offline_sessions() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "20"),
        ("ROOST__MQTT__BACKPRESSURE_TIMEOUT", "60s"),
    ]);
    let (mut sub, _) =
        RawClient::connect_ok(b.addr(), persistent_connect(V5, "bp-offline", 300)).await;
    sub.subscribe("fc/bp/offline", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut p = RawClient::connected(b.addr(), V5, "bp-offline-pub").await;
    tokio::time::timeout(
        Duration::from_secs(10),
        publish_flat_out(&mut p, "fc/bp/offline", 300, 32),
    )
    .await
    .expect("the publisher was held back by an offline session");
    assert_eq!(metric(&b, "publishers.paused").await, 0);
    assert_eq!(metric(&b, "delivery.dropped.queue_full").await, 300 - 20);
    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V5, "bp-offline", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    let got: Vec<_> = sub
        .recv_messages(20)
        .await
        .iter()
        .map(payload_str)
        .collect();
    assert_eq!(got, sequence(300)[280..].to_vec());
}
