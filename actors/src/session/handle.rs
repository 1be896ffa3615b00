//! The session handle: what outlives a session actor's crash.
//!
//! Everything a session knows (subscriptions, inflight window, queue, will,
//! expiry) lives in [`SessionData`] inside the handle, next to the connection
//! bound to it ([`LiveSession`]), and every message for the
//! session goes through the handle's durable inbox. The actor is only the
//! worker that drains the inbox: when it is killed, its supervisor starts a new
//! one on the same handle, which carries on where the old one stopped. The topic
//! index and the connection hold the handle, never the actor, so they need no
//! update after a restart.
//!
//! The same holds when a session hibernates (EMQX's hibernate after
//! `idle_timeout`): an idle session's actor stops normally and the handle
//! remembers that it sleeps; the next message or call starts a new actor on it.
//!
//! The handle is also where publishers learn that a session is congested (see
//! [`SessionHandle::deliver`]): the session keeps its backlog and binding here,
//! under the inbox lock a publisher takes anyway, and wakes the connections it
//! held back once it has drained.

use super::data::SessionData;
use super::durable::{join_gate, AckGate};
use super::live::LiveSession;
use super::SessionContext;
use super::{Delivery, SessionMsg};
use crate::context::{BrokerContext, ConnId};
use crate::idle::IdleClock;
use crate::router::{Mailbox, Waiter};
use parking_lot::{Mutex, RwLock};
use ractor::{ActorRef, ActorStatus, RpcReplyPort};
use roost_core::ClientInfo;
use roost_protocol::ReasonCode;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a call waits for a hibernating session's new actor to start.
const WAKE_PATIENCE: Duration = Duration::from_secs(2);

/// A message kept in the durable inbox until the session has handled it.
#[derive(Debug, Clone)]
pub enum Inbound {
    Deliver(Delivery),
    PubAck(u16),
    /// PUBREC with its reason code: an error code (>= 0x80) ends the exchange.
    PubRec(u16, ReasonCode),
    PubComp(u16),
    /// The bound connection ended. `publish_will` is false after a normal
    /// DISCONNECT; `expiry` is a new Session Expiry Interval from DISCONNECT.
    Detach {
        conn: ConnId,
        publish_will: bool,
        expiry: Option<u32>,
        awaiting_rel: Vec<u16>,
    },
}

/// Two queues: control messages (acks, detaches) are handled before
/// deliveries, so a flood of deliveries never delays the PUBACK that frees an
/// inflight slot (which would cap a busy subscriber at one window per backlog).
/// Order is kept within each queue; between them none is owed (acks and
/// deliveries commute; a delivery handled after a detach is queued for the
/// next connection instead of sent).
#[derive(Default)]
struct Inbox {
    control: VecDeque<Inbound>,
    deliveries: VecDeque<Inbound>,
    /// A Wake is on its way to the actor: no need to send another.
    wake_pending: bool,
    /// Deliveries the actor holds outside the inbox: its MQueue's length at the
    /// end of its last run, plus the deliveries taken out since (counted as
    /// queued until the run ends: erring high, a publisher is held back a
    /// little early rather than a queue overflowing).
    held: usize,
    /// Bound to a live connection. Only then does a backlog hold publishers
    /// back: an offline session fills and drops by the queue's policy.
    bound: bool,
    /// Connections holding their client's publishes back until this session
    /// has drained (each once).
    waiters: Vec<Arc<dyn Waiter>>,
    /// Deliveries ever queued and ever taken out (to know which gates a run
    /// covers).
    pushed: u64,
    taken: u64,
    /// The acknowledgement gates of queued durable deliveries (see
    /// [`AckGate`]), each with the number of its delivery: released once a
    /// run that took that delivery is stored.
    gates: VecDeque<(u64, Arc<AckGate>)>,
}

impl Inbox {
    fn len(&self) -> usize {
        self.control.len() + self.deliveries.len()
    }

    /// Messages waiting to go into the inflight window.
    fn backlog(&self) -> usize {
        self.deliveries.len() + self.held
    }
}

