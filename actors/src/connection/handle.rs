//! The connection handle: how everyone reaches a connection, awake or asleep.
//!
//! A connection's actor may stop while its client stays connected: an idle
//! connection hibernates (EMQX's hibernate after `mqtt.idle_timeout`; at once
//! after its CONNACK, and after a ping that woke it, see `Connection`). Its
//! state ([`ConnState`]) is parked in this handle, its reader task keeps
//! waiting on the socket, and nothing else of it is left: no actor, no
//! mailbox. The next message for it (a packet from the client, a delivery from
//! its session, a kick) starts a new actor on the parked state under the
//! listener's connections supervisor, and the messages that come meanwhile wait
//! here, in order. So the session, the reader, the list of connected clients
//! and the publishers a session holds back keep this handle, never the actor.
//!
//! A kick of a sleeping connection (a takeover, a ban, a shutdown) closes the
//! parked state in a task of its own, without waking an actor for it; the
//! client's PINGREQ, SUBSCRIBE and UNSUBSCRIBE are answered the same way, and
//! the state goes back to sleep (see [`answer_asleep`]).

use super::outbound::{Outbound, OutboundLimits};
use super::{ConnArgs, ConnMsg, ConnStart, ConnState, Connection};
use crate::context::ConnId;
use crate::idle::IdleClock;
use crate::session::{ClientConn, Outgoing};
use parking_lot::RwLock;
use ractor::{Actor, ActorRef, RpcReplyPort};
use roost_core::listing::ConnCounters;
use roost_core::Message;
use roost_core::{BoxFuture, ClientInfo};
use roost_protocol::ReasonCode;
use roost_supervisor::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorMsg, Restart, SupervisorError,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a wake-up waits for the supervisor to let go of the id of the
/// actor that just hibernated.
const WAKE_PATIENCE: Duration = Duration::from_secs(2);

/// How long a takeover waits for the old connection to answer its kick.
const TAKEOVER_PATIENCE: Duration = Duration::from_secs(5);

enum Slot {
    /// An actor is being started (the first one, or one after a hibernation):
    /// messages wait here and are handed to it, in order, when it starts.
    Starting(Vec<ConnMsg>),
    Live(ActorRef<ConnMsg>),
    /// The actor decided to hibernate and is stopping: its state comes here
    /// from its `post_stop` (a kill meanwhile drops it, closing the connection,
    /// as a kill should). Messages wait here as while starting.
    Parking(Vec<ConnMsg>),
    /// Hibernating: the state waits for the next message.
    Asleep(Box<ConnState>),
    /// The connection is closed (or closing without an actor): messages are refused.
    Ended,
}

/// See the module documentation.
pub struct ConnHandle {
    pub id: ConnId,
    /// The ractor name of the connections supervisor it runs under (which is
    /// also its path in the actor tree).
    pub supervisor: Arc<str>,
    /// The client's address: its child id is `conn:<addr>`.
    pub addr: SocketAddr,
    slot: RwLock<Slot>,
    /// Messages cast to the live actor and not yet taken by it: a connection
    /// hibernates only with none (its mailbox is then empty, so no message is
    /// lost with the stopped actor).
    in_flight: AtomicUsize,
    /// When the actor last handled a message, and when the connection fell asleep.
    pub(crate) idle: IdleClock,
    /// Who the client is, once its CONNECT was accepted (for the broker
    /// API's listings and kicks).
    client: std::sync::OnceLock<Arc<ClientInfo>>,
    /// Packets and messages read and written, for the clients API.
    pub(crate) stats: ConnStats,
    /// What the session handed over and the socket has not taken yet, and
    /// its bound (`force_shutdown`).
    pub(crate) outbound: Outbound,
    me: Weak<ConnHandle>,
}

/// A connection's counters: bumped by its actor (one writer), read by the
/// broker API; relaxed, as they order nothing.
#[derive(Debug, Default)]
pub(crate) struct ConnStats {
    pub recv_pkt: AtomicU64,
    pub recv_msg: AtomicU64,
    pub send_pkt: AtomicU64,
    pub send_msg: AtomicU64,
}

impl ConnStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ConnCounters {
        ConnCounters {
            recv_pkt: self.recv_pkt.load(Ordering::Relaxed),
            recv_msg: self.recv_msg.load(Ordering::Relaxed),
            send_pkt: self.send_pkt.load(Ordering::Relaxed),
            send_msg: self.send_msg.load(Ordering::Relaxed),
        }
    }
}

