//! The session: one per client id, outliving its connections and its own crashes.
//!
//! The session's state and inbox live in a [`SessionHandle`] held by the topic
//! index, the registry and the bound connection; the session actor is the worker
//! that drains the inbox (deliveries, acks, subscribes, detaches) and answers
//! calls (bind, end). It assigns packet ids and hands packets to its connection
//! actor, or queues them while the client is offline. A reconnecting client is
//! re-bound to the same session (takeover is re-binding, not copying state). A
//! killed session actor is restarted by the sessions supervisor on the same
//! handle: nothing is lost, at most a message is resent with DUP.
//!
//! An idle session hibernates (EMQX's hibernate after `idle_timeout`): bound to
//! a live connection, nothing in flight or queued, no timer armed and no
//! message for `mqtt.idle_timeout` (the registry's sweep asks), its actor
//! stops normally and the handle records that it sleeps (the session stays in
//! the session table and the topic index). The next message or call starts a
//! new actor on the handle.

mod client_conn;
mod context;
pub mod data;
pub mod durable;
pub mod durable_entries;
#[cfg(test)]
mod hand_over_tests;
pub mod handle;
mod live;
pub mod queue;
mod relay;
mod subscriptions;

pub use client_conn::{ClientConn, Outgoing};
pub(crate) use context::ensure_actor;
pub use context::{session_child_id, ExpireNotice, SessionContext, SessionTable, SESSIONS_NAME};
use data::SubscriptionRecord;
pub use handle::{Inbound, SessionHandle};
use live::{Cx, LiveSession};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_core::hooks::{DropReason, HookPoint, TerminateReason};
pub use roost_core::session::{SessionSnapshot, SubscriptionSnapshot};
use roost_core::ClientInfo;
pub use roost_core::Delivery;
use roost_protocol::{ProtocolVersion, ReasonCode, SubscriptionOptions, Will};
use std::sync::Arc;

/// Inbox messages handled per Wake before other mailbox messages get a turn.
const DRAIN_BATCH: usize = 256;

/// The connection a session is bound to, and what it negotiated.
#[derive(Debug, Clone)]
pub struct Binding {
    pub conn: Arc<dyn ClientConn>,
    pub version: ProtocolVersion,
    /// The client's Receive Maximum (65535 if absent).
    pub receive_maximum: u16,
}

/// What a connection asks of the session when it binds.
#[derive(Clone)]
pub struct BindArgs {
    pub binding: Binding,
    /// Who connects (for the session's hooks).
    pub client: Arc<ClientInfo>,
    pub clean_start: bool,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry: u32,
    pub will: Option<Will>,
}

/// The session's answer to a bind.
pub struct BindReply {
    pub session_present: bool,
    /// Inbound QoS 2 packet ids still awaiting PUBREL [MQTT-4.3.3-*].
    pub awaiting_rel: Vec<u16>,
}

/// The session actor's mailbox (the durable messages travel in the handle's inbox).
pub enum SessionMsg {
    /// The inbox has messages.
    Wake,
    /// From the registry: bind a new connection.
    Bind(Box<BindArgs>, RpcReplyPort<BindReply>),
    /// From the registry: end the session if it is still unbound at `generation`.
    TryEnd(u64, RpcReplyPort<bool>),
    WillTimer(u64),
    ExpiryTimer(u64),
    /// Resend old inflight messages (3.1.1 clients only).
    Retry,
    /// Hibernate if nothing happened for `mqtt.idle_timeout`.
    Hibernate,
    /// Broker shutdown, phase 1: publish the will of a connected client now.
    PublishWillNow(RpcReplyPort<()>),
    /// Broker shutdown, phase 2: close the connection (DISCONNECT 0x8B).
    Shutdown(RpcReplyPort<()>),
    /// Cross-node takeover: the client connected to another node. Close the
    /// connection (0x8E), end the session here and, if `resume`, reply with
    /// what the other node needs to continue it.
    HandOver {
        resume: bool,
        /// The node that took it over: what still reaches the session here is
        /// relayed there for `cluster.takeover_linger` (`relay.rs`).
        to: Arc<str>,
        reply: RpcReplyPort<Option<SessionSnapshot>>,
    },
    /// Lossless takeover, old node: the new node restored the session.
    RelayReady(Arc<str>),
    /// Lossless takeover, old node: the linger is over.
    RelayDone,
    /// Lossless takeover, new node: what the old node relayed.
    Relayed(Vec<Delivery>),
    /// Lossless takeover, new node: the old node (named) relayed everything.
    RelayEnd(Arc<str>),
    /// From the broker API: subscribe to `filters` on the client's behalf.
    Subscribe(
        Vec<(String, SubscriptionOptions)>,
        RpcReplyPort<Vec<ReasonCode>>,
    ),
    /// From the broker API: unsubscribe from `filters` on the client's behalf.
    Unsubscribe(Vec<String>, RpcReplyPort<Vec<ReasonCode>>),
    /// From the registry, before the first bind: a session that moved here from
    /// another node.
    Restore(Box<SessionSnapshot>, RpcReplyPort<()>),
}