/// The backlogs (inbox deliveries plus MQueue) at which a bound session holds
/// its publishers back (high) and lets them go again (low): four inflight
/// windows (`mqtt.max_inflight`) and two. Every queued message is latency, and
/// four windows keep the subscriber's window full while its publishers wait;
/// a backlog allowed to reach 500 (half the default queue) measured the same
/// throughput at three times the p99 (docs/benchmarks.md, run 8). The high mark
/// is at most half of `mqtt.max_mqueue_len`, so a publisher that sees it has
/// half a queue of room for what is already on its way (its current batch,
/// the other publishers').
pub fn watermarks(max_mqueue_len: usize, max_inflight: usize) -> (usize, usize) {
    let len = if max_mqueue_len == 0 {
        usize::MAX
    } else {
        max_mqueue_len
    };
    let high = (4 * max_inflight.max(1)).min(len / 2).max(1);
    (high, high / 2)
}

/// Lets held-back publishers go (outside the inbox lock).
fn resume(waiters: Vec<Arc<dyn Waiter>>) {
    for w in waiters {
        w.resume();
    }
}

/// The durable part of one session, shared by its successive actors.
pub struct SessionHandle {
    pub client_id: Arc<str>,
    /// When the session was created (for the clients API).
    pub created_at: std::time::SystemTime,
    actor: RwLock<Option<ActorRef<SessionMsg>>>,
    inbox: Mutex<Inbox>,
    /// Inbox length, for the actor tree's mailbox column.
    pub(crate) depth: Arc<AtomicUsize>,
    closed: AtomicBool,
    /// See [`watermarks`].
    high: usize,
    low: usize,
    /// The session's state ([`SessionData`]) and its connection.
    pub(crate) live: Mutex<LiveSession>,
    /// Set while the session hibernates (its actor stopped, see
    /// [`Self::hibernate`]): the broker a new actor is started in. Whoever
    /// takes it starts that actor, so concurrent senders start one.
    sleeping: Mutex<Option<Weak<SessionContext>>>,
    /// A new actor is being started after a hibernation (calls wait for it).
    waking: AtomicBool,
    /// This handle, for the task that wakes it from a synchronous sender.
    me: Weak<SessionHandle>,
    /// When the actor last had a message (an unbound session is taken out
    /// of the sweep until its next one) and when the session fell asleep.
    pub(crate) idle: IdleClock,
    /// Who the session's client is, as of its last bind (for the hooks).
    client: RwLock<Option<Arc<ClientInfo>>>,
    /// A record of this session is in the durable store (see `durable.rs`).
    pub(crate) stored: AtomicBool,
    /// What the session has in the durable store (see `durable_entries.rs`),
    /// locked under the state lock.
    pub(crate) mirror: Mutex<super::durable_entries::Mirror>,
}

impl SessionHandle {
    /// A handle for `data`; `max_inflight` is `mqtt.max_inflight` (see [`watermarks`]).
    pub fn new(client_id: Arc<str>, data: SessionData, max_inflight: u16) -> Arc<SessionHandle> {
        let (high, low) = watermarks(data.mqueue.max_len(), max_inflight as usize);
        Arc::new_cyclic(|me| SessionHandle {
            client_id,
            created_at: std::time::SystemTime::now(),
            actor: RwLock::new(None),
            inbox: Mutex::new(Inbox::default()),
            depth: Arc::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
            high,
            low,
            live: Mutex::new(LiveSession {
                binding: None,
                data,
                relay: None,
            }),
            sleeping: Mutex::new(None),
            waking: AtomicBool::new(false),
            me: me.clone(),
            idle: IdleClock::default(),
            client: RwLock::new(None),
            stored: AtomicBool::new(false),
            mirror: Mutex::new(Default::default()),
        })
    }

    /// Records who the session's client is (at each bind).
    pub(crate) fn set_client(&self, client: Arc<ClientInfo>) {
        *self.client.write() = Some(client);
    }