impl ConnHandle {
    pub fn new(
        id: ConnId,
        supervisor: Arc<str>,
        addr: SocketAddr,
        limits: OutboundLimits,
    ) -> Arc<ConnHandle> {
        Arc::new_cyclic(|me| ConnHandle {
            id,
            supervisor,
            addr,
            slot: RwLock::new(Slot::Starting(Vec::new())),
            in_flight: AtomicUsize::new(0),
            client: std::sync::OnceLock::new(),
            stats: ConnStats::default(),
            outbound: Outbound::new(limits),
            idle: IdleClock::default(),
            me: me.clone(),
        })
    }

    /// The id its supervisor knows its actor by.
    pub fn child_id(&self) -> String {
        format!("conn:{}", self.addr)
    }

    /// Hands `msg` to the connection, waking it if it sleeps. False once the
    /// connection is closed (the message is dropped).
    pub fn cast(&self, msg: ConnMsg) -> bool {
        {
            let slot = self.slot.read();
            if let Slot::Live(actor) = &*slot {
                return self.cast_live(actor, msg);
            }
        }
        let mut slot = self.slot.write();
        match &mut *slot {
            // Woken between the two locks.
            Slot::Live(actor) => self.cast_live(actor, msg),
            Slot::Starting(waiting) | Slot::Parking(waiting) => {
                waiting.push(msg);
                true
            }
            Slot::Ended => false,
            Slot::Asleep(_) => {
                // A kick closes a sleeping connection without waking it; an
                // idle device's pings and (un)subscriptions are answered
                // without waking it either.
                let (how, next) = match msg {
                    ConnMsg::Kick { .. } => (Asleep::Close(msg), Slot::Ended),
                    ConnMsg::Inbound(packets) if packets.iter().all(answered_asleep) => (
                        Asleep::Answer(ConnMsg::Inbound(packets)),
                        Slot::Starting(Vec::new()),
                    ),
                    msg => (Asleep::Wake, Slot::Starting(vec![msg])),
                };
                let st = Self::unpark(&mut slot, next).expect("matched above");
                drop(slot);
                let (Some(me), Ok(rt)) = (self.me.upgrade(), tokio::runtime::Handle::try_current())
                else {
                    // Not from a broker task: nothing can run the connection.
                    return false;
                };
                match how {
                    Asleep::Close(kick) => {
                        rt.spawn(async move {
                            let mut st = st;
                            st.handle_msg(kick).await;
                            // Dropped here: closed, its session told.
                        });
                    }
                    Asleep::Answer(msg) => {
                        rt.spawn(answer_asleep(me, st, msg));
                    }
                    Asleep::Wake => {
                        st.ctx.metrics.client_woken.inc();
                        rt.spawn(wake(me, st));
                    }
                }
                true
            }
        }
    }

