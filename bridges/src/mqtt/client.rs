//! One MQTT client connection to the remote broker, over roost-protocol's
//! codec: a task that connects (TCP, then TLS when `ssl` is on), keeps the
//! session alive with PINGREQ, reconnects with a doubling backoff, and
//! re-subscribes every filter after each reconnect.
//!
//! A publish is a command to the task; its answer comes once the remote
//! broker has taken the message (written for QoS 0, PUBACK for QoS 1,
//! PUBCOMP for QoS 2). A publish that meets a lost or absent connection is
//! answered [`SendError::Retriable`]: the delivery layer above retries it.

use crate::ssl::Tls;
use crate::SendError;
use bytes::{Bytes, BytesMut};
use roost_protocol::{
    decode, encode, topic, Connect, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, Unsubscribe,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};

/// How long TCP, TLS and CONNACK may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The largest packet accepted from the remote broker (MQTT's own limit).
const MAX_PACKET: usize = 268_435_460;

/// What a client is given to connect.
#[derive(Debug, Clone)]
pub struct ClientConf {
    pub host: String,
    pub port: u16,
    pub version: ProtocolVersion,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    /// Seconds; 0 turns keep-alive off.
    pub keepalive: u16,
    pub clean_start: bool,
    pub tls: Option<Tls>,
}

/// Called with each PUBLISH that matches a subscription. Must not block.
pub type OnMessage = Arc<dyn Fn(Publish) + Send + Sync>;

type Reply = oneshot::Sender<Result<(), SendError>>;

enum Command {
    Publish(Publish, Reply),
    Subscribe(String, QoS, OnMessage),
    Unsubscribe(String),
}

/// The handle of one connection's task; dropping it ends the task.
pub struct Client {
    tx: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<Result<(), String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Starts the task; it connects in the background.
    pub fn start(conf: ClientConf) -> Client {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(Err("connecting".to_string())));
        let task = tokio::spawn(run(conf, rx, status.clone()));
        Client { tx, status, task }
    }

    /// `Ok` while connected, else why not.
    pub fn status(&self) -> Result<(), String> {
        self.status.lock().unwrap().clone()
    }

    /// Queues `publish`; the receiver answers once the remote broker took it.
    pub fn publish(&self, publish: Publish) -> oneshot::Receiver<Result<(), SendError>> {
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(Command::Publish(_, reply))) =
            self.tx.send(Command::Publish(publish, reply))
        {
            let _ = reply.send(Err(SendError::Retriable("mqtt client stopped".into())));
        }
        rx
    }

    /// Subscribes now if connected, and after every reconnect.
    pub fn subscribe(&self, filter: String, qos: QoS, on_message: OnMessage) {
        let _ = self.tx.send(Command::Subscribe(filter, qos, on_message));
    }

    pub fn unsubscribe(&self, filter: String) {
        let _ = self.tx.send(Command::Unsubscribe(filter));
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Sub {
    filter: String,
    qos: QoS,
    on_message: OnMessage,
}

/// Connects, runs the session until it ends, waits, and again, until the
/// [`Client`] is dropped.
async fn run(
    conf: ClientConf,
    mut rx: mpsc::UnboundedReceiver<Command>,
    status: Arc<Mutex<Result<(), String>>>,
) {
    let mut subs: Vec<Sub> = Vec::new();
    let mut backoff = MIN_BACKOFF;
    loop {
        let why = match timeout(CONNECT_TIMEOUT, connect(&conf)).await {
            Err(_) => format!("connect timed out after {CONNECT_TIMEOUT:?}"),
            Ok(Err(e)) => e,
            Ok(Ok((io, rbuf, limits))) => {
                *status.lock().unwrap() = Ok(());
                backoff = MIN_BACKOFF;
                let mut session = Session::new(&conf, limits);
                let why = session.run(io, rbuf, &mut rx, &mut subs).await;
                if session.closed {
                    return;
                }
                why
            }
        };
        tracing::debug!(client_id = %conf.client_id, %why, "mqtt bridge client disconnected");
        let why = format!("{}:{}: {why}", conf.host, conf.port);
        *status.lock().unwrap() = Err(why.clone());
        // Until the next attempt, publishes are refused at once (retriable)
        // rather than left waiting; subscriptions are recorded.
        let until = Instant::now() + backoff;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        loop {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Err(_) => break,
                Ok(None) => return,
                Ok(Some(cmd)) => match cmd {
                    Command::Publish(_, reply) => {
                        let _ = reply.send(Err(SendError::Retriable(why.clone())));
                    }
                    cmd => record_sub(&mut subs, cmd),
                },
            }
        }
    }
}

