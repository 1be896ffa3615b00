//! One session per client id, cluster-wide (issue 18): CONNECTs of one client
//! id on two nodes at the same instant end with exactly one live session, the
//! other connection closed with 0x8E (Session taken over) [MQTT-3.1.4-3] or
//! refused; a takeover under a steady stream loses nothing and keeps the order;
//! a client that reconnects to the other side of a partition gets a session
//! there. Three `roost` processes on 127.x.y.z, clients over sockets.

#[macro_use]
mod common;
mod cluster_support;
use cluster_support::*;
use common::*;
use std::collections::HashMap;
use std::time::Instant;

/// What became of one client of a pair.
#[derive(Debug, PartialEq)]
enum Fate {
    /// Still connected: answers a PINGREQ.
    Live,
    /// Closed by the broker with DISCONNECT 0x8E (5.0) or just closed (3.1.1).
    TakenOver,
    /// Its CONNECT was refused.
    Refused(ReasonCode),
}

/// What became of a client; the client too while it is live.
async fn fate(c: Option<RawClient>, ack: &ConnAck) -> (Fate, Option<RawClient>) {
    let Some(mut c) = c else {
        return (Fate::Refused(ack.reason_code), None);
    };
    c.send(&Packet::PingReq).await;
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Packet(Packet::PingResp) => (Fate::Live, Some(c)),
        Recv::Packet(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::SessionTakenOver, "{d:?}");
            assert!(matches!(c.try_recv_for(RECV_TIMEOUT).await, Recv::Closed));
            (Fate::TakenOver, None)
        }
        Recv::Closed if !c.version().is_v5() => (Fate::TakenOver, None),
        other => panic!("unexpected after CONNACK: {other:?}"),
    }
}

async fn connect(addr: std::net::SocketAddr, c: Connect) -> (Option<RawClient>, ConnAck) {
    let (client, ack) = RawClient::connect(addr, c).await;
    let ok = ack.reason_code == ReasonCode::Success;
    (ok.then_some(client), ack)
}

