//! The connection actor: one per client socket. It owns the socket's write half
//! and a reader task that decodes frames, runs the [`channel::Channel`] logic,
//! publishes in its own context (no actor hop on the publish path), and writes
//! what its session hands it. Everyone else reaches it through its
//! [`ConnHandle`], which outlives the actor while the connection hibernates.

mod access;
mod backpressure;
pub mod channel;
mod connect;
mod context;
mod handle;
pub mod outbound;
pub mod peer;
mod publish;
mod reader;
mod subscribe;
mod trace;
mod writer;

pub use crate::context::ConnId;
use crate::session::{Inbound, Outgoing, SessionHandle};
use crate::transport::{Accepted, ConnSlot, WriteHalf};
use access::ClientAccess;
use bytes::BytesMut;
use channel::{Channel, Effect, Violation};
pub use context::{ConnContext, ConnTable, OpenSession, Opened};
pub(crate) use handle::start_actor;
pub use handle::ConnHandle;
use handle::ConnStats;
pub use peer::PeerCertIdentity;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_core::authz::Action;
pub use roost_core::client::{PeerCert, PeerInfo};
use roost_core::hooks::{AuthRequest, DisconnectReason, HookPoint};
use roost_core::trace::TraceEvent;
use roost_core::Message;
use roost_protocol::{
    ConnAck, Connect, Disconnect, Packet, ProtocolError, ProtocolVersion, ReasonCode,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Decoded batches the reader may hand over before the actor catches up (credit,
/// like EMQX's active_n): ractor mailboxes are unbounded, this bounds inbound.
const READ_CREDIT: usize = 8;

/// Why the reader stopped.
#[derive(Debug)]
pub enum ReadEnd {
    Eof,
    Io(std::io::Error),
    Protocol(ProtocolError),
    /// Nothing received within keepalive x multiplier (or the CONNECT idle timeout).
    Timeout,
    /// A partial CONNECT past `mqtt.max_pre_connect_bytes` (counted by the reader).
    PreConnectBudget,
}

/// Messages of a connection actor.
pub enum ConnMsg {
    /// Packets decoded by the reader task (one credit).
    Inbound(Vec<Packet>),
    ReadEnded(ReadEnd),
    /// Packets from the session.
    Send(Vec<Outgoing>),
    /// Server-initiated close: DISCONNECT `reason` (5.0), then close. Replies with
    /// the inbound QoS 2 ids awaiting PUBREL, for the session that takes over.
    Kick {
        reason: ReasonCode,
        reply: Option<RpcReplyPort<Vec<u16>>>,
    },
    /// From a congested session this connection waits for: it has drained (or
    /// lost its connection, or ended). Handle the client's packets again.
    Resume,
    /// `mqtt.backpressure_timeout` after the pause of this number: handle the
    /// client's packets again even if nobody woke us.
    PauseTimeout(u32),
    /// The durable sessions a PUBLISH reached have stored it: its
    /// acknowledgement (and those queued behind it) may go.
    Durable,
    /// From the idle sweep: nothing handled for `mqtt.idle_timeout`. If the
    /// connection is idle, its actor stops and its state is parked in its
    /// handle until the next message (see [`ConnHandle`]).
    Hibernate,
}

ractor_message!(ConnMsg);

/// Where the reader sends the client's acks of outbound messages.
type AckRoute = Arc<parking_lot::RwLock<Option<Arc<SessionHandle>>>>;

/// What a packet needs an await for, boxed so the common packets' path stays
/// synchronous and small: CONNECT (authentication, the cluster takeover, the
/// registry), the client-final AUTH of a SCRAM exchange (opens the session),
/// and a PUBLISH or SUBSCRIBE an HTTP authorizer must decide on.
enum Deferred {
    Connect(Box<Connect>),
    ContinueAuth(Box<roost_protocol::Auth>),
    ReAuthenticate(Box<AuthRequest>),
    Publish(Box<(Arc<Message>, Option<Packet>)>),
    Subscribe(Box<access::SubscribeCheck>),
}

/// Start-up arguments: what the actor starts from, taken once (connections
/// are never restarted; a hibernated one gets a new actor with new arguments).
#[derive(Clone)]
pub struct ConnArgs {
    pub start: Arc<parking_lot::Mutex<Option<ConnStart>>>,
}

/// What a connection actor starts from.
pub enum ConnStart {
    /// A client just accepted.
    New(Box<NewConn>),
    /// The parked state of a connection that hibernated.
    Wake(Box<ConnState>),
}

/// A client just accepted: its established transport and where it came from.
pub struct NewConn {
    pub ctx: Arc<ConnContext>,
    pub accepted: Accepted,
    pub peer: PeerInfo,
    /// The listener's `peer_cert_as_username` / `peer_cert_as_clientid`.
    pub peer_cert_as: PeerCertIdentity,
    pub handle: Arc<ConnHandle>,
    /// The listener's `messages_rate` and `bytes_rate`, applied by the reader.
    pub rates: crate::limiter::ClientRates,
}

pub struct ConnState {
    /// How everyone reaches this connection, across its actors.
    handle: Arc<ConnHandle>,
    ctx: Arc<ConnContext>,
    peer: PeerInfo,
    peer_cert_as: PeerCertIdentity,
    /// This connection's place in its listener's `max_connections`.
    _slot: ConnSlot,
    writer: Option<WriteHalf>,
    wbuf: BytesMut,
    /// Messages (and their topic and payload bytes) of the session's put in
    /// `wbuf` and not yet taken by the socket (see [`outbound`]).
    unflushed: (usize, usize),
    channel: Channel,
    session: Option<Arc<SessionHandle>>,
    /// The bound session as the reader task sees it: the reader hands the
    /// client's PUBACK/PUBREC/PUBCOMP straight to it (one task hop fewer
    /// between an ack and the next message of the window). Cleared, under its
    /// write lock, before the session is told the connection is gone, so no ack
    /// of this connection reaches the session after its Detach.
    ack_route: AckRoute,
    /// Messages for the session gathered while handling one mailbox message
    /// (the acks of one read), handed over under one lock with one wake-up.
    to_session: Vec<Inbound>,
    reader: JoinHandle<()>,
    /// The reader's silence limit in ms (0 = none): CONNECT idle timeout, then keepalive.
    read_timeout_ms: tokio::sync::watch::Sender<u64>,
    credit: Arc<Semaphore>,
    closing: bool,
    /// Packets received but not yet handled: held by a pause (see `paused`)
    /// or behind a packet whose handling awaits, so they take effect in order.
    pending: std::collections::VecDeque<Packet>,
    /// Reader credits returned once `pending` is drained (keeps backpressure).
    held_credit: usize,
    /// A PUBLISH met a congested session (`mqtt.backpressure`): later packets
    /// wait in `pending` until it has drained (`Resume`) or the pause times out.
    /// Outbound traffic (`Send`) goes on, so two clients publishing to each
    /// other never wait for each other.
    paused: bool,
    /// Numbers the pauses, so a timer of an earlier pause ends no later one.
    pause_epoch: u32,
    /// Set while the packets held by a pause that timed out are handled: they
    /// go through without pausing again, so a stuck subscriber lets its
    /// publishers on by what they have sent per `mqtt.backpressure_timeout`
    /// (about one window of QoS 1/2 messages), not one message.
    pause_waived: bool,
    /// The congested sessions met since the last packet was handled, to wait for.
    congested: Vec<Arc<dyn crate::router::Mailbox>>,
    /// Acks of PUBLISHes waiting for durable sessions to store them (see
    /// [`crate::session::durable::AckGate`]), in the order of their PUBLISHes
    /// [MQTT-4.6.0-2, MQTT-4.6.0-3]: an ack that need not wait still waits
    /// behind them.
    acks_waiting:
        std::collections::VecDeque<(Option<Arc<crate::session::durable::AckGate>>, Packet)>,
    /// Packets waiting to be handled, for the actor tree's mailbox column.
    depth: Arc<std::sync::atomic::AtomicUsize>,
    /// Who the client is, its authorization cache, an AUTH exchange in progress.
    access: ClientAccess,
    /// The message being handled is the last the connection expects for a
    /// while: it sent the CONNACK of an accepted CONNECT, or it woke the
    /// connection with nothing but pings (an idle device's heartbeat). The
    /// connection hibernates right after it, if idle, instead of after
    /// `mqtt.idle_timeout`.
    park_after: bool,
    /// The actor has just been started on the parked state: the first message
    /// is what woke it.
    just_woken: bool,
    /// The actor is stopping to hibernate (see [`hibernate`]).
    parking: bool,
    /// Why the connection ends, once known (see [`ConnState::ending`]).
    ended: Option<DisconnectReason>,
    /// How the reader ended, while packets decoded before the end still wait
    /// for the session (see [`ConnState::finish_reading`]).
    read_end: Option<ReadEnd>,
}

/// The connection actor.
#[derive(Clone, Copy)]
pub struct Connection;

impl Actor for Connection {
    type Msg = ConnMsg;
    /// `None` once the state is parked in the handle (hibernating).
    type State = Option<Box<ConnState>>;
    type Arguments = ConnArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ConnMsg>,
        args: ConnArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let start = args
            .start
            .lock()
            .take()
            .ok_or("connection already started")?;
        let st = match start {
            ConnStart::New(new) => ConnState::new(*new),
            ConnStart::Wake(mut st) => {
                st.just_woken = true;
                st.parking = false;
                st
            }
        };
        st.ctx.mailboxes.register(myself.get_id(), st.depth.clone());
        st.handle.idle.touch(st.ctx.uptime_ms());
        st.handle.go_live(&myself);
        Ok(Some(st))
    }

    async fn post_stop(
        &self,
        myself: ActorRef<ConnMsg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // The rest of the cleanup is in `ConnState`'s Drop, which a killed
        // actor runs too.
        if let Some(st) = st {
            st.ctx.mailboxes.unregister(myself.get_id());
        }
        if let Some(parked) = st.take_if(|st| st.parking) {
            parked.handle.clone().park(parked);
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ConnMsg>,
        msg: ConnMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some(st) = state.as_mut() else {
            return Ok(());
        };
        if st.parking {
            // Stopping to hibernate: nothing more was cast to this actor.
            return Ok(());
        }
        st.handle.taken();
        if let ConnMsg::Hibernate = msg {
            if st.quiet_for_idle_timeout() {
                hibernate(&myself, state);
            }
            return Ok(());
        }
        let closed = st.handle_msg(msg).await;
        st.just_woken = false;
        if closed {
            myself.stop(None);
            return Ok(());
        }
        st.handle.idle.touch(st.ctx.uptime_ms());
        // A connection starts asleep once its CONNACK is out, as its session
        // does, and goes back to sleep after a ping: a client that only
        // connects and pings, the common idle device, costs no actor between
        // its packets. Packets that came right behind keep it awake (see
        // `ConnHandle::begin_park`).
        if std::mem::take(&mut st.park_after) {
            hibernate(&myself, state);
        }
        Ok(())
    }
}

/// Stops an idle connection's actor to hibernate; its `post_stop` parks the
/// state in the handle (see [`ConnHandle`]). Nothing happens if it is not
/// idle, or a message came meanwhile (it is in the mailbox).
fn hibernate(myself: &ActorRef<ConnMsg>, state: &mut Option<Box<ConnState>>) {
    let Some(st) = state.as_mut() else { return };
    if st.can_hibernate() && st.handle.begin_park() {
        st.parking = true;
        myself.stop(Some("hibernate".into()));
    }
}

/// The end of a connection, however it ends: closed by its actor, killed or
/// panicked (ractor then skips `post_stop` and drops the state), or closed
/// while it hibernated. Its session learns that it is gone: a Detach was
/// sent already after a close; otherwise it is an abnormal close unless the
/// client sent DISCONNECT, so the will is due [MQTT-3.1.2-8]. A hibernating
/// session has no monitor on the connection, so this is how it learns.
///
/// A connection closed by [`ConnState::handle_msg`] has shut down its write
/// side: its reader lingers and ends by itself once it sees the state go (see
/// `reader`). Any other end closes the socket at once.
impl Drop for ConnState {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.reader.abort();
        }
        self.credit.close();
        self.detach();
        self.ctx.connections.fetch_sub(1, Ordering::Relaxed);
        self.ctx.conns.remove(&self.handle.id);
        self.handle.mark_ended();
        // QoS 0 messages the session handed over and the connection never
        // wrote (they were in its mailbox when it closed): dropped, counted
        // (after the handle refuses more, so none comes in behind the count).
        for _ in 0..self.handle.outbound.qos0_lost() {
            self.ctx
                .metrics
                .delivery_dropped(&roost_core::hooks::DropReason::QueueFull);
        }
        if let Some(info) = &self.access.info {
            // Killed or panicked without a reason: the socket just closed.
            let why = self.ended.unwrap_or(DisconnectReason::Closed);
            self.trace(TraceEvent::Disconnected(why.as_str()));
            self.ctx.hooks.notify(HookPoint::ClientDisconnected, |h| {
                h.client_disconnected(info, why)
            });
        }
    }
}

