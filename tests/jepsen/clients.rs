//! The clients of a fault run, each a task that records what it does and sees
//! in the history, and on any failure reconnects to the next node with the
//! same client id (Clean Start 0, Session Expiry 1 h):
//! - publishers (rumqttc 5.0): one message at a time, QoS 1 or 2, each
//!   payload unique; rumqttc keeps its unacknowledged PUBLISH / PUBREL across
//!   reconnects and sends them again, as [MQTT-4.4.0-1] wants;
//! - subscribers (the hand-driven `RawClient` of tests/common): `jepsen/q1/#`
//!   at QoS 1 and `jepsen/q2/#` at QoS 2. Not rumqttc: rumqttc 0.25 forgets,
//!   on reconnect, the QoS 2 packet ids it has PUBREC'd, and fails the
//!   connection on the PUBREL the broker must then resend [MQTT-4.4.0-1], so
//!   it would reconnect forever. The raw client keeps them (Method B of
//!   [MQTT-4.3.3]): a DUP resend under a packet id still awaiting PUBREL is
//!   the same delivery, anything else is a new one;
//! - the retainer: sets a retained message on a fresh topic, then clears it;
//! - the racer: two connections with one client id to two nodes at once;
//! - the sampler: every node's `/api/v5/clients` once a second.

use super::history::{Op, Recorder};
use super::nodes::rest_get;
use crate::common::{persistent_connect, sub_opts, RawClient, Recv};
use roost_protocol::{
    Packet, ProtocolVersion, PubAck, PubComp, PubRec, QoS, ReasonCode, Subscribe,
};
use rumqttc::v5::mqttbytes::v5::{Packet as RPacket, PubAckReason, PubRecReason};
use rumqttc::v5::mqttbytes::QoS as RQoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::Outgoing;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags the clients watch.
#[derive(Clone, Default)]
pub struct Stop {
    /// Publishers, the retainer and the racer stop.
    pub writes: Arc<AtomicBool>,
    /// Everyone stops.
    pub all: Arc<AtomicBool>,
}

impl Stop {
    fn writes(&self) -> bool {
        self.writes.load(Ordering::Relaxed) || self.all()
    }
    fn all(&self) -> bool {
        self.all.load(Ordering::Relaxed)
    }
}

/// Keep-alive of the publishers (rumqttc's minimum); the subscribers ping
/// after 3 s of silence and give up 3 s later.
const KEEP_ALIVE: u16 = 5;
const SUB_IDLE: Duration = Duration::from_secs(3);

fn options(id: &str, addr: SocketAddr, clean: bool) -> MqttOptions {
    let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_clean_start(clean);
    o.set_session_expiry_interval(if clean { None } else { Some(3600) });
    o.set_keep_alive(Duration::from_secs(KEEP_ALIVE as u64));
    o.set_connection_timeout(3);
    o
}

/// A rumqttc client that moves to the next node when its connection fails.
struct Mover {
    id: String,
    nodes: Vec<SocketAddr>,
    node: usize,
    client: AsyncClient,
    el: EventLoop,
    clean: bool,
    h: Recorder,
}

impl Mover {
    fn new(id: &str, nodes: &[SocketAddr], home: usize, clean: bool, h: &Recorder) -> Mover {
        let (client, el) = AsyncClient::new(options(id, nodes[home], clean), 16);
        Mover {
            id: id.into(),
            nodes: nodes.to_vec(),
            node: home,
            client,
            el,
            clean,
            h: h.clone(),
        }
    }

    /// The next event (a PINGREQ at least every keep-alive, a failed connect
    /// within 3 s: no timeout around `poll`, which is not cancel-safe while
    /// it writes). A connection error is recorded, `None`, and the next poll
    /// dials the next node.
    async fn poll(&mut self) -> Option<Event> {
        match self.el.poll().await {
            Ok(Event::Incoming(RPacket::ConnAck(a))) => {
                self.h.log(Op::Connected {
                    client: self.id.clone(),
                    node: self.node,
                    session_present: a.session_present,
                });
                Some(Event::Incoming(RPacket::ConnAck(a)))
            }
            Ok(e) => Some(e),
            Err(e) => {
                self.h.log(Op::Disconnected {
                    client: self.id.clone(),
                    node: self.node,
                    why: format!("{e}"),
                });
                self.node = (self.node + 1) % self.nodes.len();
                self.el.options = options(&self.id, self.nodes[self.node], self.clean);
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            }
        }
    }