    /// Who the session's client is, as of its last bind.
    pub fn client(&self) -> Option<Arc<ClientInfo>> {
        self.client.read().clone()
    }

    /// Queues a message for the session and wakes its actor. Returns false once the
    /// session has ended (the message is dropped).
    pub fn send(&self, msg: Inbound) -> bool {
        self.send_all(std::iter::once(msg))
    }

    /// Queues several messages under one lock with at most one wake-up (a
    /// connection's acks from one read). Returns false once the session has
    /// ended (the messages are dropped).
    pub fn send_all(&self, msgs: impl IntoIterator<Item = Inbound>) -> bool {
        self.push(msgs).is_some()
    }

    /// Queues the delivery of a client's publish. `Some(true)` when the session
    /// is congested: bound to a connection, with a backlog at or above the high
    /// watermark (the publisher should hold back, see [`Self::wait_for_drain`]);
    /// `None` once the session has ended (the delivery is dropped).
    pub fn deliver(&self, d: Delivery) -> Option<bool> {
        self.push(std::iter::once(Inbound::Deliver(d)))
    }

    fn push(&self, msgs: impl IntoIterator<Item = Inbound>) -> Option<bool> {
        if self.is_closed() {
            return None;
        }
        let (wake, congested) = {
            let mut inbox = self.inbox.lock();
            // Checked again under the lock `close` takes: a delivery is
            // either refused here (and counted by the caller) or taken, and
            // counted, by `close`.
            if self.is_closed() {
                return None;
            }
            for msg in msgs {
                match msg {
                    Inbound::Deliver(ref d) => {
                        inbox.pushed += 1;
                        // A durable session's QoS 1/2 delivery: the publisher's
                        // ack waits until this session has stored it.
                        if d.message.qos != roost_protocol::QoS::AtMostOnce
                            && self.stored.load(Ordering::Relaxed)
                        {
                            if let Some(gate) = join_gate() {
                                let n = inbox.pushed;
                                inbox.gates.push_back((n, gate));
                            }
                        }
                        inbox.deliveries.push_back(msg)
                    }
                    // The connection is going (handled before any delivery):
                    // from now on publishers are not held back for it. The
                    // next run records the binding as it really is.
                    Inbound::Detach { .. } => {
                        inbox.bound = false;
                        inbox.control.push_back(msg)
                    }
                    _ => inbox.control.push_back(msg),
                }
            }
            self.depth.store(inbox.len(), Ordering::Relaxed);
            let congested = inbox.bound && inbox.backlog() >= self.high;
            (!std::mem::replace(&mut inbox.wake_pending, true), congested)
        };
        if wake {
            self.wake();
        }
        Some(congested)
    }

    /// Registers `conn` to be resumed once this session's backlog
    /// is down to the low watermark, or it is unbound or ended. False, and
    /// nothing registered, if that is already so (decided under the lock the
    /// session takes to wake its waiters, so a wake-up is never missed).
    pub fn wait_for_drain(&self, conn: &Arc<dyn Waiter>) -> bool {
        let mut inbox = self.inbox.lock();
        if self.is_closed() || !inbox.bound || inbox.backlog() <= self.low {
            return false;
        }
        if !inbox.waiters.iter().any(|w| w.id() == conn.id()) {
            inbox.waiters.push(conn.clone());
        }
        true
    }

    /// Records the session's state after a run of inbox messages (its MQueue's
    /// length, whether it is bound) and lets its waiting publishers go once it
    /// has drained to the low watermark or is no longer bound (a session without
    /// its connection will not drain soon: its queue's drop policy applies).
    pub(crate) fn note_backlog(&self, queued: usize, bound: bool) {
        let waiters = {
            let mut inbox = self.inbox.lock();
            inbox.held = queued;
            inbox.bound = bound;
            if inbox.waiters.is_empty() || (bound && inbox.backlog() > self.low) {
                return;
            }
            std::mem::take(&mut inbox.waiters)
        };
        resume(waiters);
    }