ractor_message!(SessionMsg);

/// Start-up arguments: the handle (the same one on every restart).
#[derive(Clone)]
pub struct SessionArgs {
    pub ctx: Arc<SessionContext>,
    pub handle: Arc<SessionHandle>,
}

pub struct SessionState {
    /// Started for a session that had ended (see `Session::pre_start`): it
    /// does nothing and stops.
    ended: bool,
    handle: Arc<SessionHandle>,
    cx: Cx,
    /// A takeover by another node that waits for the relay into this session
    /// (it moved here moments ago) to end, so the session moves whole.
    pending_hand_over: Option<PendingHandOver>,
}

/// A [`SessionMsg::HandOver`] put off (see `pending_hand_over`).
struct PendingHandOver {
    resume: bool,
    to: Arc<str>,
    reply: RpcReplyPort<Option<SessionSnapshot>>,
}

/// What a takeover's kick of the bound connection found.
enum Kicked {
    /// No connection was bound.
    Nobody,
    /// It closed and handed back its inbound QoS 2 packet ids awaiting PUBREL.
    Answered(Vec<u16>),
    /// It ended while asked: its Detach, with that state, was in the inbox
    /// and has been taken in.
    Gone,
}

/// The session actor.
#[derive(Clone, Copy)]
pub struct Session;