/// 100 pairs of CONNECTs, each pair one client id sent to node 1 and node 2 at
/// the same instant (the id's lock owner being any of the three nodes): each
/// time exactly one stays connected, the other is closed with 0x8E after its
/// CONNACK or refused, and the nodes' client lists hold the id once.
#[tokio::test]
async fn simultaneous_connects_of_one_id_leave_one_session() {
    let nodes = started(3).await;
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut live_clients = Vec::new();
    for i in 0..100 {
        let v = if i % 2 == 0 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        let id = format!("twin-{i}");
        // Half resume a persistent session, half start clean.
        let packet = if i % 4 < 2 {
            persistent_connect(v, &id, 600)
        } else {
            connect_packet(v, &id)
        };
        let ((c1, a1), (c2, a2)) = tokio::join!(
            connect(nodes[0].mqtt(), packet.clone()),
            connect(nodes[1].mqtt(), packet.clone())
        );
        let ((f1, l1), (f2, l2)) = tokio::join!(fate(c1, &a1), fate(c2, &a2));
        let live = [&f1, &f2].iter().filter(|f| ***f == Fate::Live).count();
        assert_eq!(live, 1, "pair {i}: node 1 {f1:?}, node 2 {f2:?}");
        live_clients.extend(l1.into_iter().chain(l2));
        *outcomes.entry(format!("{f1:?}/{f2:?}")).or_default() += 1;
    }
    eprintln!("outcomes (node 1 / node 2): {outcomes:?}");
    // The brokers agree: every id once, connected, on one node.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let mut seen: HashMap<String, Vec<(usize, bool)>> = HashMap::new();
        for (n, node) in nodes.iter().enumerate() {
            for (id, connected) in clients(node).await {
                seen.entry(id).or_default().push((n, connected));
            }
        }
        let bad: Vec<_> = (0..100)
            .map(|i| format!("twin-{i}"))
            .filter(|id| {
                let s = seen.get(id).map(Vec::as_slice).unwrap_or(&[]);
                !(s.len() == 1 && s[0].1)
            })
            .collect();
        let bad: Vec<_> = bad
            .into_iter()
            .map(|id| {
                let s = seen.get(&id).cloned();
                (id, s)
            })
            .collect();
        if bad.is_empty() {
            break;
        }
        let _ = &live_clients;
        assert!(
            Instant::now() < deadline,
            "client ids not held once: {bad:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A subscriber's side of a stream: acknowledges as it reads (QoS 2 without
/// waiting: PUBREC on PUBLISH, PUBCOMP on PUBREL), and notes what it got on
/// which connection.
struct Reader {
    /// `(connection number, payload, dup)` in arrival order.
    got: Vec<(usize, String, bool)>,
}

impl Reader {
    /// Handles one packet of connection `conn`; false once it closed.
    async fn step(&mut self, c: &mut RawClient, conn: usize) -> bool {
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::Publish(p)) => {
                self.got
                    .push((conn, String::from_utf8(p.payload.to_vec()).unwrap(), p.dup));
                match p.qos {
                    QoS::AtLeastOnce => c.send(&Packet::PubAck(PubAck::new(p.packet_id))).await,
                    QoS::ExactlyOnce => c.send(&Packet::PubRec(PubRec::new(p.packet_id))).await,
                    QoS::AtMostOnce => {}
                }
                true
            }
            Recv::Packet(Packet::PubRel(r)) => {
                c.send(&Packet::PubComp(PubComp::new(r.packet_id))).await;
                true
            }
            Recv::Packet(Packet::Disconnect(d)) => {
                // Only a connection taken over is closed by the broker.
                assert_eq!(
                    d.reason_code,
                    ReasonCode::SessionTakenOver,
                    "connection {conn} closed by the broker, not taken over: {d:?}"
                );
                true
            }
            Recv::Closed => false,
            Recv::Packet(p) => panic!("unexpected {p:?}"),
            Recv::Timeout => panic!(
                "nothing for {RECV_TIMEOUT:?} on connection {conn}; got {} so far",
                self.got.len()
            ),
        }
    }

    fn distinct(&self) -> usize {
        let mut all: Vec<&String> = self.got.iter().map(|(_, p, _)| p).collect();
        all.sort();
        all.dedup();
        all.len()
    }
}