    /// Asks the current actor to drain the inbox. If there is none, a
    /// hibernating session gets a new actor; one being restarted after a
    /// crash is drained by the next actor when it starts.
    pub(crate) fn wake(&self) {
        if let Some(actor) = self.actor.read().as_ref() {
            let _ = actor.cast(SessionMsg::Wake);
            return;
        }
        self.wake_from_hibernation();
    }

    /// Puts the session to sleep if `idle` holds for its state and its inbox is
    /// empty: the caller (its actor) then stops normally. Checked and done under
    /// the state and inbox locks (in that order, as a will published under the
    /// state lock may deliver to this very session), so a message queued after
    /// the check finds no actor and wakes the session.
    pub(crate) fn hibernate(
        &self,
        ctx: &Arc<SessionContext>,
        idle: impl FnOnce(&mut LiveSession) -> bool,
    ) -> bool {
        let mut d = self.live.lock();
        if !idle(&mut d) {
            return false;
        }
        let mut inbox = self.inbox.lock();
        if inbox.len() > 0 {
            return false;
        }
        *self.actor.write() = None;
        // A Wake still on its way dies with the actor: the next message wakes.
        inbox.wake_pending = false;
        self.fall_asleep(ctx);
        true
    }

    /// Binds a session just created for a new client without starting its
    /// actor: it starts asleep, as if it had hibernated at once, and its first
    /// message or call starts the actor (a client that only connects and pings,
    /// the common idle device, never costs a session actor). Nothing to resend,
    /// no will to publish and no timer to arm in a new session, so the bind is
    /// only the state [`LiveSession::attach`] records.
    pub(crate) fn bind_asleep(
        &self,
        ctx: &Arc<SessionContext>,
        bind: super::BindArgs,
    ) -> super::BindReply {
        self.set_client(bind.client);
        {
            let mut d = self.live.lock();
            d.attach(bind.binding, bind.will, bind.expiry);
            self.persist(ctx, &d, None);
        }
        // Bound from now on, for publishers too: without this, a session that
        // had not yet run held nobody back, and a fast publisher could
        // overflow its queue before its first run recorded the binding.
        self.inbox.lock().bound = true;
        self.fall_asleep(ctx);
        super::BindReply {
            session_present: false,
            awaiting_rel: Vec::new(),
        }
    }

    /// A session restored from the durable store at start-up: asleep (no
    /// actor) until its first message, call or deadline.
    pub(crate) fn restore_asleep(&self, ctx: &Arc<SessionContext>) {
        self.stored.store(true, Ordering::Relaxed);
        self.mark_asleep(ctx);
        self.idle.fell_asleep();
    }

    /// Marks the session asleep: no actor until its next message or call.
    fn fall_asleep(&self, ctx: &Arc<SessionContext>) {
        self.mark_asleep(ctx);
        self.idle.fell_asleep();
        ctx.metrics.session_hibernated.inc();
    }

    /// The sleeping mark and the gauge: set on falling asleep, and again when a
    /// wake-up could not start an actor (the mark was taken, see
    /// [`Self::take_sleeping`]).
    fn mark_asleep(&self, ctx: &Arc<SessionContext>) {
        *self.sleeping.lock() = Some(Arc::downgrade(ctx));
        ctx.sessions_hibernating.fetch_add(1, Ordering::Relaxed);
    }

    /// The hibernation sweep: asks a running actor that had no message for
    /// `idle_ms` to hibernate (it decides, see `Session`'s Hibernate).
    pub(crate) fn nudge(&self, now_ms: u64, idle_ms: u64) {
        if !self.idle.quiet_for(now_ms, idle_ms) {
            return;
        }
        if let Some(actor) = self.actor.read().as_ref() {
            let _ = actor.cast(SessionMsg::Hibernate);
        }
    }

    /// Broker shutdown, phase 1, for a hibernating session without waking it
    /// (a wake-up per session would make shutdown take seconds per thousand):
    /// publishes the will of its connected client. False if the session has an
    /// actor, which is asked instead.
    pub fn publish_will_if_asleep(&self, ctx: &BrokerContext) -> bool {
        let mut d = self.live.lock();
        if !self.is_hibernating() {
            return false;
        }
        if d.binding.is_some() {
            d.publish_will_in(ctx, &self.client_id);
            self.persist(ctx, &d, None);
        }
        true
    }