    /// Publishes and waits up to `timeout` for PUBACK / PUBCOMP (across
    /// reconnects); the ack's reason code (PUBREC's for QoS 2), or `None`.
    /// Acks of earlier messages that come late are recorded too.
    async fn publish(
        &mut self,
        topic: &str,
        msg: &str,
        qos: u8,
        retain: bool,
        outstanding: &mut HashMap<u16, String>,
        timeout: Duration,
    ) -> Option<u8> {
        let q = if qos == 2 {
            RQoS::ExactlyOnce
        } else {
            RQoS::AtLeastOnce
        };
        let payload = msg.as_bytes().to_vec();
        if self.client.try_publish(topic, q, retain, payload).is_err() {
            return None;
        }
        let deadline = Instant::now() + timeout;
        let mut mine = None;
        let mut rec_reason: HashMap<u16, u8> = HashMap::new();
        while Instant::now() < deadline {
            let acked = match self.poll().await {
                Some(Event::Outgoing(Outgoing::Publish(pkid))) if mine.is_none() => {
                    mine = Some(pkid);
                    outstanding.insert(pkid, msg.to_string());
                    None
                }
                Some(Event::Incoming(RPacket::PubAck(a))) => Some((
                    a.pkid,
                    match a.reason {
                        PubAckReason::Success => 0,
                        PubAckReason::NoMatchingSubscribers => 0x10,
                        _ => 0x80,
                    },
                )),
                Some(Event::Incoming(RPacket::PubRec(r))) => {
                    let code = match r.reason {
                        PubRecReason::Success => 0,
                        PubRecReason::NoMatchingSubscribers => 0x10,
                        _ => 0x80,
                    };
                    rec_reason.insert(r.pkid, code);
                    None
                }
                Some(Event::Incoming(RPacket::PubComp(c))) => {
                    Some((c.pkid, rec_reason.get(&c.pkid).copied().unwrap_or(0)))
                }
                _ => None,
            };
            if let Some((pkid, reason)) = acked {
                if let Some(m) = outstanding.remove(&pkid) {
                    if reason < 0x80 && m != msg && !retain {
                        self.h.log(Op::PubAck {
                            client: self.id.clone(),
                            msg: m,
                            qos,
                            node: self.node,
                            reason,
                        });
                    }
                }
                if Some(pkid) == mine {
                    return (reason < 0x80).then_some(reason);
                }
            }
        }
        None
    }
}