impl Actor for Session {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        // Started for a session that has ended meanwhile (a wake-up, or a
        // restart, that raced the session's end): this actor must not take
        // the ended session over. It would run on for good under the
        // session's child id, and the client's next session could never
        // start its own actor (`AlreadyStarted`). It stops at once instead,
        // normally, which frees the id. Checked here, where the supervisor
        // starts it: the actor that ended the session closed it before it
        // stopped, and this one only starts once that one's exit is handled.
        let ended = args.handle.is_closed();
        if ended {
            myself.stop(Some("session_ended".into()));
        } else {
            args.handle.set_actor(myself.clone());
            args.ctx
                .mailboxes
                .register(myself.get_id(), args.handle.depth.clone());
        }
        Ok(SessionState {
            ended,
            cx: Cx {
                ctx: args.ctx,
                client_id: args.handle.client_id.clone(),
                myself,
                out: data::Effects::default(),
                now: None,
                retry_timer: None,
                retry_armed: false,
                detach_timers: Vec::new(),
            },
            handle: args.handle,
            pending_hand_over: None,
        })
    }

    /// Picks up where a killed (or hibernated) predecessor stopped: re-arms
    /// timers, drains what waits in the inbox. A hibernated predecessor left
    /// nothing in flight or queued, so nothing is resent. No monitor on the
    /// connection: it tells its session itself when it ends, however it ends
    /// (see `ConnState`'s Drop), through the inbox that outlives this actor.
    async fn post_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if st.ended {
            return Ok(());
        }
        {
            let mut d = st.handle.live.lock();
            match &d.binding {
                Some(_) => {
                    // The predecessor may have died before its last packets left:
                    // resend what is unacknowledged (the client sees at most a DUP).
                    d.resend_inflight(&mut st.cx);
                    d.drain_mqueue(&mut st.cx);
                }
                None => {
                    if let Some(at) = d.data.detached_at {
                        let elapsed = at.elapsed();
                        d.arm_timers(&mut st.cx, elapsed);
                    }
                }
            }
        }
        st.handle.idle.touch(st.cx.ctx.uptime_ms());
        st.rearm_relay();
        st.drain_inbox();
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<SessionMsg>,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        st.cx.ctx.mailboxes.unregister(myself.get_id());
        st.cx.abort_detach_timers();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if st.ended {
            // Nothing reaches it (the handle never knew it); its Stop comes first.
            return Ok(());
        }
        st.cx.now = None;
        if !matches!(msg, SessionMsg::Hibernate) {
            st.handle.idle.touch(st.cx.ctx.uptime_ms());
        }
        // A retry only resends; a hibernation changes nothing kept.
        let changes = !matches!(
            msg,
            SessionMsg::Hibernate | SessionMsg::Retry | SessionMsg::Wake
        );
        match msg {
            SessionMsg::Wake => st.drain_inbox(),
            SessionMsg::Bind(args, reply) => {
                // Boxed, like the other rare and large paths: the actor's task
                // holds its largest handler future for its whole life.
                let r = Box::pin(st.bind(*args)).await;
                {
                    let d = st.handle.live.lock();
                    st.handle
                        .note_backlog(d.data.mqueue.len(), d.binding.is_some());
                }
                st.flush();
                let _ = reply.send(r);
            }
            SessionMsg::Hibernate => {
                if st.try_hibernate() {
                    tracing::debug!(client_id = %st.cx.client_id, "session_hibernated");
                    myself.stop(Some("hibernate".into()));
                    return Ok(());
                }
            }
            SessionMsg::TryEnd(generation, reply) => {
                let end = {
                    let d = st.handle.live.lock();
                    generation == d.data.generation && d.binding.is_none()
                };
                if end {
                    Box::pin(st.end()).await;
                }
                let _ = reply.send(end);
                if end {
                    myself.stop(Some("session_expired".into()));
                }
            }
            SessionMsg::Retry => st.handle.live.lock().retry(&mut st.cx),
            SessionMsg::WillTimer(generation) => {
                let mut d = st.handle.live.lock();
                if generation == d.data.generation && d.binding.is_none() {
                    d.publish_will(&mut st.cx);
                }
            }
            SessionMsg::ExpiryTimer(generation) => {
                let unbound = {
                    let d = st.handle.live.lock();
                    generation == d.data.generation && d.binding.is_none()
                };
                if unbound {
                    st.cx.ctx.expired(st.cx.client_id.clone(), generation);
                }
            }
            SessionMsg::PublishWillNow(reply) => {
                let mut d = st.handle.live.lock();
                if d.binding.is_some() {
                    d.publish_will(&mut st.cx);
                }
                let _ = reply.send(());
            }
            SessionMsg::HandOver { resume, to, reply } => {
                let p = PendingHandOver { resume, to, reply };
                if st.relaying_in() {
                    st.pending_hand_over = Some(p);
                } else {
                    Box::pin(st.finish_hand_over(p)).await;
                }
                return Ok(());
            }
            SessionMsg::RelayReady(node) => st.relay_ready(&node),
            SessionMsg::RelayDone => {
                if Box::pin(st.relay_done()).await {
                    st.save();
                    myself.stop(Some("session_taken_over".into()));
                }
                return Ok(());
            }
            SessionMsg::Relayed(deliveries) => st.take_relayed(deliveries),
            SessionMsg::RelayEnd(node) => {
                st.end_relay_from(&node);
                if !st.relaying_in() {
                    if let Some(p) = st.pending_hand_over.take() {
                        st.flush();
                        Box::pin(st.finish_hand_over(p)).await;
                        return Ok(());
                    }
                }
            }
            SessionMsg::Subscribe(filters, reply) => {
                Box::pin(st.subscribe_for_api(filters, reply)).await;
            }
            SessionMsg::Unsubscribe(filters, reply) => {
                let codes = Box::pin(st.remove_filters(filters)).await;
                let _ = reply.send(codes);
            }
            SessionMsg::Restore(t, reply) => {
                let from = t.moved_from.clone();
                Box::pin(st.restore(*t)).await;
                st.save();
                if let Some(from) = from {
                    st.tell_ready(&from);
                }
                let _ = reply.send(());
            }
            SessionMsg::Shutdown(reply) => {
                if let Some(b) = &st.handle.live.lock().binding {
                    b.conn.kick(ReasonCode::ServerShuttingDown);
                }
                let _ = reply.send(());
            }
        }
        if changes {
            st.save();
        }
        st.flush();
        Ok(())
    }
}