impl ConnState {
    /// The state of a client just accepted: starts its reader task.
    fn new(new: NewConn) -> Box<ConnState> {
        let NewConn {
            ctx,
            accepted,
            peer,
            peer_cert_as,
            handle,
            rates,
        } = new;
        let (rd, wr) = accepted.transport.split();
        let (read_timeout_ms, timeout_rx) = tokio::sync::watch::channel(ctx.idle_timeout_ms());
        let credit = Arc::new(Semaphore::new(READ_CREDIT));
        let ack_route = AckRoute::default();
        let reader = tokio::spawn(
            reader::Reader {
                rd,
                conn: handle.clone(),
                timeout: timeout_rx,
                credit: credit.clone(),
                ack_route: ack_route.clone(),
                ctx: ctx.clone(),
                limiter: crate::limiter::ClientLimiter::new(rates),
            }
            .run(),
        );
        ctx.connections.fetch_add(1, Ordering::Relaxed);
        ctx.conns.insert(handle.id, Arc::downgrade(&handle));
        Box::new(ConnState {
            handle,
            // The number of a client id the channel may have to assign.
            channel: Channel::new(ctx.mqtt.clone(), rand::random()),
            ctx,
            peer,
            peer_cert_as,
            _slot: accepted.slot,
            writer: Some(wr),
            // Grows with the first write: an idle connection keeps its memory small.
            wbuf: BytesMut::new(),
            unflushed: (0, 0),
            session: None,
            ack_route,
            to_session: Vec::new(),
            reader,
            read_timeout_ms,
            credit,
            closing: false,
            pending: std::collections::VecDeque::new(),
            held_credit: 0,
            paused: false,
            pause_epoch: 0,
            pause_waived: false,
            congested: Vec::new(),
            acks_waiting: std::collections::VecDeque::new(),
            depth: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            access: ClientAccess::default(),
            park_after: false,
            just_woken: false,
            parking: false,
            read_end: None,
            ended: None,
        })
    }

