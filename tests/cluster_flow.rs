//! Flow control between nodes (issue 18): a slow subscriber on one node holds
//! back the publisher on another node, as `mqtt.backpressure` does on one
//! node, and loses nothing; a fast subscriber on the same node is not stalled
//! by it; with `mqtt.backpressure: false` the slow subscriber's queue drops
//! instead (EMQX's behaviour). Two `roost` processes on their own
//! 127.x.y.z addresses, talked to over MQTT and the HTTP API as a user would.
//! Every wait is a poll with a deadline.

#[macro_use]
mod common;
use common::http::http;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

const V5: ProtocolVersion = ProtocolVersion::V5;
const CONVERGE: Duration = Duration::from_secs(15);

/// Two nodes on a fresh 127.x.y.0/24 block (one per test and test process),
/// seeded with each other, `extra` settings on both.
async fn two_nodes(extra: &[(&str, &str)]) -> Vec<Broker> {
    static NEXT: AtomicU8 = AtomicU8::new(101);
    let x = 20 + (std::process::id() % 200) as u8;
    let y = NEXT.fetch_add(1, Ordering::Relaxed);
    let ips: Vec<String> = (1..=2).map(|i| format!("127.{x}.{y}.{i}")).collect();
    let seeds = format!("{}:4370,{}:4370", ips[0], ips[1]);
    let nodes: Vec<Broker> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            let mut env: Vec<(String, String)> = vec![
                ("ROOST__NODE__NAME".into(), format!("flow{}@{ip}", i + 1)),
                ("ROOST__CLUSTER__ENABLED".into(), "true".into()),
                ("ROOST__CLUSTER__BIND".into(), format!("{ip}:4370")),
                ("ROOST__CLUSTER__SEEDS".into(), seeds.clone()),
                ("ROOST__CLUSTER__HEARTBEAT_INTERVAL".into(), "300ms".into()),
                ("ROOST__CLUSTER__RECONNECT_MAX_BACKOFF".into(), "1s".into()),
                ("ROOST__LISTENERS__TCP__BIND".into(), format!("{ip}:0")),
                ("ROOST__HTTP__BIND".into(), format!("{ip}:0")),
            ];
            env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Broker::start_with(&env)
        })
        .collect();
    nodes
}

