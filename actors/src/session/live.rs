//! The live side of a session's state: the connection bound to it, next to its
//! plain [`SessionData`], and what the running actor lends the rules ([`Cx`]):
//! the clock, the limits, and the hands that carry out their [`Effects`]
//! (packets to the connection, counters and hooks, timers). Every method here
//! runs under the handle's lock and never awaits, so a kill (which only lands
//! at an await) never sees the state half changed.

use super::data::{Effects, Limits, Peer, SessionData, Terms};
use super::{Binding, Delivery, SessionContext, SessionMsg};
use crate::context::{BrokerContext, ConnId};
use ractor::ActorRef;
use roost_core::hooks::{DropReason, HookPoint};
use roost_core::Message;
use roost_protocol::{ReasonCode, Will};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the running actor lends to the state's methods.
pub struct Cx {
    pub ctx: Arc<SessionContext>,
    pub client_id: Arc<str>,
    pub myself: ActorRef<SessionMsg>,
    /// What the rules asked while handling one message; its packets are sent
    /// in one cast.
    pub out: Effects,
    /// The clock read once per run of inbox messages, and again after an
    /// await (see [`Cx::now`]).
    pub now: Option<Instant>,
    /// The armed retry timer, aborted when the actor hibernates (its task
    /// would keep the stopped actor's mailbox alive until it fires).
    pub retry_timer: Option<ractor::concurrency::JoinHandle<RetrySent>>,
    /// The retry timer is armed and has not fired yet (it dies with the actor,
    /// and so does this).
    pub retry_armed: bool,
    /// The will-delay and expiry timers armed when the connection went,
    /// aborted when a connection binds again or the actor stops (stale, they
    /// would do nothing when they fire, but their tasks would keep this
    /// actor's mailbox alive for up to the session expiry, hibernated or not).
    pub detach_timers: Vec<ractor::concurrency::JoinHandle<RetrySent>>,
}

/// What a timer's task returns.
pub type RetrySent = Result<(), ractor::MessagingErr<SessionMsg>>;

impl Cx {
    /// Aborts the will-delay and expiry timers of the last detach.
    pub fn abort_detach_timers(&mut self) {
        for t in self.detach_timers.drain(..) {
            t.abort();
        }
    }

    /// One delivery was dropped (counted, and told to `delivery.dropped`).
    pub fn dropped(&self, msg: &Message, reason: DropReason) {
        if self.ctx.tracer.on() {
            let who = roost_core::trace::Who {
                client_id: Some(&self.client_id),
                addr: None,
            };
            let event = roost_core::trace::TraceEvent::DeliveryDropped {
                topic: &msg.topic,
                reason: reason.as_str(),
            };
            self.ctx.tracer.trace(who, event);
        }
        crate::dropped::delivery(
            &self.ctx.metrics,
            &self.ctx.hooks,
            &self.client_id,
            msg,
            reason,
        );
    }

    /// The time for the rules (stamping sends for retry timing, expiry), read
    /// once per run of inbox messages rather than once per message: a run
    /// takes microseconds, a retry interval seconds.
    pub fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }

    /// What the rules go by now, for a session bound to `binding`.
    fn terms(&mut self, binding: Option<&Binding>) -> Terms {
        Terms {
            limits: Limits::of(&self.ctx.config.mqtt),
            peer: binding.map(|b| Peer {
                version: b.version,
                receive_maximum: b.receive_maximum,
            }),
            now: self.now(),
        }
    }

    /// Carries out what the rules asked, but the packets (sent by the actor
    /// when it has handled its message): counts the drops, tells the acks,
    /// arms the retry timer.
    fn settle(&mut self, binding: Option<&Binding>) {
        let mut dropped = std::mem::take(&mut self.out.dropped);
        for (msg, reason) in dropped.drain(..) {
            if reason == DropReason::QueueFull {
                tracing::debug!(client_id = %self.client_id, topic = %msg.topic, "message_dropped_queue_full");
            }
            self.dropped(&msg, reason);
        }
        // Its allocation is kept for the next message.
        self.out.dropped = dropped;
        for msg in self.out.acked.drain(..) {
            self.ctx.metrics.messages_acked.inc();
            if self.ctx.hooks.has(HookPoint::MessageAcked) {
                self.ctx.hooks.notify(HookPoint::MessageAcked, |h| {
                    h.message_acked(&self.client_id, &msg)
                });
            }
        }
        if std::mem::take(&mut self.out.retry) {
            self.arm_retry(binding);
        }
    }

    /// Arms the retry timer (3.1.1 only: 5.0 forbids resending except on
    /// reconnect [MQTT-4.4.0-1]).
    fn arm_retry(&mut self, binding: Option<&Binding>) {
        let every = self.ctx.config.mqtt.retry_interval;
        let v3 = binding.is_some_and(|b| !b.version.is_v5());
        if self.retry_armed || every.is_zero() || !v3 {
            return;
        }
        self.retry_armed = true;
        self.retry_timer = Some(self.myself.send_after(every, || SessionMsg::Retry));
    }
}