    /// Nothing handled for `mqtt.idle_timeout` (a message may have come after
    /// the sweep looked).
    fn quiet_for_idle_timeout(&self) -> bool {
        let ctx = &self.ctx;
        self.handle
            .idle
            .quiet_for(ctx.uptime_ms(), ctx.idle_timeout_ms())
    }

    /// Nothing to do but wait for the client or its session: the connection
    /// may hibernate (unless `mqtt.idle_timeout` is 0, which turns hibernation
    /// off). A connection before CONNACK, in an AUTH exchange, closing, paused,
    /// or with packets held or anything unsent does not.
    fn can_hibernate(&self) -> bool {
        !self.ctx.config.mqtt.idle_timeout.is_zero()
            && self.channel.is_connected()
            && self.session.is_some()
            && !self.closing
            && self.pending.is_empty()
            && self.read_end.is_none()
            && !self.paused
            && self.congested.is_empty()
            && self.acks_waiting.is_empty()
            && self.to_session.is_empty()
            && self.held_credit == 0
            && self.wbuf.is_empty()
            && self.access.pending.is_none()
            && self.access.reauth.is_none()
    }

    /// Handles one message; true once the connection has closed (its actor
    /// must stop). Also how a sleeping connection that is kicked closes,
    /// without an actor (see [`ConnHandle`]).
    async fn handle_msg(&mut self, msg: ConnMsg) -> bool {
        let st = self;
        match msg {
            ConnMsg::Inbound(packets) => {
                st.held_credit += 1;
                // A ping of a busy client does not put it to sleep.
                st.park_after =
                    st.just_woken && packets.iter().all(|p| matches!(p, Packet::PingReq));
                if st.pending.is_empty() {
                    // The usual case: handled straight from the batch, so the
                    // packets are not moved into `pending` first.
                    let mut packets = packets.into_iter();
                    let mut now = Instant::now();
                    while !st.held() {
                        let Some(p) = packets.next() else { break };
                        if let Some(deferred) = st.handle_one(p, now) {
                            deferred.await;
                            now = Instant::now();
                        }
                    }
                    st.pending.extend(packets);
                } else {
                    st.pending.extend(packets);
                }
                st.process_pending().await;
            }
            // Acted on below, once what the client sent before is handled.
            ConnMsg::ReadEnded(end) => st.read_end = Some(end),
            ConnMsg::Resume => {
                if st.paused {
                    st.paused = false;
                    st.process_pending().await;
                }
            }
            ConnMsg::PauseTimeout(epoch) => {
                if st.paused && epoch == st.pause_epoch {
                    st.ctx.metrics.publishers_pause_timeouts.inc();
                    st.paused = false;
                    st.pause_waived = true;
                    st.process_pending().await;
                    st.pause_waived = false;
                }
            }
            ConnMsg::Send(batch) => st.send_outgoing(batch),
            ConnMsg::Durable => st.release_acks(),
            ConnMsg::Kick { reason, reply } => {
                tracing::debug!(client_id = %st.channel.client_id, ?reason, "connection_kicked");
                st.ending(match reason {
                    ReasonCode::SessionTakenOver => DisconnectReason::Takenover,
                    ReasonCode::ServerShuttingDown => DisconnectReason::Shutdown,
                    ReasonCode::AdministrativeAction => DisconnectReason::Kicked,
                    _ => DisconnectReason::Other,
                });
                st.close(Some(reason));
                if let Some(reply) = reply {
                    let _ = reply.send(st.channel.take_awaiting_rel());
                }
                if reason == ReasonCode::SessionTakenOver {
                    // The session that kicked us handles the will and is re-bound.
                    *st.ack_route.write() = None;
                    st.session = None;
                }
            }
            // Handled by the actor (it parks the state).
            ConnMsg::Hibernate => {}
        }
        if st.read_end.is_some() && !st.closing {
            st.finish_reading().await;
        }
        st.wait_for_congested().await;
        st.flush_session();
        st.flush().await;
        if !st.closing {
            return false;
        }
        // The session learns first, then the socket closes: a message published
        // after the client saw the close is queued, never sent into the gone
        // connection's window (EMQX handles DISCONNECT before closing too).
        if let Some(topic) = st.authorize_will_now() {
            // Boxed, as the rare path it is (an HTTP authorizer).
            Box::pin(st.authorize_will(topic)).await;
        }
        st.detach();
        if let Some(mut w) = st.writer.take() {
            let _ = w.shutdown().await;
        }
        true
    }
}