/// Publishes `n` messages `<name>-<i>` on `topic` at `qos` from a client of
/// `addr`, each acknowledged (PUBACK / PUBCOMP) before the next.
fn publisher(
    addr: std::net::SocketAddr,
    name: &'static str,
    topic: String,
    qos: QoS,
    n: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let v = ProtocolVersion::V5;
        let mut p = RawClient::connected(addr, v, name).await;
        for i in 0..n {
            let rc = p
                .publish(&topic, format!("{name}-{i}").as_bytes(), qos, false)
                .await;
            assert_eq!(rc, ReasonCode::Success);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// Lossless takeover: a persistent subscriber moves between node 1 and node 2
/// four times while publishers on node 3 and on node 2 keep sending (each
/// publish acknowledged before the next). Every acknowledged message arrives,
/// each publisher's in order [MQTT-4.6.0-6], and no connection gets one
/// message twice but as a DUP resend (a message moves with the session only
/// while unacknowledged); each old connection is closed with 0x8E
/// [MQTT-3.1.4-3].
#[tokio::test]
async fn takeover_under_a_stream_loses_nothing_and_keeps_order() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    const N: usize = 400;
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let id = format!("mover-{}", qos as u8);
        let topic = format!("stream{}/x", qos as u8);
        let (mut sub, _) =
            RawClient::connect_ok(nodes[0].mqtt(), persistent_connect(v, &id, 600)).await;
        sub.subscribe(&format!("stream{}/#", qos as u8), qos).await;
        wait_routes(&nodes[2], &nodes[0], 1).await;
        wait_routes(&nodes[1], &nodes[0], 1).await;
        let pubs = [
            publisher(nodes[2].mqtt(), "far", topic.clone(), qos, N),
            publisher(nodes[1].mqtt(), "near", topic.clone(), qos, N),
        ];
        let mut reader = Reader { got: Vec::new() };
        let mut conn = 0;
        let mut at = 0;
        for mv in 1..=4 {
            // Read a share of the stream, then connect on the other node.
            while reader.got.len() < mv * N / 3 {
                assert!(
                    reader.step(&mut sub, conn).await,
                    "connection {conn} closed"
                );
            }
            at = 1 - at;
            let (new, ack) =
                RawClient::connect_ok(nodes[at].mqtt(), persistent_connect(v, &id, 600)).await;
            assert!(ack.session_present, "move {mv}: the session moved");
            // What the old connection still had, until the broker closed it.
            while reader.step(&mut sub, conn).await {}
            sub = new;
            conn += 1;
        }
        // The last connection reads the rest while the publishers finish. A
        // subscriber that stops reading holds its publishers back (its
        // session's backlog at the high watermark: backpressure, and across
        // nodes the per-destination flow control), each PUBLISH up to
        // `mqtt.backpressure_timeout`: awaiting them first, unread, stalls
        // them until the keep alive (90 s) closes this connection.
        while reader.distinct() < 2 * N {
            assert!(reader.step(&mut sub, conn).await, "last connection closed");
        }
        for p in pubs {
            p.await.unwrap();
        }
        // In order per publisher (first arrivals), nothing twice on a connection.
        for name in ["far", "near"] {
            let mut first: Vec<usize> = Vec::new();
            for (_, p, _) in &reader.got {
                if let Some(i) = p.strip_prefix(&format!("{name}-")) {
                    let i: usize = i.parse().unwrap();
                    if !first.contains(&i) {
                        first.push(i);
                    }
                }
            }
            let sorted: Vec<usize> = (0..N).collect();
            assert_eq!(
                first, sorted,
                "{qos:?}: {name}'s messages out of order or missing"
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (c, p, dup) in &reader.got {
            assert!(
                seen.insert((*c, p.clone())) || *dup,
                "{qos:?}: {p} twice on connection {c}"
            );
        }
        eprintln!(
            "{qos:?}: {} deliveries of {} messages over {} connections",
            reader.got.len(),
            2 * N,
            conn + 1
        );
        sub.disconnect().await;
    }
}

/// Partitions (docs/architecture.md, "Cluster: partitions"): node 1, holding a
/// connected client, is paused (SIGSTOP) and declared down by the others. The
/// client reconnects with its client id to node 2: it gets a session there at
/// once (session present 0: the other side's session is out of reach) and
/// receives what is published on its side. When node 1 resumes and the
/// cluster heals, the old connection is closed with 0x8E [MQTT-3.1.4-3] and
/// the client id has one session, the new one, which keeps receiving.
#[tokio::test]
async fn a_client_reconnects_to_the_other_side_of_a_partition() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut old, _) =
        RawClient::connect_ok(nodes[0].mqtt(), persistent_connect(v, "roamer", 600)).await;
    old.subscribe("roam/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[2], &nodes[0], 1).await;

    signal(&nodes[0], "STOP");
    wait_state(&nodes[1], &nodes[0].name, "down").await;
    wait_state(&nodes[2], &nodes[0].name, "down").await;
    let (mut new, ack) =
        RawClient::connect_ok(nodes[1].mqtt(), persistent_connect(v, "roamer", 600)).await;
    assert!(
        !ack.session_present,
        "the paused side's session is out of reach"
    );
    new.subscribe("roam/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[2], &nodes[1], 1).await;
    let mut publ = RawClient::connected(nodes[2].mqtt(), v, "roam-pub").await;
    publ.publish("roam/during", b"1", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&new.recv_message().await.payload[..], b"1");

    signal(&nodes[0], "CONT");
    wait_all_up(&nodes).await;
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    new.ping().await;
    let deadline = Instant::now() + CONVERGE;
    loop {
        let mut held = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            for (id, connected) in clients(node).await {
                if id == "roamer" {
                    held.push((n, connected));
                }
            }
        }
        if held == [(1, true)] {
            break;
        }
        assert!(Instant::now() < deadline, "roamer held as {held:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_routes(&nodes[2], &nodes[1], 1).await;
    publ.publish("roam/after", b"2", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&new.recv_message().await.payload[..], b"2");
}