async fn cluster(b: &Broker) -> Value {
    let r = http(
        b.http_addr(),
        "GET",
        "/api/v5/cluster",
        Some(("admin", "public")),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Polls until `node` sees its one peer up with at least `routes` routes.
async fn wait_peer_routes(node: &Broker, routes: u64) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let v = cluster(node).await;
        let members = v["members"].as_array().unwrap();
        if members
            .iter()
            .any(|m| m["state"] == "up" && m["routes"].as_u64().unwrap_or(0) >= routes)
        {
            return;
        }
        assert!(Instant::now() < deadline, "routes never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A broker counter from `/api/v5/metrics`.
async fn metric(b: &Broker, name: &str) -> u64 {
    let (status, stats) = access::api(b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert_eq!(status, 200, "{stats}");
    stats[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {stats}"))
}

/// A persistent subscriber (session kept 300 s) to `topic` at `qos` on `addr`.
async fn subscriber(addr: SocketAddr, id: &str, topic: &str, qos: QoS) -> RawClient {
    let (mut c, _) = RawClient::connect_ok(addr, persistent_connect(V5, id, 300)).await;
    c.subscribe(topic, qos).await;
    c
}

/// Publishes `m0..m{n-1}` to `topic` at `qos` as fast as the broker
/// completes them, with up to 32 in flight (the server's Receive Maximum);
/// returns how many were acknowledged (PUBACK, or PUBCOMP for QoS 2).
async fn publish_flat_out(p: &mut RawClient, topic: &str, n: usize, qos: QoS) -> usize {
    let (mut sent, mut done) = (0, 0);
    while done < n {
        while sent < n && sent - done < 32 {
            let mut m = publish_packet(topic, format!("m{sent}").as_bytes(), qos, false);
            m.packet_id = p.next_pid();
            p.send(&Packet::Publish(m)).await;
            sent += 1;
        }
        match p.recv().await {
            Packet::PubAck(a) => {
                assert!(!a.reason_code.is_error(), "{a:?}");
                done += 1;
            }
            Packet::PubRec(r) => {
                assert!(!r.reason_code.is_error(), "{r:?}");
                p.send(&Packet::PubRel(PubRel::new(r.packet_id))).await;
            }
            Packet::PubComp(_) => done += 1,
            other => panic!("expected an ack, got {}", show(&other)),
        }
    }
    done
}

/// Receives PUBLISHes and acknowledges them (QoS 1 and 2 flows), pausing
/// `pause` after every `every` messages, until `n` arrived or none came for
/// `quiet`; their payloads in arrival order.
async fn receive(
    sub: &mut RawClient,
    n: usize,
    every: usize,
    pause: Duration,
    quiet: Duration,
    progress: Option<&std::sync::atomic::AtomicUsize>,
) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        match sub.try_recv_for(quiet).await {
            Recv::Packet(Packet::Publish(m)) => {
                match m.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => sub.send(&Packet::PubAck(PubAck::new(m.packet_id))).await,
                    QoS::ExactlyOnce => sub.send(&Packet::PubRec(PubRec::new(m.packet_id))).await,
                }
                got.push(String::from_utf8_lossy(&m.payload).into_owned());
                if let Some(p) = progress {
                    p.store(got.len(), std::sync::atomic::Ordering::Relaxed);
                }
                if every > 0 && got.len() % every == 0 {
                    tokio::time::sleep(pause).await;
                }
            }
            Recv::Packet(Packet::PubRel(r)) => {
                sub.send(&Packet::PubComp(PubComp::new(r.packet_id))).await
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

/// The scenario, scaled down: a persistent subscriber on node 2 that
/// reads about 2,000 messages per second (a pause of 5 ms every 10), fed by a
/// publisher on node 1 publishing `n` messages flat out. Every acknowledged
/// message arrives, in order [MQTT-4.6.0-6], nothing is dropped on node 2,
/// and node 1 held its publisher back (publishers.paused).
async fn slow_subscriber_across_nodes(qos: QoS, n: usize) {
    let nodes = two_nodes(&[]).await;
    let tag = format!("q{}", qos as u8);
    let topic = format!("flow/slow/{tag}");
    let mut sub = subscriber(nodes[1].addr(), &format!("slow-{tag}"), &topic, qos).await;
    wait_peer_routes(&nodes[0], 1).await;
    let reader = tokio::spawn(async move {
        let got = receive(
            &mut sub,
            n,
            10,
            Duration::from_millis(5),
            Duration::from_secs(10),
            None,
        )
        .await;
        (sub, got)
    });
    let mut p = RawClient::connected(nodes[0].addr(), V5, &format!("pub-{tag}")).await;
    let acked = publish_flat_out(&mut p, &topic, n, qos).await;
    assert_eq!(acked, n);
    let (_sub, got) = reader.await.unwrap();
    let lost = n - got.len().min(n);
    assert_eq!(lost, 0, "{lost} of {n} acknowledged messages lost");
    assert!(got == sequence(n), "out of order or duplicated");
    assert_eq!(metric(&nodes[1], "delivery.dropped.queue_full").await, 0);
    assert!(
        metric(&nodes[0], "publishers.paused").await > 0,
        "node 1 never held its publisher back"
    );
}

#[tokio::test]
async fn slow_subscriber_across_nodes_loses_nothing_qos1() {
    slow_subscriber_across_nodes(QoS::AtLeastOnce, 20_000).await;
}

#[tokio::test]
async fn slow_subscriber_across_nodes_loses_nothing_qos2() {
    slow_subscriber_across_nodes(QoS::ExactlyOnce, 10_000).await;
}

/// A slow and a fast subscriber on node 2, each fed flat out by its own
/// publisher on node 1: the slow one holds back only its own publisher. The
/// fast one gets all its messages while the slow one is still far from done
/// (the link between the nodes is never blocked for it), and the slow one
/// still loses nothing.
#[tokio::test]
async fn slow_subscriber_does_not_stall_a_fast_one() {
    let (n_slow, n_fast) = (20_000, 5_000);
    let nodes = two_nodes(&[]).await;
    let q = QoS::AtLeastOnce;
    let mut slow = subscriber(nodes[1].addr(), "stall-slow", "flow/stall/slow", q).await;
    let mut fast = subscriber(nodes[1].addr(), "stall-fast", "flow/stall/fast", q).await;
    wait_peer_routes(&nodes[0], 2).await;
    let slow_progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = slow_progress.clone();
    let slow_reader = tokio::spawn(async move {
        let got = receive(
            &mut slow,
            n_slow,
            10,
            Duration::from_millis(5),
            Duration::from_secs(10),
            Some(&progress),
        )
        .await;
        (slow, got)
    });
    let mut p_slow = RawClient::connected(nodes[0].addr(), V5, "stall-pub-slow").await;
    let slow_publisher =
        tokio::spawn(
            async move { publish_flat_out(&mut p_slow, "flow/stall/slow", n_slow, q).await },
        );
    // The slow subscriber's publisher is held back before the fast one starts.
    let deadline = Instant::now() + CONVERGE;
    while metric(&nodes[0], "publishers.paused").await == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow publisher was never held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut p_fast = RawClient::connected(nodes[0].addr(), V5, "stall-pub-fast").await;
    let fast_reader = tokio::spawn(async move {
        receive(
            &mut fast,
            n_fast,
            0,
            Duration::ZERO,
            Duration::from_secs(10),
            None,
        )
        .await
    });
    assert_eq!(
        publish_flat_out(&mut p_fast, "flow/stall/fast", n_fast, q).await,
        n_fast
    );
    let fast_got = fast_reader.await.unwrap();
    let slow_then = slow_progress.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        fast_got == sequence(n_fast),
        "the fast subscriber lost or reordered"
    );
    assert!(
        slow_then < n_slow / 2,
        "the fast subscriber finished only after the slow one had {slow_then} of {n_slow}"
    );
    assert_eq!(slow_publisher.await.unwrap(), n_slow);
    let (_slow, slow_got) = slow_reader.await.unwrap();
    assert_eq!(slow_got.len(), n_slow, "the slow subscriber lost messages");
    assert!(slow_got == sequence(n_slow));
    assert_eq!(metric(&nodes[1], "delivery.dropped.queue_full").await, 0);
}

/// `mqtt.backpressure: false` (EMQX's behaviour) across nodes too: the
/// publisher on node 1 is never held back, and the slow subscriber's bounded
/// queue on node 2 drops its oldest messages, counted.
#[tokio::test]
async fn without_backpressure_the_slow_queue_drops_instead() {
    let n = 3_000;
    let nodes = two_nodes(&[
        ("ROOST__MQTT__BACKPRESSURE", "false"),
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "50"),
    ])
    .await;
    let q = QoS::AtLeastOnce;
    let mut sub = subscriber(nodes[1].addr(), "drop-slow", "flow/drop", q).await;
    wait_peer_routes(&nodes[0], 1).await;
    let reader = tokio::spawn(async move {
        receive(
            &mut sub,
            n,
            10,
            Duration::from_millis(5),
            Duration::from_secs(3),
            None,
        )
        .await
    });
    let mut p = RawClient::connected(nodes[0].addr(), V5, "drop-pub").await;
    assert_eq!(publish_flat_out(&mut p, "flow/drop", n, q).await, n);
    let got = reader.await.unwrap();
    let dropped = metric(&nodes[1], "delivery.dropped.queue_full").await;
    assert!(dropped > 0, "nothing dropped: the publisher was held back");
    assert_eq!(
        got.len() as u64 + dropped,
        n as u64,
        "dropped but not counted"
    );
    assert_eq!(metric(&nodes[0], "publishers.paused").await, 0);
}
