//! The chaos test: persistent QoS 1 subscribers and publishers under steady load
//! while random session, connection and shard actors are killed several times a
//! second, for a bounded time. It asserts that every message the broker
//! acknowledged reached every subscriber at least once, that the broker stayed
//! responsive throughout, and that the restart counts in `/api/v5/actors`
//! account for the kills. It prints its figures (messages, kills, losses,
//! duplicates) for the record.
//!
//! The clients here are written against the codec directly so that they survive
//! anything the broker does (a killed connection is just a reconnect).

#[macro_use]
mod common;
use common::http::{kill, nodes, tree};
use common::*;

use bytes::BytesMut;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SUBSCRIBERS: usize = 3;
const PUBLISHERS: usize = 3;
/// How long the actors are killed for.
const CHAOS_FOR: Duration = Duration::from_secs(6);
/// Time between two kills.
const KILL_EVERY: Duration = Duration::from_millis(150);
/// A publish not acknowledged this long on a live connection means the broker
/// stopped answering.
const UNRESPONSIVE: Duration = Duration::from_secs(5);

/// A connection that never panics: every failure is an `Err` the caller answers
/// with a reconnect.
struct Link {
    stream: TcpStream,
    buf: BytesMut,
}

type Fail = String;

impl Link {
    async fn open(addr: SocketAddr, client_id: &str) -> Result<(Link, bool), Fail> {
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
            .await
            .map_err(|_| "connect timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let mut link = Link {
            stream,
            buf: BytesMut::new(),
        };
        let mut c = persistent_connect(ProtocolVersion::V5, client_id, 300);
        c.keep_alive = 30;
        link.send(&Packet::Connect(c)).await?;
        match link.next(Duration::from_secs(3)).await? {
            Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {
                Ok((link, a.session_present))
            }
            other => Err(format!("no CONNACK: {other:?}")),
        }
    }

    async fn send(&mut self, p: &Packet) -> Result<(), Fail> {
        let mut out = BytesMut::new();
        roost_protocol::encode(p, ProtocolVersion::V5, &mut out).map_err(|e| e.to_string())?;
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }

    /// The next packet; `Ok(None)` if none within `wait`.
    async fn next(&mut self, wait: Duration) -> Result<Option<Packet>, Fail> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = roost_protocol::decode(&mut self.buf, ProtocolVersion::V5, 1 << 20)
                .map_err(|e| e.to_string())?
            {
                return Ok(Some(p));
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err("closed".into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    /// Messages acknowledged to publishers: (publisher, sequence number).
    acked: BTreeSet<(u8, u32)>,
    /// What each subscriber received.
    received: BTreeMap<usize, BTreeSet<(u8, u32)>>,
    duplicates: u64,
    reconnects: u64,
    /// Longest wait for a PUBACK on a connection that stayed up.
    slowest_ack: Duration,
    /// Subscribers whose SUBACK arrived.
    subscribed: BTreeSet<usize>,
}

async fn subscriber(addr: SocketAddr, i: usize, tally: Arc<Mutex<Tally>>, done: Arc<AtomicBool>) {
    let id = format!("chaos-sub-{i}");
    let mut subscribed = false;
    while !done.load(Ordering::Relaxed) {
        let Ok((mut link, present)) = Link::open(addr, &id).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if !present {
            subscribed = false;
        }
        let run: Result<(), Fail> = async {
            if !subscribed {
                let sub = Subscribe {
                    packet_id: 1,
                    filters: vec![("chaos/#".to_string(), sub_opts(QoS::AtLeastOnce))],
                    ..Default::default()
                };
                link.send(&Packet::Subscribe(sub)).await?;
            }
            while !done.load(Ordering::Relaxed) {
                match link.next(Duration::from_millis(200)).await? {
                    Some(Packet::SubAck(_)) => {
                        subscribed = true;
                        tally.lock().unwrap().subscribed.insert(i);
                    }
                    Some(Packet::Publish(p)) => {
                        let key = (
                            p.payload[0],
                            u32::from_be_bytes(p.payload[1..5].try_into().unwrap()),
                        );
                        {
                            let mut t = tally.lock().unwrap();
                            if !t.received.entry(i).or_default().insert(key) {
                                t.duplicates += 1;
                            }
                        }
                        link.send(&Packet::PubAck(PubAck::new(p.packet_id))).await?;
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        .await;
        if run.is_err() {
            tally.lock().unwrap().reconnects += 1;
        }
    }
}

async fn publisher(
    addr: SocketAddr,
    i: u8,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    stalls: Arc<AtomicU64>,
) {
    let id = format!("chaos-pub-{i}");
    let mut seq: u32 = 0;
    let mut dup = false;
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut link, _)) = Link::open(addr, &id).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let run: Result<(), Fail> = async {
            while !stop.load(Ordering::Relaxed) {
                let packet_id = (seq % 65_535) as u16 + 1;
                let mut payload = vec![i];
                payload.extend_from_slice(&seq.to_be_bytes());
                let mut p =
                    publish_packet(&format!("chaos/{i}"), &payload, QoS::AtLeastOnce, false);
                p.packet_id = packet_id;
                p.dup = dup;
                link.send(&Packet::Publish(p)).await?;
                dup = true;
                let sent = Instant::now();
                loop {
                    match link.next(UNRESPONSIVE).await? {
                        Some(Packet::PubAck(a)) if a.packet_id == packet_id => break,
                        Some(_) => {}
                        None => {
                            stalls.fetch_add(1, Ordering::Relaxed);
                            return Err("no PUBACK".into());
                        }
                    }
                }
                {
                    let mut t = tally.lock().unwrap();
                    t.acked.insert((i, seq));
                    t.slowest_ack = t.slowest_ack.max(sent.elapsed());
                }
                seq += 1;
                dup = false;
                // Steady load rather than a flood: the kills are the test.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok(())
        }
        .await;
        if run.is_err() {
            tally.lock().unwrap().reconnects += 1;
        }
    }
}

/// Kill counts by kind, and the sessions/shards killed by path.
#[derive(Default, Debug)]
struct Kills {
    sessions: BTreeMap<String, u64>,
    shards: BTreeMap<String, u64>,
    connections: u64,
}

async fn killer(http: SocketAddr, until: Instant) -> Kills {
    let mut kills = Kills::default();
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        let (prefix, kind) = match n % 3 {
            0 => ("roost/sessions", "session"),
            1 => ("roost/listeners/tcp/connections", "connection"),
            _ => ("roost/router", "shard"),
        };
        let t = tree(http, &format!("?prefix={prefix}")).await;
        let targets: Vec<String> = nodes(&t)
            .into_iter()
            .filter(|n| n["kind"] == kind)
            .map(|n| n["path"].as_str().unwrap().to_string())
            .collect();
        if !targets.is_empty() {
            let path = &targets[rand_index(n, targets.len())];
            if kill(http, path).await.status == 200 {
                match kind {
                    "session" => *kills.sessions.entry(path.clone()).or_default() += 1,
                    "shard" => *kills.shards.entry(path.clone()).or_default() += 1,
                    _ => kills.connections += 1,
                }
            }
        }
        tokio::time::sleep(KILL_EVERY).await;
    }
    kills
}

/// A cheap deterministic spread over the targets (no RNG dependency).
fn rand_index(n: u64, len: usize) -> usize {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as usize % len
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_random_kills() {
    // High intensity: random kills must not make the router give up (the crash-loop
    // escalation has its own test in crash_safety.rs).
    let b = Broker::start_with(&[
        ("ROOST__CHAOS__ENABLED", "true"),
        ("ROOST__SUPERVISION__INTENSITY", "1000"),
    ]);
    let (addr, http) = (b.addr(), b.http_addr());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let subs_done = Arc::new(AtomicBool::new(false));
    let pubs_stop = Arc::new(AtomicBool::new(false));
    let stalls = Arc::new(AtomicU64::new(0));
    let mut subs = Vec::new();
    for i in 0..SUBSCRIBERS {
        subs.push(tokio::spawn(subscriber(
            addr,
            i,
            tally.clone(),
            subs_done.clone(),
        )));
    }
    // Publish only once every subscriber has its subscription.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally.lock().unwrap().subscribed.len() < SUBSCRIBERS {
        assert!(Instant::now() < deadline, "subscribers did not subscribe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut pubs = Vec::new();
    for i in 0..PUBLISHERS as u8 {
        pubs.push(tokio::spawn(publisher(
            addr,
            i,
            tally.clone(),
            pubs_stop.clone(),
            stalls.clone(),
        )));
    }
    let kills = killer(http, Instant::now() + CHAOS_FOR).await;
    pubs_stop.store(true, Ordering::Relaxed);
    for p in pubs {
        p.await.unwrap();
    }
    // Every acknowledged message must reach every subscriber: wait for that.
    let acked = tally.lock().unwrap().acked.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let missing: usize = {
            let t = tally.lock().unwrap();
            (0..SUBSCRIBERS)
                .map(|i| {
                    t.received
                        .get(&i)
                        .map_or(acked.len(), |r| acked.difference(r).count())
                })
                .sum()
        };
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subs_done.store(true, Ordering::Relaxed);
    for s in subs {
        s.await.unwrap();
    }
    // Every client task has ended: the tally is final.
    let t = std::mem::take(&mut *tally.lock().unwrap());
    let losses: Vec<(usize, usize)> = (0..SUBSCRIBERS)
        .map(|i| {
            (
                i,
                t.received
                    .get(&i)
                    .map_or(acked.len(), |r| acked.difference(r).count()),
            )
        })
        .collect();
    let session_kills: u64 = kills.sessions.values().sum();
    let shard_kills: u64 = kills.shards.values().sum();
    eprintln!(
        "chaos figures: acked {} messages x {SUBSCRIBERS} subscribers; kills: {session_kills} sessions, \
         {} connections, {shard_kills} shards; losses per subscriber {losses:?}; duplicates {}; \
         client reconnects {}; slowest PUBACK {:?}; stalls {}",
        acked.len(),
        kills.connections,
        t.duplicates,
        t.reconnects,
        t.slowest_ack,
        stalls.load(Ordering::Relaxed),
    );
    assert!(
        acked.len() >= 100,
        "the publishers made too little progress: {}",
        acked.len()
    );
    assert!(
        session_kills >= 5 && shard_kills >= 5 && kills.connections >= 5,
        "too few kills: {kills:?}"
    );
    assert!(
        losses.iter().all(|(_, n)| *n == 0),
        "acknowledged messages lost: {losses:?}"
    );
    assert_eq!(
        stalls.load(Ordering::Relaxed),
        0,
        "the broker stopped answering a publisher for {UNRESPONSIVE:?}"
    );
    // Connections are temporary children (a killed one is not restarted): each
    // kill shows up as a client reconnect instead.
    assert!(
        t.reconnects >= kills.connections,
        "reconnects {} < connection kills {}",
        t.reconnects,
        kills.connections
    );

    // The restart counts in the tree account for every session and shard kill.
    let tr = tree(http, "").await;
    for (path, n) in kills.sessions.iter().chain(kills.shards.iter()) {
        let r = common::http::restarts(&tr, path)
            .unwrap_or_else(|| panic!("{path} missing from the tree"));
        assert_eq!(r, *n, "{path}: {n} kills but {r} restarts");
    }
    // Still serving: a fresh client's round trip.
    let mut c = RawClient::connected(addr, ProtocolVersion::V5, "after-chaos").await;
    c.subscribe("after/t", QoS::AtLeastOnce).await;
    c.publish("after/t", b"ok", QoS::AtLeastOnce, false).await;
    assert_eq!(&c.recv_message().await.payload[..], b"ok");
}