/// A publisher: `jepsen/q<qos>/<id>`, payloads `<id>-<seq>`.
pub async fn publisher(
    id: String,
    qos: u8,
    nodes: Vec<SocketAddr>,
    home: usize,
    h: Recorder,
    stop: Stop,
) {
    let mut m = Mover::new(&id, &nodes, home, false, &h);
    let topic = format!("jepsen/q{qos}/{id}");
    let mut outstanding = HashMap::new();
    for seq in 0u64.. {
        if stop.writes() {
            break;
        }
        let msg = format!("{id}-{seq}");
        h.log(Op::PubInvoke {
            client: id.clone(),
            msg: msg.clone(),
            qos,
            node: m.node,
        });
        let node = m.node;
        match m
            .publish(
                &topic,
                &msg,
                qos,
                false,
                &mut outstanding,
                Duration::from_secs(15),
            )
            .await
        {
            Some(reason) => h.log(Op::PubAck {
                client: id.clone(),
                msg,
                qos,
                node,
                reason,
            }),
            None => h.log(Op::PubTimeout {
                client: id.clone(),
                msg,
            }),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens a 5.0 connection with `id` to `addr` (Clean Start `clean`).
pub async fn raw_connect(
    addr: SocketAddr,
    id: &str,
    clean: bool,
) -> Result<(RawClient, bool), String> {
    let s = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let local = s.local_addr().map_err(|e| e.to_string())?;
    let mut c = RawClient::over(s, local, ProtocolVersion::V5);
    let mut conn = persistent_connect(ProtocolVersion::V5, id, 3600);
    conn.clean_start = clean;
    if clean {
        conn.properties.session_expiry_interval = None;
    }
    conn.keep_alive = KEEP_ALIVE * 2;
    c.send(&Packet::Connect(conn)).await;
    match c.try_recv_for(Duration::from_secs(3)).await {
        Recv::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {
            Ok((c, a.session_present))
        }
        other => Err(format!("no CONNACK success: {other:?}")),
    }
}

/// Sends a PINGREQ and waits up to `wait` for the PINGRESP, answering (and
/// dropping) anything else: whether the connection is alive.
async fn pings(c: &mut RawClient, wait: Duration) -> bool {
    c.send(&Packet::PingReq).await;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match c
            .try_recv_for(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Recv::Packet(Packet::PingResp) => return true,
            Recv::Packet(_) => {}
            Recv::Closed | Recv::Timeout => return false,
        }
    }
    false
}

/// A persistent subscriber to both filters; it subscribes again whenever
/// its session is gone (session present 0).
pub async fn subscriber(id: String, nodes: Vec<SocketAddr>, home: usize, h: Recorder, stop: Stop) {
    let mut node = home;
    // QoS 2 packet ids PUBREC'd and not released yet, and their message.
    let mut awaiting_rel: HashMap<u16, String> = HashMap::new();
    let mut subscribed = false;
    while !stop.all() {
        let mut c = match raw_connect(nodes[node], &id, false).await {
            Ok((mut c, present)) => {
                h.log(Op::Connected {
                    client: id.clone(),
                    node,
                    session_present: present,
                });
                if !present {
                    awaiting_rel.clear();
                }
                if !present || !subscribed {
                    let pid = c.next_pid();
                    c.send(&Packet::Subscribe(Subscribe {
                        packet_id: pid,
                        filters: vec![
                            ("jepsen/q1/#".into(), sub_opts(QoS::AtLeastOnce)),
                            ("jepsen/q2/#".into(), sub_opts(QoS::ExactlyOnce)),
                        ],
                        ..Default::default()
                    }))
                    .await;
                }
                c
            }
            Err(why) => {
                h.log(Op::Disconnected {
                    client: id.clone(),
                    node,
                    why,
                });
                node = (node + 1) % nodes.len();
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let why = read(
            &mut c,
            &id,
            node,
            &h,
            &stop,
            &mut awaiting_rel,
            &mut subscribed,
        )
        .await;
        h.log(Op::Disconnected {
            client: id.clone(),
            node,
            why,
        });
        if !stop.all() {
            node = (node + 1) % nodes.len();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Reads and acknowledges until the connection fails; why it ended.
async fn read(
    c: &mut RawClient,
    id: &str,
    node: usize,
    h: &Recorder,
    stop: &Stop,
    awaiting_rel: &mut HashMap<u16, String>,
    subscribed: &mut bool,
) -> String {
    let mut last = Instant::now();
    let mut pinged: Option<Instant> = None;
    loop {
        if stop.all() {
            return "stopped".into();
        }
        match c.try_recv_for(Duration::from_millis(500)).await {
            Recv::Closed => return "closed by the broker".into(),
            Recv::Timeout => {
                let idle = SUB_IDLE;
                match pinged {
                    Some(at) if at.elapsed() > idle => return "no PINGRESP".into(),
                    None if last.elapsed() > idle => {
                        c.send(&Packet::PingReq).await;
                        pinged = Some(Instant::now());
                    }
                    _ => {}
                }
            }
            Recv::Packet(p) => {
                last = Instant::now();
                pinged = None;
                match p {
                    Packet::SubAck(a) => {
                        if a.reason_codes.iter().any(|r| (*r as u8) >= 0x80) {
                            return format!("SUBACK refused: {:?}", a.reason_codes);
                        }
                        *subscribed = true;
                        h.log(Op::Subscribed {
                            client: id.into(),
                            node,
                        });
                    }
                    Packet::Publish(p) => {
                        let msg = String::from_utf8_lossy(&p.payload).to_string();
                        let pkid = p.packet_id;
                        match p.qos {
                            QoS::ExactlyOnce => {
                                if p.dup && awaiting_rel.get(&pkid) == Some(&msg) {
                                    h.log(Op::Redeliver {
                                        client: id.into(),
                                        msg,
                                        node,
                                        pkid,
                                    });
                                } else {
                                    awaiting_rel.insert(pkid, msg.clone());
                                    h.log(Op::Deliver {
                                        client: id.into(),
                                        msg,
                                        qos: 2,
                                        node,
                                        dup: p.dup,
                                        pkid,
                                    });
                                }
                                c.send(&Packet::PubRec(PubRec::new(pkid))).await;
                            }
                            q => {
                                h.log(Op::Deliver {
                                    client: id.into(),
                                    msg,
                                    qos: q as u8,
                                    node,
                                    dup: p.dup,
                                    pkid,
                                });
                                if q == QoS::AtLeastOnce {
                                    c.send(&Packet::PubAck(PubAck::new(pkid))).await;
                                }
                            }
                        }
                    }
                    Packet::PubRel(r) => {
                        awaiting_rel.remove(&r.packet_id);
                        c.send(&Packet::PubComp(PubComp::new(r.packet_id))).await;
                    }
                    Packet::Disconnect(d) => return format!("DISCONNECT {:?}", d.reason_code),
                    _ => {}
                }
            }
        }
    }
}

/// Sets a retained message on `jepsen/r/<k>` and clears it a little later,
/// for ever new `k`, moving to another node after each operation.
pub async fn retainer(nodes: Vec<SocketAddr>, h: Recorder, stop: Stop) {
    let mut m = Mover::new("jepsen-retainer", &nodes, 0, false, &h);
    let mut outstanding = HashMap::new();
    for k in 0u64.. {
        if stop.writes() {
            break;
        }
        let topic = format!("jepsen/r/{k}");
        let node = m.node;
        let set = m
            .publish(
                &topic,
                &format!("r{k}"),
                1,
                true,
                &mut outstanding,
                Duration::from_secs(10),
            )
            .await;
        h.log(Op::RetainSet {
            topic: topic.clone(),
            node,
            acked: set.is_some(),
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The clear, from the next node: it must reach the others.
        m.node = (m.node + 1) % nodes.len();
        m.el.options = options(&m.id, nodes[m.node], false);
        m.el.clean();
        let node = m.node;
        if m.publish(
            &topic,
            "",
            1,
            true,
            &mut outstanding,
            Duration::from_secs(10),
        )
        .await
        .is_some()
        {
            h.log(Op::RetainCleared { topic, node });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads every retained message under `jepsen/r/#` that `node` sends a fresh
/// subscriber, into the history.
pub async fn read_retained(addr: SocketAddr, node: usize, h: &Recorder) -> Result<usize, String> {
    let (mut c, _) = raw_connect(addr, &format!("jepsen-retained-check-{node}"), true).await?;
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![("jepsen/r/#".into(), sub_opts(QoS::AtLeastOnce))],
        ..Default::default()
    }))
    .await;
    let mut n = 0;
    loop {
        match c.try_recv_for(Duration::from_secs(2)).await {
            Recv::Packet(Packet::Publish(p)) => {
                if p.qos == QoS::AtLeastOnce {
                    c.send(&Packet::PubAck(PubAck::new(p.packet_id))).await;
                }
                n += 1;
                h.log(Op::RetainSeen {
                    topic: p.topic.clone(),
                    node,
                    payload: String::from_utf8_lossy(&p.payload).to_string(),
                });
            }
            Recv::Packet(_) => {}
            Recv::Timeout => return Ok(n),
            Recv::Closed => return Err("closed".into()),
        }
    }
}

/// Every ~3 s: two connections with a fresh client id to two different
/// nodes at the same instant; after 2 s, which of them still answer a ping.
pub async fn racer(nodes: Vec<SocketAddr>, seed: u64, h: Recorder, stop: Stop) {
    let mut rng = super::nemesis::Rng::new(seed ^ 0x5eed_cafe);
    for round in 0u64.. {
        if stop.writes() {
            break;
        }
        let a = rng.below(nodes.len());
        let b = (a + 1 + rng.below(nodes.len() - 1)) % nodes.len();
        let id = format!("jepsen-racer-{round}");
        let (ra, rb) = tokio::join!(
            raw_connect(nodes[a], &id, true),
            raw_connect(nodes[b], &id, true)
        );
        if let (Ok((mut ca, _)), Ok((mut cb, _))) = (ra, rb) {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (la, lb) = tokio::join!(
                pings(&mut ca, Duration::from_secs(2)),
                pings(&mut cb, Duration::from_secs(2))
            );
            h.log(Op::Race {
                client: id,
                nodes: (a, b),
                alive: (la, lb),
            });
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

/// Once a second, every node's connected clients (REST), while not stopped.
pub async fn sampler(https: Vec<SocketAddr>, h: Recorder, stop: Stop) {
    while !stop.all() {
        for (node, addr) in https.iter().enumerate() {
            let path = "/api/v5/clients?conn_state=connected&limit=10000";
            if let Some(v) = rest_get(*addr, path, Duration::from_millis(800)).await {
                let clients = v["data"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|c| c["connected"] == true)
                            .map(|c| {
                                (
                                    c["clientid"].as_str().unwrap_or("").to_string(),
                                    c["connected_at"].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                h.log(Op::Sample { node, clients });
            }
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}
