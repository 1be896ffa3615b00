//! The listeners' rate limits (issue 19; EMQX's `max_conn_rate`,
//! `messages_rate`, `bytes_rate`, in EMQX's syntax), black-box: a client (or
//! a crowd of them) going faster than the limit is slowed to about it. The
//! checks count what got through in a window against what the limit allows
//! (its one-second burst, then the rate), with margins wide enough for a
//! loaded machine: without the limit, many times more gets through.

#[macro_use]
mod common;
use common::*;
use std::time::Instant;

/// Publishes QoS 0 messages of `size` bytes to `rate/t` flat out for
/// `window`, and counts what a subscriber got by then (plus 300 ms for the
/// last to arrive).
async fn delivered_in(b: &Broker, size: usize, window: Duration) -> usize {
    let (mut sub, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "sub")).await;
    sub.subscribe("rate/t", QoS::AtMostOnce).await;
    let (mut p, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "pub")).await;
    let frame = {
        let m = publish_packet("rate/t", &vec![b'x'; size], QoS::AtMostOnce, false);
        let mut buf = bytes::BytesMut::new();
        roost_protocol::encode(&Packet::Publish(m), ProtocolVersion::V5, &mut buf).unwrap();
        buf.freeze()
    };
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 16)
        .collect();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        // The socket's buffers take a few MB before a held-back client waits.
        while start.elapsed() < window {
            p.send_bytes(&chunk).await;
        }
        p
    });
    let mut got = 0;
    let end = start + window + Duration::from_millis(300);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match sub.try_recv_for(left).await {
            Recv::Packet(Packet::Publish(_)) => got += 1,
            Recv::Timeout => break,
            other => panic!("{other:?}"),
        }
    }
    // Unblocked once the broker reads again (after the window).
    let _ = tokio::time::timeout(Duration::from_secs(30), writer).await;
    got
}

/// `messages_rate: "50/s"`: in 3 s a client gets about 50 (burst) + 150
/// messages through; without the limit, tens of thousands.
#[tokio::test]
async fn messages_rate_slows_a_publisher_to_the_rate() {
    let b = Broker::start_with(&[("ROOST__LISTENERS__TCP__MESSAGES_RATE", "50/s")]);
    let got = delivered_in(&b, 16, Duration::from_secs(3)).await;
    eprintln!("messages_rate 50/s: {got} messages delivered in 3 s");
    assert!(got >= 50, "the burst and the rate get through: {got}");
    assert!(got <= 600, "about 200 allowed, {got} went through");
}

/// `bytes_rate: "20KB/s"`: 1 KB messages in 3 s: about 20 (burst) + 60.
#[tokio::test]
async fn bytes_rate_slows_a_publisher_to_the_rate() {
    let b = Broker::start_with(&[("ROOST__LISTENERS__TCP__BYTES_RATE", "20KB/s")]);
    let got = delivered_in(&b, 1000, Duration::from_secs(3)).await;
    eprintln!("bytes_rate 20KB/s: {got} 1 KB messages delivered in 3 s");
    assert!(got >= 10, "the burst and the rate get through: {got}");
    assert!(got <= 300, "about 80 allowed, {got} went through");
}

/// `max_conn_rate: "5/s"`: of 40 clients connecting at once, about 5 (burst)
/// + 10 have their CONNACK after 2 s; without the limit, all 40. The others
/// are not refused: they wait, and all are in later.
#[tokio::test]
async fn max_conn_rate_paces_accepting() {
    let b = Broker::start_with(&[("ROOST__LISTENERS__TCP__MAX_CONN_RATE", "5/s")]);
    let start = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let addr = b.addr();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = RawClient::open(addr, ProtocolVersion::V5).await;
            c.send(&Packet::Connect(connect_packet(
                ProtocolVersion::V5,
                &format!("c{i}"),
            )))
            .await;
            match c.try_recv_for(Duration::from_secs(30)).await {
                Recv::Packet(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
                other => panic!("{other:?}"),
            }
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            c
        }));
    }
    tokio::time::sleep_until((start + Duration::from_secs(2)).into()).await;
    let by_2s = done.load(std::sync::atomic::Ordering::Relaxed);
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    eprintln!(
        "max_conn_rate 5/s: {by_2s} of 40 connected after 2 s, all after {:?}",
        start.elapsed()
    );
    assert!(by_2s >= 3, "the burst gets in: {by_2s}");
    assert!(by_2s <= 25, "about 15 allowed in 2 s, {by_2s} got in");
}

/// A value that is not a rate stops start-up, naming the key.
#[test]
fn a_bad_rate_stops_start_up_naming_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("check-config")
        .env("ROOST__LISTENERS__TCP__MESSAGES_RATE", "fast")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listeners.tcp.messages_rate"), "{text}");
}

/// `bytes_rate: "2KB/s"`: a client that wrote 256 KB at once is read no
/// faster than the bucket allows, each read no larger than what the bucket
/// holds (at least 1 KB). Over 3 s that is the burst (2 KB), the rate (6 KB)
/// and one short read at most; reads that grew to 64 KB overshot by tens of
/// KB (1 + 2 + 4 + ... KB, each one read into debt).
#[tokio::test]
async fn bytes_rate_reads_no_more_than_the_bucket_holds() {
    let b = Broker::start_with(&[("ROOST__LISTENERS__TCP__BYTES_RATE", "2KB/s")]);
    let (mut p, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "pub")).await;
    let frame = {
        let m = publish_packet("rate/t", &[b'x'; 1000], QoS::AtMostOnce, false);
        let mut buf = bytes::BytesMut::new();
        roost_protocol::encode(&Packet::Publish(m), ProtocolVersion::V5, &mut buf).unwrap();
        buf.freeze()
    };
    let start_count = bytes_received(&b).await;
    let chunk: Vec<u8> = frame.iter().copied().cycle().take(256 * 1024).collect();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        p.send_bytes(&chunk).await;
        p
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let read = bytes_received(&b).await - start_count;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("bytes_rate 2KB/s: {read} bytes read in {secs:.1} s");
    let allowed = 2048.0 + 2048.0 * secs + 1024.0;
    assert!(read >= 2048, "the burst gets through: {read}");
    assert!(
        (read as f64) <= allowed + 1024.0,
        "{read} bytes read, {allowed} allowed"
    );
    writer.abort();
}

/// `bytes.received`, the bytes read from clients' sockets.
async fn bytes_received(b: &Broker) -> u64 {
    let (status, m) = common::access::api(b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(status, 200, "{m}");
    m["bytes.received"].as_u64().expect("bytes.received")
}