    /// Casts to the live actor, counted (under the slot's lock, so a
    /// hibernation, under its write lock, sees it). False if the actor has
    /// ended (killed, or closing): the connection is gone.
    fn cast_live(&self, actor: &ActorRef<ConnMsg>, msg: ConnMsg) -> bool {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let sent = actor.cast(msg).is_ok();
        if !sent {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Takes the parked state out of an `Asleep` slot, leaving `next`
    /// (nothing changes if the slot is not asleep). The caller drops the
    /// state, or hands it on, after releasing the lock.
    fn unpark(slot: &mut Slot, next: Slot) -> Option<Box<ConnState>> {
        if !matches!(slot, Slot::Asleep(_)) {
            return None;
        }
        let Slot::Asleep(st) = std::mem::replace(slot, next) else {
            unreachable!("matched above")
        };
        st.ctx.conns_hibernating.fetch_sub(1, Ordering::Relaxed);
        Some(st)
    }

    /// Casts `msg` only to a running actor (a timer's message, which must not
    /// wake a sleeping connection).
    pub fn cast_if_awake(&self, msg: ConnMsg) -> bool {
        if matches!(&*self.slot.read(), Slot::Asleep(_) | Slot::Parking(_)) {
            return false;
        }
        self.cast(msg)
    }

    /// Calls the connection: `make` builds the message around the reply port.
    /// `None` if it is closed, or did not answer within `timeout`.
    pub async fn call<T: Send + 'static>(
        &self,
        make: impl FnOnce(RpcReplyPort<T>) -> ConnMsg,
        timeout: Duration,
    ) -> Option<T> {
        let (tx, rx) = ractor::concurrency::oneshot();
        if !self.cast(make(tx.into())) {
            return None;
        }
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }

    /// Closes a connection that does not answer (a takeover's last resort):
    /// stops its actor, or drops its parked state (which closes the socket and
    /// tells the session).
    pub fn stop(&self) {
        let mut slot = self.slot.write();
        if let Slot::Live(actor) = &*slot {
            actor.stop(Some("takeover".into()));
        }
        let parked = Self::unpark(&mut slot, Slot::Ended);
        drop(slot);
        drop(parked);
    }

    /// Called by a starting actor: it is now the connection's, and the
    /// messages that waited for it are handed to it first, in order.
    pub(super) fn go_live(&self, actor: &ActorRef<ConnMsg>) {
        let mut slot = self.slot.write();
        if let Slot::Starting(waiting) = &mut *slot {
            for msg in std::mem::take(waiting) {
                self.cast_live(actor, msg);
            }
            *slot = Slot::Live(actor.clone());
        }
    }

    /// The actor took a message cast through this handle.
    pub(super) fn taken(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// An idle connection's actor is about to stop to hibernate: from now on
    /// messages wait in the handle. Refused if a message was cast meanwhile:
    /// it is in the actor's mailbox and must be handled by it.
    pub(super) fn begin_park(&self) -> bool {
        let mut slot = self.slot.write();
        if !matches!(&*slot, Slot::Live(_)) || self.in_flight.load(Ordering::Relaxed) != 0 {
            return false;
        }
        *slot = Slot::Parking(Vec::new());
        true
    }

    /// From the stopped actor's `post_stop`: parks its state, or, if messages
    /// came while it stopped, starts a new actor on it straight away.
    pub(super) fn park(&self, st: Box<ConnState>) {
        let mut slot = self.slot.write();
        let Slot::Parking(waiting) = &mut *slot else {
            return;
        };
        if waiting.is_empty() {
            st.ctx.conns_hibernating.fetch_add(1, Ordering::Relaxed);
            st.ctx.metrics.client_hibernated.inc();
            self.idle.fell_asleep();
            *slot = Slot::Asleep(st);
            return;
        }
        *slot = Slot::Starting(std::mem::take(waiting));
        drop(slot);
        st.ctx.metrics.client_woken.inc();
        if let Some(me) = self.me.upgrade() {
            tokio::spawn(wake(me, st));
        }
    }

    /// The connection's state is gone (see `ConnState`'s Drop): refuse
    /// messages from now on.
    pub(super) fn mark_ended(&self) {
        let old = std::mem::replace(&mut *self.slot.write(), Slot::Ended);
        // Dropped outside the lock: waiting messages may hold reply ports.
        drop(old);
    }

    /// Whether the connection is closed.
    pub fn is_ended(&self) -> bool {
        matches!(&*self.slot.read(), Slot::Ended)
    }

    /// When the connection fell asleep, if it hibernates.
    pub fn hibernating_since(&self) -> Option<std::time::SystemTime> {
        matches!(&*self.slot.read(), Slot::Asleep(_)).then(|| self.idle.slept_at())
    }

    /// The idle sweep: asks a running actor that handled no message for
    /// `idle_ms` to hibernate (it decides, see [`ConnState::can_hibernate`]).
    pub fn nudge(&self, now_ms: u64, idle_ms: u64) {
        if !self.idle.quiet_for(now_ms, idle_ms) {
            return;
        }
        let live = matches!(&*self.slot.read(), Slot::Live(_));
        if live {
            self.cast(ConnMsg::Hibernate);
        }
    }
}

/// What a message does to a sleeping connection.
enum Asleep {
    /// A kick: the parked state is closed with it, no actor is started.
    Close(ConnMsg),
    /// Packets answered on the parked state in a task, no actor started.
    Answer(ConnMsg),
    /// Anything else starts an actor on the parked state (the message waits
    /// in the handle for it).
    Wake,
}

/// The packets a sleeping connection answers without an actor: what an idle
/// device sends (PINGREQ), and SUBSCRIBE / UNSUBSCRIBE, which the connection
/// carries out itself (the index write, then SUBACK): starting an actor for
/// them would cost more than the work.
fn answered_asleep(p: &roost_protocol::Packet) -> bool {
    use roost_protocol::Packet;
    matches!(
        p,
        Packet::PingReq | Packet::Subscribe(_) | Packet::Unsubscribe(_)
    )
}

/// Handles `msg` on a sleeping connection's parked state in a task of its
/// own, then puts the state back to sleep, unless messages came meanwhile (they
/// waited in the handle) or it cannot sleep now: then an actor is started on
/// it, which takes the waiting messages first.
async fn answer_asleep(handle: Arc<ConnHandle>, mut st: Box<ConnState>, msg: ConnMsg) {
    if st.handle_msg(msg).await {
        // Closed (a DISCONNECT, a protocol error): dropped here, its session told.
        return;
    }
    st.park_after = false;
    {
        let mut slot = handle.slot.write();
        if let Slot::Starting(waiting) = &*slot {
            if waiting.is_empty() && st.can_hibernate() {
                st.ctx.conns_hibernating.fetch_add(1, Ordering::Relaxed);
                *slot = Slot::Asleep(st);
                return;
            }
        }
    }
    st.ctx.metrics.client_woken.inc();
    wake(handle, st).await;
}

/// Starts a new actor on a connection's parked state, under its listener's
/// connections supervisor. If none can be started, the state is dropped, which
/// closes the connection (its session sees an abnormal close).
async fn wake(handle: Arc<ConnHandle>, st: Box<ConnState>) {
    let start = Arc::new(parking_lot::Mutex::new(Some(ConnStart::Wake(st))));
    let deadline = tokio::time::Instant::now() + WAKE_PATIENCE;
    loop {
        let Some(sup) = ractor::registry::where_is(&handle.supervisor) else {
            tracing::warn!(id = handle.id, "connection_wake_failed: no supervisor");
            break;
        };
        let sup: ActorRef<DynamicSupervisorMsg> = sup.into();
        match start_actor(
            &sup,
            handle.child_id(),
            ConnArgs {
                start: start.clone(),
            },
        )
        .await
        {
            Ok(()) => return,
            // The actor that hibernated is still being let go by its supervisor.
            Err(SupervisorError::AlreadyStarted(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(error) => {
                tracing::warn!(id = handle.id, %error, "connection_wake_failed");
                break;
            }
        }
    }
    drop(start.lock().take());
}

/// Starts a connection actor (temporary: connections are never restarted)
/// under `sup`.
pub(crate) async fn start_actor(
    sup: &ActorRef<DynamicSupervisorMsg>,
    id: String,
    args: ConnArgs,
) -> Result<(), SupervisorError> {
    let spec = ChildSpec::new(id, "connection", Restart::Temporary, move |sup| {
        let a = args.clone();
        async move {
            Actor::spawn_linked(None, Connection, a, sup)
                .await
                .map(|(r, _)| r.get_cell())
        }
    });
    DynamicSupervisor::start_child(sup, spec).await.map(|_| ())
}

impl ConnHandle {
    /// Closes a connection whose client does not read what is sent to it
    /// (EMQX's `force_shutdown`, see [`super::outbound`]): its actor is killed,
    /// even in the middle of a write the socket does not take.
    fn force_shutdown(&self) {
        let (msgs, bytes) = self.outbound.held();
        let client_id = self.client().map(|c| c.client_id.clone());
        tracing::warn!(?client_id, peer = %self.addr, msgs, bytes, "force_shutdown: outgoing backlog over its bound");
        let live = match &*self.slot.read() {
            Slot::Live(actor) => Some(actor.clone()),
            _ => None,
        };
        match live {
            Some(actor) => actor.kill(),
            None => {
                self.cast(ConnMsg::Kick {
                    reason: ReasonCode::QuotaExceeded,
                    reply: None,
                });
            }
        }
    }

    /// Records who the client is once its CONNECT was accepted.
    pub(crate) fn set_client(&self, info: Arc<ClientInfo>) {
        let _ = self.client.set(info);
    }

    /// Who the client is, once its CONNECT was accepted.
    pub fn client(&self) -> Option<&Arc<ClientInfo>> {
        self.client.get()
    }
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish()
    }
}

impl crate::router::Waiter for ConnHandle {
    fn id(&self) -> u64 {
        self.id
    }

    fn resume(&self) {
        self.cast(ConnMsg::Resume);
    }
}

impl ClientConn for ConnHandle {
    fn conn_id(&self) -> ConnId {
        self.id
    }

    fn send(&self, batch: Vec<Outgoing>) -> Vec<Arc<Message>> {
        if self.is_ended() {
            // Its Detach is on its way to the session: the QoS 1/2 messages
            // stay in flight there, the QoS 0 ones are lost.
            return crate::session::qos0_of(batch);
        }
        let admitted = self.outbound.admit(batch);
        if admitted.shut_down {
            self.force_shutdown();
        }
        if !admitted.batch.is_empty() {
            self.cast(ConnMsg::Send(admitted.batch));
        }
        admitted.refused
    }

    fn kick(&self, reason: ReasonCode) -> bool {
        self.cast(ConnMsg::Kick {
            reason,
            reply: None,
        })
    }

    fn kick_for_takeover(&self) -> BoxFuture<'_, Option<Vec<u16>>> {
        Box::pin(self.call(
            |reply| ConnMsg::Kick {
                reason: ReasonCode::SessionTakenOver,
                reply: Some(reply),
            },
            TAKEOVER_PATIENCE,
        ))
    }

    fn stop(&self) {
        ConnHandle::stop(self)
    }

    fn is_ended(&self) -> bool {
        ConnHandle::is_ended(self)
    }

    fn client(&self) -> Option<Arc<ClientInfo>> {
        ConnHandle::client(self).cloned()
    }

    fn is_hibernating(&self) -> bool {
        self.hibernating_since().is_some()
    }

    fn counters(&self) -> ConnCounters {
        self.stats.snapshot()
    }
}