fn record_sub(subs: &mut Vec<Sub>, cmd: Command) {
    match cmd {
        Command::Subscribe(filter, qos, on_message) => {
            subs.retain(|s| s.filter != filter);
            subs.push(Sub {
                filter,
                qos,
                on_message,
            });
        }
        Command::Unsubscribe(filter) => subs.retain(|s| s.filter != filter),
        Command::Publish(..) => {}
    }
}

/// What the remote broker's CONNACK allows (MQTT 5.0; unlimited before).
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Receive Maximum: QoS 1 and 2 publishes unacknowledged at once.
    receive_max: usize,
    /// Maximum Packet Size: the largest packet it takes, in bytes.
    max_packet: usize,
}

/// TCP, TLS, CONNECT and CONNACK. Returns the stream, what was read past
/// the CONNACK, and the broker's [`Limits`].
async fn connect(conf: &ClientConf) -> Result<(Box<dyn Io>, BytesMut, Limits), String> {
    let tcp = TcpStream::connect((conf.host.as_str(), conf.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn Io> = match &conf.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = tls.name_for(&conf.host)?;
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            Box::new(
                connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?,
            )
        }
    };
    let connect = Connect {
        protocol: conf.version,
        clean_start: conf.clean_start,
        keep_alive: conf.keepalive,
        client_id: conf.client_id.clone(),
        will: None,
        username: conf.username.clone(),
        password: conf.password.clone(),
        properties: Default::default(),
    };
    let mut buf = BytesMut::new();
    encode(&Packet::Connect(connect), conf.version, &mut buf).map_err(|e| e.to_string())?;
    io.write_all(&buf)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut rbuf = BytesMut::with_capacity(4096);
    loop {
        match decode(&mut rbuf, conf.version, MAX_PACKET).map_err(|e| format!("CONNACK: {e}"))? {
            Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
                let limits = Limits {
                    receive_max: ack.properties.receive_maximum.unwrap_or(u16::MAX) as usize,
                    max_packet: ack
                        .properties
                        .maximum_packet_size
                        .map_or(MAX_PACKET, |m| m as usize),
                };
                return Ok((io, rbuf, limits));
            }
            Some(Packet::ConnAck(ack)) => {
                return Err(format!("connection refused: {:?}", ack.reason_code));
            }
            Some(other) => return Err(format!("expected CONNACK, got {other:?}")),
            None => {}
        }
        if io
            .read_buf(&mut rbuf)
            .await
            .map_err(|e| format!("read: {e}"))?
            == 0
        {
            return Err("closed before CONNACK".into());
        }
    }
}

/// One connected session.
struct Session {
    version: ProtocolVersion,
    keepalive: Duration,
    receive_max: usize,
    /// The remote broker's Maximum Packet Size.
    max_packet: usize,
    next_id: u16,
    /// QoS 1 and 2 publishes sent and not yet acknowledged (PUBACK, or
    /// PUBCOMP after PUBREC/PUBREL).
    inflight: HashMap<u16, Reply>,
    /// Publishes past the broker's Receive Maximum, sent as acks come back.
    queued: VecDeque<(Publish, Reply)>,
    /// Subscribe and unsubscribe packet ids, with their filter, for logs.
    sub_ids: HashMap<u16, String>,
    /// QoS 2 ids received and not yet released, so a resent PUBLISH is not
    /// delivered twice.
    inbound_qos2: HashSet<u16>,
    wbuf: BytesMut,
    /// QoS 0 publishes in `wbuf`, answered once it is written.
    written: Vec<Reply>,
    /// The [`Client`] was dropped: the task ends.
    closed: bool,
}

impl Session {
    fn new(conf: &ClientConf, limits: Limits) -> Session {
        Session {
            version: conf.version,
            keepalive: Duration::from_secs(conf.keepalive.into()),
            receive_max: limits.receive_max.max(1),
            max_packet: limits.max_packet,
            next_id: 0,
            inflight: HashMap::new(),
            queued: VecDeque::new(),
            sub_ids: HashMap::new(),
            inbound_qos2: HashSet::new(),
            wbuf: BytesMut::new(),
            written: Vec::new(),
            closed: false,
        }
    }