/// A session's state as its handle keeps it: the plain data, and the
/// connection bound to it (live, never serialised).
pub struct LiveSession {
    pub binding: Option<Binding>,
    pub data: SessionData,
    /// Its part in a cross-node takeover, while one lasts (`relay.rs`).
    pub(crate) relay: Option<Box<Relay>>,
}

impl LiveSession {
    /// Nothing to do but wait for the client or a publisher, so the actor may
    /// hibernate: bound to a live connection (a bound session arms no will or
    /// expiry timer) and nothing in flight (nothing to resend: a retry timer
    /// still armed has nothing to do) or queued.
    pub fn is_idle(&self) -> bool {
        self.binding.as_ref().is_some_and(|b| !b.conn.is_ended())
            && self.relay.is_none()
            && self.data.inflight.is_empty()
            && self.data.mqueue.is_empty()
    }

    /// Applies one rule of the data with the terms of now, then carries out
    /// what it asked.
    fn apply(&mut self, cx: &mut Cx, rule: impl FnOnce(&mut SessionData, &Terms, &mut Effects)) {
        let terms = cx.terms(self.binding.as_ref());
        rule(&mut self.data, &terms, &mut cx.out);
        cx.settle(self.binding.as_ref());
    }

    /// Accepts one delivery: send now, put in the window, or queue.
    pub fn deliver(&mut self, cx: &mut Cx, d: Delivery) {
        if let Some(d) = self.relay_takes(d) {
            self.deliver_now(cx, d);
        }
    }

    /// Delivers `d`, past any takeover relay.
    pub(crate) fn deliver_now(&mut self, cx: &mut Cx, d: Delivery) {
        // `durable_storage.max_size` reached: a durable session that is
        // offline takes no new message (EMQX-like; counted as dropped, the
        // store logs and raises its alarm). Bound sessions still deliver.
        if self.binding.is_none()
            && self.data.expiry != 0
            && cx.ctx.session_store.as_ref().is_some_and(|s| s.is_full())
        {
            cx.dropped(&d.message, DropReason::StorageFull);
            return;
        }
        self.apply(cx, |s, t, out| s.deliver(d, t, out));
    }

    /// Moves queued messages into the window while it has room.
    pub fn drain_mqueue(&mut self, cx: &mut Cx) {
        self.apply(cx, |s, t, out| s.drain_mqueue(t, out));
    }

    pub fn puback(&mut self, cx: &mut Cx, id: u16) {
        self.apply(cx, |s, t, out| s.puback(id, t, out));
    }

    pub fn pubrec(&mut self, cx: &mut Cx, id: u16, reason: ReasonCode) {
        self.apply(cx, |s, t, out| s.pubrec(id, reason, t, out));
    }

    pub fn pubcomp(&mut self, cx: &mut Cx, id: u16) {
        self.apply(cx, |s, t, out| s.pubcomp(id, t, out));
    }

    /// The retry timer fired: resends what waited `mqtt.retry_interval`.
    pub fn retry(&mut self, cx: &mut Cx) {
        cx.retry_armed = false;
        let every = cx.ctx.config.mqtt.retry_interval;
        self.apply(cx, |s, t, out| s.retry(every, t, out));
    }

    /// Sends every unacknowledged message again, in order (see
    /// [`SessionData::resend_inflight`]).
    pub fn resend_inflight(&mut self, cx: &mut Cx) {
        cx.retry_armed = false;
        self.apply(cx, |s, t, out| s.resend_inflight(t, out));
    }

    /// Binds a new connection (after the old one, if any, was kicked): the will,
    /// expiry and generation are renewed, unacknowledged messages resent in order
    /// with DUP [MQTT-4.4.0-1], and the queue drained into the window.
    pub fn bind(
        &mut self,
        cx: &mut Cx,
        binding: Binding,
        will: Option<Will>,
        expiry: u32,
    ) -> Vec<u16> {
        // After the awaits of a takeover: the time is read again.
        cx.now = None;
        cx.abort_detach_timers();
        self.attach(binding, will, expiry);
        self.resend_inflight(cx);
        self.drain_mqueue(cx);
        // The connection keeps them; a durable session keeps a copy while
        // bound, which the store holds (see `SessionHandle::note_awaiting_rel`).
        if cx.ctx.session_store.is_some() && self.data.expiry != 0 {
            self.data.awaiting_rel.clone()
        } else {
            std::mem::take(&mut self.data.awaiting_rel)
        }
    }