    /// Broker shutdown, phase 2, for a hibernating session: closes its
    /// connection (DISCONNECT 0x8B for 5.0). False if the session has an actor.
    pub fn close_connection_if_asleep(&self) -> bool {
        let d = self.live.lock();
        if !self.is_hibernating() {
            return false;
        }
        if let Some(b) = &d.binding {
            b.conn.kick(ReasonCode::ServerShuttingDown);
        }
        true
    }

    /// Whether the session hibernates (no actor until a message comes).
    pub fn is_hibernating(&self) -> bool {
        self.sleeping.lock().is_some()
    }

    /// When the session fell asleep, if it hibernates.
    pub fn hibernating_since(&self) -> Option<std::time::SystemTime> {
        self.is_hibernating().then(|| self.idle.slept_at())
    }

    /// Ends the hibernation, if the session hibernates: returns the broker it
    /// lives in. Exactly one caller gets it.
    fn take_sleeping(&self) -> Option<Arc<SessionContext>> {
        let ctx = self.sleeping.lock().take()?.upgrade()?;
        ctx.sessions_hibernating.fetch_sub(1, Ordering::Relaxed);
        ctx.metrics.session_woken.inc();
        Some(ctx)
    }

    /// Starts a new actor on a hibernating session, from any context (a
    /// publisher's `send` is synchronous): a task asks the sessions supervisor,
    /// whose unique child ids keep it to one actor. False if the session was
    /// not hibernating.
    fn wake_from_hibernation(&self) -> bool {
        if self.is_closed() {
            // An ended session gets no new actor (see `Session::pre_start`).
            return false;
        }
        let closing = self
            .sleeping
            .lock()
            .as_ref()
            .and_then(Weak::upgrade)
            .is_some_and(|ctx| ctx.closing.load(Ordering::Relaxed));
        if closing {
            // Shutdown is closing the connections: their Detaches need no actor.
            return false;
        }
        let Some(ctx) = self.take_sleeping() else {
            return false;
        };
        let (Some(me), Ok(rt)) = (self.me.upgrade(), tokio::runtime::Handle::try_current()) else {
            // No runtime to start an actor in (not from a broker task): still asleep.
            self.mark_asleep(&ctx);
            return false;
        };
        self.waking.store(true, Ordering::Relaxed);
        rt.spawn(async move {
            let started = super::ensure_actor(&ctx, &me).await;
            me.waking.store(false, Ordering::Relaxed);
            if let Err(error) = started {
                tracing::warn!(client_id = %me.client_id, %error, "session_wake_failed");
                // Still asleep: the next message or call tries again (unless
                // it ended meanwhile: then it never wakes again).
                if me.actor().is_none() && !me.is_closed() {
                    me.mark_asleep(&ctx);
                }
            }
        });
        true
    }

    /// Removes and returns up to `max` messages from the front, control
    /// first. Their handling never awaits: the caller handles them without an
    /// `.await` in between, so a kill cannot land halfway and popping them
    /// first loses nothing. Taking none means the inbox is empty: the next
    /// message sends a new Wake.
    pub(crate) fn take_run(
        &self,
        max: usize,
        out: &mut Vec<Inbound>,
        gates: &mut Vec<Arc<AckGate>>,
    ) {
        let mut inbox = self.inbox.lock();
        // One allocation for the run instead of growing through 4, 8, 16...
        out.reserve(inbox.len().min(max));
        while out.len() < max {
            match inbox.control.pop_front() {
                Some(c) => out.push(c),
                None => match inbox.deliveries.pop_front() {
                    Some(d) => {
                        // Still queued, for publishers, until the run ends.
                        inbox.held += 1;
                        inbox.taken += 1;
                        out.push(d)
                    }
                    None => break,
                },
            }
        }
        if out.is_empty() {
            inbox.wake_pending = false;
        }
        while inbox.gates.front().is_some_and(|(n, _)| *n <= inbox.taken) {
            let (_, gate) = inbox.gates.pop_front().expect("front exists");
            gates.push(gate);
        }
        self.depth.store(inbox.len(), Ordering::Relaxed);
    }