    /// Runs until the connection ends; returns why. Every publish still
    /// waiting is then answered retriable.
    async fn run(
        &mut self,
        io: Box<dyn Io>,
        mut rbuf: BytesMut,
        rx: &mut mpsc::UnboundedReceiver<Command>,
        subs: &mut Vec<Sub>,
    ) -> String {
        let (mut rd, mut wr) = tokio::io::split(io);
        let why = self.serve(&mut rd, &mut wr, &mut rbuf, rx, subs).await;
        let lost = || SendError::Retriable(format!("connection lost: {why}"));
        for (_, reply) in self.inflight.drain() {
            let _ = reply.send(Err(lost()));
        }
        for (_, reply) in self.queued.drain(..) {
            let _ = reply.send(Err(lost()));
        }
        for reply in self.written.drain(..) {
            let _ = reply.send(Err(lost()));
        }
        why
    }

    async fn serve(
        &mut self,
        rd: &mut (impl AsyncRead + Unpin),
        wr: &mut (impl AsyncWrite + Unpin),
        rbuf: &mut BytesMut,
        rx: &mut mpsc::UnboundedReceiver<Command>,
        subs: &mut Vec<Sub>,
    ) -> String {
        // Every filter again: with clean_start the remote forgot them, and
        // without it subscribing again is harmless.
        for sub in subs.iter() {
            self.subscribe(sub.filter.clone(), sub.qos);
        }
        let mut ping = (!self.keepalive.is_zero()).then(|| {
            let mut t = tokio::time::interval(self.keepalive);
            t.reset();
            t
        });
        let mut ping_outstanding = false;
        loop {
            if let Err(e) = self.flush(wr).await {
                return e;
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => {
                        self.closed = true;
                        return "client stopped".into();
                    }
                    Some(Command::Publish(p, reply)) => self.publish(p, reply),
                    Some(cmd @ Command::Subscribe(..)) => {
                        if let Command::Subscribe(f, qos, _) = &cmd {
                            self.subscribe(f.clone(), *qos);
                        }
                        record_sub(subs, cmd);
                    }
                    Some(Command::Unsubscribe(filter)) => {
                        let id = self.packet_id();
                        self.sub_ids.insert(id, filter.clone());
                        self.write(Packet::Unsubscribe(Unsubscribe {
                            packet_id: id,
                            filters: vec![filter.clone()],
                            properties: Default::default(),
                        }));
                        record_sub(subs, Command::Unsubscribe(filter));
                    }
                },
                read = rd.read_buf(rbuf) => {
                    match read {
                        Ok(0) => return "closed by the remote broker".into(),
                        Err(e) => return format!("read: {e}"),
                        Ok(_) => {}
                    }
                    ping_outstanding = false;
                    loop {
                        match decode(rbuf, self.version, MAX_PACKET) {
                            Ok(Some(packet)) => {
                                if let Some(why) = self.handle(packet, subs) {
                                    return why;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return format!("malformed packet: {e}"),
                        }
                    }
                }
                _ = async { ping.as_mut().unwrap().tick().await }, if ping.is_some() => {
                    if ping_outstanding {
                        return "keepalive timeout: no answer to PINGREQ".into();
                    }
                    ping_outstanding = true;
                    self.write(Packet::PingReq);
                }
            }
        }
    }

    fn packet_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let id = self.next_id;
            if !self.inflight.contains_key(&id) && !self.sub_ids.contains_key(&id) {
                return id;
            }
        }
    }

    fn write(&mut self, packet: Packet) {
        if let Err(e) = encode(&packet, self.version, &mut self.wbuf) {
            tracing::warn!(error = %e, "mqtt bridge: cannot encode {packet:?}");
        }
    }

    async fn flush(&mut self, wr: &mut (impl AsyncWrite + Unpin)) -> Result<(), String> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        wr.write_all(&self.wbuf)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.wbuf.clear();
        for reply in self.written.drain(..) {
            let _ = reply.send(Ok(()));
        }
        Ok(())
    }

    fn subscribe(&mut self, filter: String, qos: QoS) {
        let id = self.packet_id();
        self.sub_ids.insert(id, filter.clone());
        let options = SubscriptionOptions {
            qos,
            ..Default::default()
        };
        self.write(Packet::Subscribe(Subscribe {
            packet_id: id,
            filters: vec![(filter, options)],
            properties: Default::default(),
        }));
    }

    /// Encodes `p` to be written; a packet larger than the remote broker's
    /// Maximum Packet Size is not sent (the client MUST NOT send it,
    /// [MQTT-3.1.2-24]) and fails for good, as EMQX's bridge does.
    fn publish(&mut self, mut p: Publish, reply: Reply) {
        let qos0 = p.qos == QoS::AtMostOnce;
        if !qos0 && self.inflight.len() >= self.receive_max {
            self.queued.push_back((p, reply));
            return;
        }
        p.packet_id = if qos0 { 0 } else { self.packet_id() };
        let id = p.packet_id;
        let start = self.wbuf.len();
        let size = match encode(&Packet::Publish(p), self.version, &mut self.wbuf) {
            Ok(()) => self.wbuf.len() - start,
            Err(e) => {
                self.wbuf.truncate(start);
                let _ = reply.send(Err(SendError::Fatal(format!("cannot encode: {e}"))));
                return;
            }
        };
        if size > self.max_packet {
            self.wbuf.truncate(start);
            let _ = reply.send(Err(SendError::Fatal(format!(
                "a PUBLISH of {size} bytes is over the remote broker's Maximum Packet Size ({})",
                self.max_packet
            ))));
            return;
        }
        if qos0 {
            // Answered once written, by the flush before the next select.
            self.written.push(reply);
        } else {
            self.inflight.insert(id, reply);
        }
    }

    /// Answers a finished publish and sends a queued one in its place.
    fn finish(&mut self, id: u16, result: Result<(), SendError>) {
        if let Some(reply) = self.inflight.remove(&id) {
            let _ = reply.send(result);
        }
        while self.inflight.len() < self.receive_max {
            let Some((p, reply)) = self.queued.pop_front() else {
                break;
            };
            self.publish(p, reply);
        }
    }

    /// One packet from the remote broker; `Some(why)` ends the session.
    fn handle(&mut self, packet: Packet, subs: &[Sub]) -> Option<String> {
        match packet {
            Packet::Publish(p) => {
                let id = p.packet_id;
                let fresh = match p.qos {
                    QoS::AtMostOnce => true,
                    QoS::AtLeastOnce => {
                        self.write(Packet::PubAck(PubAck::new(id)));
                        true
                    }
                    QoS::ExactlyOnce => {
                        self.write(Packet::PubRec(PubRec::new(id)));
                        self.inbound_qos2.insert(id)
                    }
                };
                if fresh {
                    deliver(subs, p);
                }
            }
            Packet::PubRel(r) => {
                self.inbound_qos2.remove(&r.packet_id);
                self.write(Packet::PubComp(PubComp::new(r.packet_id)));
            }
            Packet::PubAck(a) => {
                let result = if a.reason_code.is_error() {
                    Err(SendError::Fatal(format!("PUBACK {:?}", a.reason_code)))
                } else {
                    Ok(())
                };
                self.finish(a.packet_id, result);
            }
            Packet::PubRec(r) if r.reason_code.is_error() => {
                self.finish(
                    r.packet_id,
                    Err(SendError::Fatal(format!("PUBREC {:?}", r.reason_code))),
                );
            }
            Packet::PubRec(r) => {
                self.write(Packet::PubRel(PubRel::new(r.packet_id)));
            }
            Packet::PubComp(c) => self.finish(c.packet_id, Ok(())),
            Packet::SubAck(ack) => {
                let filter = self.sub_ids.remove(&ack.packet_id).unwrap_or_default();
                if let Some(code) = ack.reason_codes.iter().find(|c| c.is_error()) {
                    tracing::warn!(%filter, ?code, "mqtt bridge: the remote broker refused the subscription");
                }
            }
            Packet::UnsubAck(ack) => {
                self.sub_ids.remove(&ack.packet_id);
            }
            Packet::PingResp => {}
            Packet::Disconnect(d) => return Some(format!("DISCONNECT {:?}", d.reason_code)),
            other => return Some(format!("unexpected packet {other:?}")),
        }
        None
    }
}

/// Hands a received PUBLISH to every subscription it matches (a shared
/// subscription matches by its inner filter).
fn deliver(subs: &[Sub], p: Publish) {
    for sub in subs {
        let filter = topic::parse_subscription_filter(&sub.filter)
            .map(|f| f.filter)
            .unwrap_or(&sub.filter);
        if topic::matches(filter, &p.topic) {
            (sub.on_message)(p.clone());
        }
    }
}