    /// Records a new binding (the state part of [`Self::bind`]: nothing sent).
    pub fn attach(&mut self, binding: Binding, will: Option<Will>, expiry: u32) {
        self.binding = Some(binding);
        self.data.attach(will, expiry);
    }

    /// The bound connection `conn` ended. Arms the will and expiry timers.
    pub fn detach(
        &mut self,
        cx: &mut Cx,
        conn: ConnId,
        publish_will: bool,
        expiry: Option<u32>,
        ids: Vec<u16>,
    ) {
        let current = self
            .binding
            .as_ref()
            .is_some_and(|b| b.conn.conn_id() == conn);
        if !current {
            return;
        }
        self.binding = None;
        // The connection's ids are the current ones (the copy may hold ids it
        // forgot after `await_rel_timeout`).
        self.data.awaiting_rel.clear();
        self.data.detach(cx.now(), publish_will, expiry, ids);
        self.arm_timers(cx, Duration::ZERO);
    }

    /// Whether the session is detached and its expiry has run out (its timer
    /// may not have fired yet).
    pub fn is_expired(&self) -> bool {
        self.binding.is_none() && self.data.is_expired(Instant::now())
    }

    /// Arms the will-delay and expiry timers of a detached session, `elapsed`
    /// after it was detached (non-zero when a restarted actor re-arms them).
    pub fn arm_timers(&mut self, cx: &mut Cx, elapsed: Duration) {
        let generation = self.data.generation;
        if let Some(w) = &self.data.will {
            let delay = Duration::from_secs(super::data::will_delay(w) as u64);
            if delay.is_zero() || delay <= elapsed {
                self.publish_will(cx);
            } else if super::data::will_delay(w) < self.data.expiry {
                let t = cx
                    .myself
                    .send_after(delay - elapsed, move || SessionMsg::WillTimer(generation));
                cx.detach_timers.push(t);
            }
            // Otherwise the session ends first and publishes the will then.
        }
        if self.data.expiry != u32::MAX {
            let left = Duration::from_secs(self.data.expiry as u64).saturating_sub(elapsed);
            let t = cx
                .myself
                .send_after(left, move || SessionMsg::ExpiryTimer(generation));
            cx.detach_timers.push(t);
        }
    }

    /// Publishes the will (if any) and forgets it.
    pub fn publish_will(&mut self, cx: &mut Cx) {
        self.publish_will_in(&cx.ctx, &cx.client_id);
    }

    /// [`Self::publish_will`] without an actor (a hibernating session).
    pub fn publish_will_in(&mut self, ctx: &BrokerContext, client_id: &Arc<str>) {
        let Some(will) = self.data.will.take() else {
            return;
        };
        let msg = Message::new(
            will.topic.as_str().into(),
            will.payload.clone(),
            will.qos,
            will.retain,
            client_id.clone(),
            &will.properties,
        );
        let n = ctx.publish(Arc::new(msg));
        tracing::debug!(%client_id, topic = %will.topic, deliveries = n, "will_published");
    }

    /// Empties the session's messages for a clean start or its end (see
    /// [`SessionData::take_messages`]).
    pub fn take_messages(&mut self, cx: &mut Cx) -> Vec<Delivery> {
        let mut out = Effects::default();
        let pending = self
            .data
            .take_messages(&Limits::of(&cx.ctx.config.mqtt), &mut out);
        for (msg, reason) in out.dropped {
            cx.dropped(&msg, reason);
        }
        pending
    }
}

/// A session's part in a cross-node takeover (see `relay.rs`).
pub(crate) enum Relay {
    /// This session moved to `node`: what reaches it goes there, in order,
    /// once `node` is `ready`.
    To {
        node: Arc<str>,
        ready: bool,
        out: Vec<Delivery>,
    },
    /// This session moved here from `node`, which still relays: messages
    /// that reach it directly wait in `held`; `relayed` has the content keys
    /// of what was relayed, per publisher.
    From {
        node: Arc<str>,
        held: Vec<Delivery>,
        relayed: std::collections::HashMap<Arc<str>, Vec<u64>>,
    },
}