impl SessionState {
    /// The registry's sweep found the actor quiet for `mqtt.idle_timeout`:
    /// hibernates if the session is idle (see [`LiveSession::is_idle`]). An
    /// unbound session leaves the sweep until its next message (a bind). True
    /// if the actor must stop now.
    fn try_hibernate(&mut self) -> bool {
        let now = self.cx.ctx.uptime_ms();
        // A message came after the sweep looked.
        if !self
            .handle
            .idle
            .quiet_for(now, self.cx.ctx.idle_timeout_ms())
        {
            return false;
        }
        let mut bound = false;
        let slept = self.handle.hibernate(&self.cx.ctx, |d| {
            bound = d.binding.is_some();
            d.is_idle()
        });
        if slept {
            if let Some(t) = self.cx.retry_timer.take() {
                t.abort();
            }
        } else if bound {
            // Busy (in flight, queued): asked again after another idle timeout.
            self.handle.idle.touch(now);
        } else {
            self.handle.idle.not_idle();
        }
        slept
    }

    /// Writes the session to the durable store (see `durable.rs`): its
    /// record, or its removal once it has ended.
    fn save(&mut self) {
        let d = self.handle.live.lock();
        self.handle.persist(&self.cx.ctx, &d, None);
    }

    /// [`Self::save`], then, once the store has the record durably, lets the
    /// publishers of the durable deliveries it holds send their acks.
    fn save_then_release(&mut self, gates: Vec<Arc<durable::AckGate>>) {
        let done: Option<roost_core::storage::Done> = (!gates.is_empty()).then(|| {
            Box::new(move |r: Result<(), roost_core::storage::StorageError>| {
                if let Err(error) = r {
                    tracing::error!(%error, "durable_delivery_not_stored");
                }
                for g in gates {
                    g.release();
                }
            }) as roost_core::storage::Done
        });
        let d = self.handle.live.lock();
        self.handle.persist(&self.cx.ctx, &d, done);
    }