impl ConnState {
    /// Tells the session this connection is gone (once).
    fn detach(&mut self) {
        self.flush_session();
        *self.ack_route.write() = None;
        if let Some(session) = self.session.take() {
            // No DISCONNECT seen (or one with 0x04) means an abnormal close: the
            // will is published [MQTT-3.1.2-8].
            session.send(Inbound::Detach {
                conn: self.handle.id,
                publish_will: self.channel.will_due(),
                expiry: self.channel.new_session_expiry(),
                awaiting_rel: self.channel.take_awaiting_rel(),
            });
        }
    }

    /// The reader has ended: the packets decoded before the end are handled
    /// first (a PUBLISH followed by a malformed packet; a DISCONNECT right
    /// behind a SUBSCRIBE, which waits for the session's SUBACK), congestion
    /// or not, as nothing more comes from this client. Then the end is acted on.
    async fn finish_reading(&mut self) {
        loop {
            self.paused = false;
            self.congested.clear();
            self.process_pending().await;
            if !self.paused {
                break;
            }
        }
        if let Some(end) = self.read_end.take() {
            self.read_ended(end);
        }
    }

    /// Handles pending packets in order until one must wait for the session.
    async fn process_pending(&mut self) {
        let mut now = Instant::now();
        while !self.held() {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            if let Some(deferred) = self.handle_one(p, now) {
                deferred.await;
                now = Instant::now();
            }
        }
        if self.pending.is_empty() || self.closing {
            self.credit
                .add_permits(std::mem::take(&mut self.held_credit));
            if self.pending.capacity() > 0 {
                // Held packets are rare (behind a SUBSCRIBE): an idle connection
                // keeps no room for them.
                self.pending = std::collections::VecDeque::new();
            }
        }
        self.depth.store(self.pending.len(), Ordering::Relaxed);
    }