    /// Records the session's new actor (which also ends a hibernation, when
    /// the registry started it for a bind rather than a message).
    pub(crate) fn set_actor(&self, actor: ActorRef<SessionMsg>) {
        self.take_sleeping();
        *self.actor.write() = Some(actor);
    }

    /// The current actor, if one is running.
    pub fn actor(&self) -> Option<ActorRef<SessionMsg>> {
        self.actor
            .read()
            .clone()
            .filter(|a| !matches!(a.get_status(), ActorStatus::Stopped | ActorStatus::Stopping))
    }

    /// Marks the session ended: later messages are refused, and publishers
    /// waiting for it to drain go on. Returns the deliveries still in the
    /// inbox, for the caller to count as dropped.
    pub(crate) fn close(&self) -> Vec<Delivery> {
        self.closed.store(true, Ordering::Relaxed);
        let (waiters, gates, left) = {
            let mut inbox = self.inbox.lock();
            let left = std::mem::take(&mut inbox.deliveries);
            self.depth.store(inbox.len(), Ordering::Relaxed);
            (
                std::mem::take(&mut inbox.waiters),
                std::mem::take(&mut inbox.gates),
                left,
            )
        };
        resume(waiters);
        // The session ended: its deliveries are dropped, nobody waits for them.
        for (_, gate) in gates {
            gate.release();
        }
        left.into_iter()
            .filter_map(|m| match m {
                Inbound::Deliver(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Calls the session actor, waiting out a restart (up to `patience`) or a
    /// wake-up from hibernation: a call that meets a dead actor is sent again
    /// to its successor.
    pub async fn call<T: Send + 'static>(
        &self,
        make: impl Fn(RpcReplyPort<T>) -> SessionMsg,
        timeout: Duration,
        patience: Duration,
    ) -> Result<T, String> {
        let mut deadline = tokio::time::Instant::now() + patience;
        loop {
            let actor = self.actor();
            if actor.is_none() && self.is_closed() {
                // Ended: no successor will answer.
                return Err("session ended".into());
            }
            if actor.is_none()
                && (self.wake_from_hibernation() || self.waking.load(Ordering::Relaxed))
            {
                deadline = deadline.max(tokio::time::Instant::now() + WAKE_PATIENCE);
            }
            if let Some(actor) = actor {
                match actor.call(&make, Some(timeout)).await {
                    Ok(ractor::rpc::CallResult::Success(v)) => return Ok(v),
                    Ok(ractor::rpc::CallResult::Timeout) => {
                        return Err("session call timed out".into())
                    }
                    // The actor died while handling the call: try its successor.
                    Ok(ractor::rpc::CallResult::SenderError) | Err(_) => {}
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err("session actor not running".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Mailbox for SessionHandle {
    fn deliver(&self, d: Delivery) -> Option<bool> {
        SessionHandle::deliver(self, d)
    }

    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool {
        SessionHandle::wait_for_drain(self, waiter)
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::watermarks;

    #[test]
    fn watermarks_are_four_and_two_windows_within_half_the_queue() {
        // The defaults: a queue of 1,000, a window of 32.
        assert_eq!(watermarks(1000, 32), (128, 64));
        // Unbounded: the same.
        assert_eq!(watermarks(0, 32), (128, 64));
        assert_eq!(watermarks(1000, 100), (400, 200));
        // A small queue caps the high mark at half of it.
        assert_eq!(watermarks(20, 32), (10, 5));
        // A tiny queue still holds publishers back before it overflows.
        assert_eq!(watermarks(1, 32), (1, 0));
        // A window of 0 counts as 1.
        assert_eq!(watermarks(1000, 0), (4, 2));
    }
}