    /// Sends the gathered packets to the bound connection in one cast (and
    /// what a relaying session gathered to its new node).
    fn flush(&mut self) {
        self.relay_out();
        if self.cx.out.outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.cx.out.outbox);
        let (refused, reason) = match &self.handle.live.lock().binding {
            // A closed connection is noticed through its Detach; the inflight
            // messages are resent on the next bind.
            Some(b) => (b.conn.send(batch), DropReason::QueueFull),
            // Unbound during this run (a Detach after deliveries): the QoS
            // 1/2 messages stay in flight; the QoS 0 ones are lost, counted.
            None => (qos0_of(batch), DropReason::Qos0Offline),
        };
        for msg in refused {
            self.cx.dropped(&msg, reason.clone());
        }
    }

    /// Handles inbox messages in order, in runs taken out and handled under
    /// one lock with no `.await` in between (a kill cannot interrupt them).
    fn drain_inbox(&mut self) {
        let mut handled = 0;
        let mut run = Vec::new();
        let mut gates = Vec::new();
        while handled < DRAIN_BATCH {
            self.handle
                .take_run(DRAIN_BATCH - handled, &mut run, &mut gates);
            if run.is_empty() {
                if handled > 0 {
                    self.save_then_release(gates);
                }
                self.flush();
                return;
            }
            handled += run.len();
            self.cx.now = None;
            let mut d = self.handle.live.lock();
            for msg in run.drain(..) {
                Self::process(&mut d, &mut self.cx, msg);
            }
            self.handle
                .note_backlog(d.data.mqueue.len(), d.binding.is_some());
        }
        self.save_then_release(gates);
        self.flush();
        // More is waiting: come back after other mailbox messages had a turn.
        let _ = self.cx.myself.cast(SessionMsg::Wake);
    }

    fn process(d: &mut LiveSession, cx: &mut Cx, msg: Inbound) {
        match msg {
            Inbound::Deliver(delivery) => d.deliver(cx, delivery),
            Inbound::PubAck(id) => d.puback(cx, id),
            Inbound::PubRec(id, reason) => d.pubrec(cx, id, reason),
            Inbound::PubComp(id) => d.pubcomp(cx, id),
            Inbound::Detach {
                conn,
                publish_will,
                expiry,
                awaiting_rel,
            } => d.detach(cx, conn, publish_will, expiry, awaiting_rel),
        }
    }

    async fn bind(&mut self, args: BindArgs) -> BindReply {
        // The old connection may have ended already and queued its Detach (with
        // its inbound QoS 2 state): take that in before deciding on a takeover.
        self.drain_inbox();
        let kicked = self.kick_connection().await;
        if !matches!(kicked, Kicked::Nobody) {
            self.notify(HookPoint::SessionTakenover, |h, id| h.session_takenover(id));
            let mut d = self.handle.live.lock();
            if let Kicked::Answered(ids) = kicked {
                d.data.merge_awaiting_rel(ids);
            }
            d.binding = None;
            // The old connection closed without DISCONNECT: its will goes out now
            // unless it has a delay, which the new connection cancels [MQTT-3.1.3-9].
            if d.data
                .will
                .as_ref()
                .is_some_and(|w| data::will_delay(w) == 0)
            {
                d.publish_will(&mut self.cx);
            }
        }
        let (session_present, clean) = {
            let mut d = self.handle.live.lock();
            // A detached session whose expiry has run out is over, even if its
            // timer has not fired yet: the client finds no session.
            let expired = d.is_expired();
            let clean = args.clean_start || expired;
            if clean {
                // Clean start ends the old session, and a session's end releases a
                // will still waiting for its delay (5.0 §3.1.2.5; EMQX: discarded).
                d.publish_will(&mut self.cx);
            }
            // Otherwise a will still waiting for its delay is cancelled by the new
            // connection [MQTT-3.1.3-9].
            d.data.will = None;
            (d.data.bound_before && !clean, clean)
        };
        if clean {
            if self.handle.live.lock().data.bound_before {
                self.notify(HookPoint::SessionDiscarded, |h, id| h.session_discarded(id));
                self.notify(HookPoint::SessionTerminated, |h, id| {
                    h.session_terminated(id, TerminateReason::Discarded)
                });
            }
            self.reset().await;
        }
        self.handle.set_client(args.client.clone());
        if session_present {
            let client = &args.client;
            self.cx
                .ctx
                .hooks
                .notify(HookPoint::SessionResumed, |h| h.session_resumed(client));
        }
        let awaiting_rel =
            self.handle
                .live
                .lock()
                .bind(&mut self.cx, args.binding, args.will, args.expiry);
        BindReply {
            session_present,
            awaiting_rel,
        }
    }

    /// Hands the session over to another node and answers; the session
    /// stops here, or stays as a relay for the linger (`relay.rs`).
    async fn finish_hand_over(&mut self, p: PendingHandOver) {
        let r = Box::pin(self.hand_over(p.resume, p.to)).await;
        // The session lives on the other node now: its record goes.
        self.save();
        let _ = p.reply.send(r);
        self.flush();
        if self.handle.live.lock().relay.is_none() {
            self.cx.myself.stop(Some("session_taken_over".into()));
        }
    }

    /// Takeover [MQTT-3.1.4-3]: closes the bound connection (if any) with 0x8E.
    async fn kick_connection(&mut self) -> Kicked {
        let Some(old) = self.handle.live.lock().binding.clone() else {
            return Kicked::Nobody;
        };
        match old.conn.kick_for_takeover().await {
            Some(ids) => Kicked::Answered(ids),
            None => {
                old.conn.stop();
                self.drain_inbox();
                Kicked::Gone
            }
        }
    }

    /// Empties the session's subscriptions and gives them (their routes are
    /// the caller's to remove).
    fn take_subscriptions(&self) -> Vec<SubscriptionRecord> {
        let mut d = self.handle.live.lock();
        d.data.subscriptions.drain().map(|(_, r)| r).collect()
    }

    /// Cross-node takeover: closes the connection with 0x8E [MQTT-3.1.4-3],
    /// ends the session here and hands over its subscriptions and messages.
    async fn hand_over(&mut self, resume: bool, to: Arc<str>) -> Option<SessionSnapshot> {
        self.drain_inbox();
        // It moves on before the relay into it ended: what it held goes too.
        self.handle.live.lock().release_held(&mut self.cx);
        self.kick_connection().await;
        let linger = self
            .cx
            .ctx
            .router
            .cluster()
            .map_or(std::time::Duration::ZERO, |c| c.takeover_linger());
        let transferred = {
            let mut d = self.handle.live.lock();
            d.binding = None;
            // The old connection ended without DISCONNECT: its will goes out,
            // unless it has a delay and the session continues on the other node,
            // which cancels it [MQTT-3.1.3-9].
            let delayed = d
                .data
                .will
                .as_ref()
                .is_some_and(|w| data::will_delay(w) > 0);
            if !(resume && delayed) {
                d.publish_will(&mut self.cx);
            }
            d.data.will = None;
            resume.then(|| d.data.transfer())
        };
        // Unbound now: the publishers it held back go at once, not when the
        // relay's linger ends (or their pause times out).
        let queued = self.handle.live.lock().data.mqueue.len();
        self.handle.note_backlog(queued, false);
        if resume && !linger.is_zero() {
            // Lossless takeover: the routes stay, what comes is relayed.
            self.start_relay_to(to, linger);
            self.cx
                .ctx
                .sessions
                .remove_if(&self.cx.client_id, |_, h| Arc::ptr_eq(h, &self.handle));
            self.notify(HookPoint::SessionTakenover, |h, id| h.session_takenover(id));
            self.notify(HookPoint::SessionTerminated, |h, id| {
                h.session_terminated(id, TerminateReason::Takenover)
            });
            return transferred;
        }
        // Ends here quietly: the messages went with the transfer (or the other
        // node starts clean), so nothing is redispatched to shared-group peers
        // that the new session will receive again.
        let subs = self.take_subscriptions();
        for r in &subs {
            self.remove_route(&r.filter, r.group.clone()).await;
        }
        self.dropped_at_close();
        self.cx
            .ctx
            .sessions
            .remove_if(&self.cx.client_id, |_, h| Arc::ptr_eq(h, &self.handle));
        self.notify(HookPoint::SessionTakenover, |h, id| h.session_takenover(id));
        self.notify(HookPoint::SessionTerminated, |h, id| {
            h.session_terminated(id, TerminateReason::Takenover)
        });
        transferred
    }

    /// Re-creates the subscriptions of a session that moved here from another
    /// node, before its first bind.
    pub(crate) async fn restore(&mut self, t: SessionSnapshot) {
        if let Some(from) = &t.moved_from {
            // Before the subscriptions: what reaches them directly is held.
            self.start_relay_from(from.as_str().into());
        }
        for s in t.subscriptions {
            let Some(record) = SubscriptionRecord::from_snapshot(&s) else {
                continue;
            };
            self.add_subscription(s.raw, record).await;
        }
        // After the awaits of the subscribes: the time is read again.
        self.cx.now = None;
        let mut d = self.handle.live.lock();
        d.data.expiry = t.expiry;
        d.data.bound_before = true;
        for m in t.messages {
            d.deliver_now(&mut self.cx, m);
        }
    }

    /// Ends the session: its will goes out, its routes are removed and its
    /// shared-subscription messages go to other members.
    async fn end(&mut self) {
        self.handle.live.lock().publish_will(&mut self.cx);
        self.reset().await;
        self.dropped_at_close();
        self.notify(HookPoint::SessionTerminated, |h, id| {
            h.session_terminated(id, TerminateReason::Expired)
        });
    }

    /// Closes the handle; the deliveries that were still in its inbox are
    /// dropped and counted (`delivery.dropped.no_session`).
    fn dropped_at_close(&mut self) {
        for d in self.handle.close() {
            self.cx.dropped(&d.message, DropReason::NoSession);
        }
    }

    /// Tells the hooks at `point` about this session.
    fn notify(&self, point: HookPoint, f: impl Fn(&Arc<dyn roost_core::Hook>, &str)) {
        let id = &self.cx.client_id;
        self.cx.ctx.hooks.notify(point, |h| f(h, id));
    }

    /// Drops every subscription and message (clean start, or end of session).
    /// Routes are removed before the records, so a kill in between only repeats
    /// idempotent removals.
    async fn reset(&mut self) {
        let subs: Vec<SubscriptionRecord> = self
            .handle
            .live
            .lock()
            .data
            .subscriptions
            .values()
            .cloned()
            .collect();
        for r in &subs {
            self.remove_route(&r.filter, r.group.clone()).await;
        }
        let pending = {
            let mut d = self.handle.live.lock();
            d.data.subscriptions.clear();
            d.take_messages(&mut self.cx)
        };
        for d in pending {
            let key = d
                .shared
                .clone()
                .expect("only shared deliveries are returned");
            let msg = d.message.clone();
            if !self.cx.ctx.router.redispatch(&key, d, &self.cx.client_id) {
                self.cx.dropped(&msg, DropReason::NoGroupMember);
            }
        }
    }
}

/// The QoS 0 messages of `batch`.
pub(crate) fn qos0_of(batch: Vec<Outgoing>) -> Vec<Arc<roost_core::Message>> {
    batch
        .into_iter()
        .filter_map(|out| match out {
            Outgoing::Publish {
                message,
                qos: roost_protocol::QoS::AtMostOnce,
                ..
            } => Some(message),
            _ => None,
        })
        .collect()
}