    /// Handles one packet received by `now` (the clock is read once per batch
    /// and after each await: the packets of one read arrived together). What
    /// needs an await is boxed (see [`Deferred`]): the actor's task holds its
    /// handler future for its whole life (inline, every idle connection would
    /// carry the size of the largest path; so would a `Packet` held across the
    /// await). The caller awaits the returned future before it handles the
    /// next packet, so packets take effect in the order they came.
    fn handle_one(
        &mut self,
        packet: Packet,
        now: Instant,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>> {
        Some(match self.handle_packet(packet, now)? {
            Deferred::Connect(c) => Box::pin(self.connect(*c)),
            Deferred::ContinueAuth(a) => Box::pin(self.continue_auth(*a)),
            Deferred::ReAuthenticate(r) => Box::pin(self.reauthenticate_later(*r)),
            Deferred::Publish(p) => Box::pin(async move {
                let (message, ack) = *p;
                // client.authorize (EMQX checks after topic alias resolution).
                if self.authorize(Action::Publish, &message.topic).await {
                    self.route(message, ack);
                } else {
                    self.publish_denied(ack);
                }
            }),
            Deferred::Subscribe(check) => Box::pin(self.authorize_subscribe(*check)),
        })
    }

    /// Handles a packet that needs no await; returns what does (see
    /// [`Self::handle_one`]). The channel decides what the packet means
    /// ([`Channel::handle_in`]); this carries it out.
    fn handle_packet(&mut self, packet: Packet, now: Instant) -> Option<Deferred> {
        if self.ctx.tracer.on() {
            self.trace_in(&packet);
        }
        if self.access.pending.is_some() {
            // An enhanced authentication exchange before CONNACK.
            return self.auth_packet(packet);
        }
        let stats = &self.handle.stats;
        ConnStats::bump(&stats.recv_pkt);
        if self.channel.is_connected() {
            let m = &self.ctx.metrics;
            match &packet {
                Packet::Publish(p) => {
                    m.message_received(p.qos);
                    ConnStats::bump(&stats.recv_msg);
                }
                Packet::Subscribe(_) => m.client_subscribe.inc(),
                Packet::Unsubscribe(_) => m.client_unsubscribe.inc(),
                _ => {}
            }
        }
        match self.channel.handle_in(packet, now) {
            Effect::None => {}
            Effect::Send(packet @ Packet::PubComp(_)) => self.pubcomp(packet),
            Effect::Send(packet) => self.write(packet),
            Effect::Publish { message, ack } => {
                // client.authorize (EMQX checks after topic alias
                // resolution); an HTTP authorizer is awaited.
                match self.authorize_now(Action::Publish, &message.topic) {
                    Some(true) => self.route(message, ack),
                    Some(false) => self.publish_denied(ack),
                    None => return Some(Deferred::Publish(Box::new((message, ack)))),
                }
            }
            Effect::Session(msg) => self.cast_session(msg),
            Effect::Subscribe(s) => match self.authorize_subscribe_now(s) {
                Ok(Some((s, denied))) => self.subscribe(s, denied),
                Ok(None) => {}
                Err(check) => return Some(Deferred::Subscribe(check)),
            },
            Effect::Unsubscribe(u) => self.unsubscribe(u),
            Effect::Connect(c) => return Some(Deferred::Connect(c)),
            Effect::Reauthenticate(a) => return self.reauthenticate(a),
            Effect::Disconnect => {
                self.ending(DisconnectReason::Normal);
                self.close(None)
            }
            Effect::Close => self.close(None),
            Effect::Violation(v) => self.violation(v),
        }
        None
    }

    fn cast_session(&mut self, msg: Inbound) {
        self.to_session.push(msg);
    }

    /// Hands the gathered messages to the session.
    fn flush_session(&mut self) {
        if self.to_session.is_empty() {
            return;
        }
        let msgs = std::mem::take(&mut self.to_session);
        let delivered = self.session.as_ref().is_some_and(|s| s.send_all(msgs));
        if !delivered {
            // The session has ended under us: nothing can be served any more.
            tracing::warn!(client_id = %self.channel.client_id, "session_unavailable");
            self.close(Some(ReasonCode::UnspecifiedError));
        }
    }

    fn read_ended(&mut self, end: ReadEnd) {
        match end {
            ReadEnd::Eof | ReadEnd::Io(_) | ReadEnd::PreConnectBudget => {
                self.ending(DisconnectReason::Closed);
                self.close(None)
            }
            ReadEnd::Timeout => {
                self.ending(DisconnectReason::KeepaliveTimeout);
                tracing::debug!(client_id = %self.channel.client_id, "keepalive_timeout");
                self.close(Some(ReasonCode::KeepAliveTimeout));
            }
            ReadEnd::Protocol(e) => {
                self.ending(DisconnectReason::ProtocolError);
                self.ctx.metrics.client_protocol_errors.inc();
                tracing::info!(peer = %self.peer, client_id = %self.channel.client_id, error = %e, "malformed_packet");
                if let ProtocolError::UnsupportedProtocolVersion { level, .. } = &e {
                    if !self.channel.is_connected() {
                        // [MQTT-3.1.2-2] CONNACK 0x01 for 3.x levels, 0x84 for newer ones.
                        self.channel.version = if *level > 5 {
                            ProtocolVersion::V5
                        } else {
                            ProtocolVersion::V3_1_1
                        };
                        self.write(Packet::ConnAck(ConnAck {
                            reason_code: ReasonCode::UnsupportedProtocolVersion,
                            ..Default::default()
                        }));
                        self.close(None);
                        return;
                    }
                }
                self.close(Some(e.reason_code()));
            }
        }
    }

    fn violation(&mut self, v: Violation) {
        self.ending(DisconnectReason::ProtocolError);
        self.ctx.metrics.client_protocol_errors.inc();
        tracing::info!(peer = %self.peer, client_id = %self.channel.client_id, reason = ?v.reason, why = v.why, "protocol_violation");
        self.close(Some(v.reason));
    }

    /// Records why the connection ends, for `client.disconnected` (the first
    /// reason given wins).
    fn ending(&mut self, why: DisconnectReason) {
        self.ended.get_or_insert(why);
    }

    /// Marks the connection for closing; a 5.0 client that completed CONNECT gets
    /// DISCONNECT with `reason` first [MQTT-4.13.2-1].
    fn close(&mut self, reason: Option<ReasonCode>) {
        if self.closing {
            return;
        }
        self.closing = true;
        if reason.is_some() {
            self.ending(DisconnectReason::Other);
        }
        if let Some(reason) = reason {
            if self.channel.is_connected() && self.channel.version.is_v5() {
                self.write(Packet::Disconnect(Disconnect {
                    reason_code: reason,
                    ..Default::default()
                }));
            }
        }
    }
}
