//! A session's state and the synchronous rules that change it. The state sits in
//! the [`SessionHandle`](super::handle::SessionHandle), outside the actor, so a
//! restarted actor reloads it; every method here runs under the handle's lock
//! and never awaits, so a kill (which only lands at an await) never sees it half
//! changed.

use super::queue::{Enqueued, Inflight, InflightEntry, InflightState, MQueue};
use super::{Binding, Delivery, SessionMsg};
use super::{Outgoing, SessionContext};
use crate::context::{BrokerContext, ConnId};
use ractor::ActorRef;
use roost_core::hooks::{DropReason, HookPoint};
use roost_core::Message;
use roost_protocol::{QoS, ReasonCode, Will};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One recorded subscription (keyed by the filter as the client wrote it).
#[derive(Debug, Clone)]
pub struct SubscriptionRecord {
    pub filter: String,
    pub group: Option<Arc<str>>,
    pub options: roost_protocol::SubscriptionOptions,
    pub subscription_id: Option<u32>,
}

/// What the running actor lends to the state's methods.
pub struct Cx {
    pub ctx: Arc<SessionContext>,
    pub client_id: Arc<str>,
    pub myself: ActorRef<SessionMsg>,
    /// Packets gathered while handling one message, sent in one cast.
    pub outbox: Vec<Outgoing>,
    /// The clock read once per run of inbox messages (see [`Cx::now`]).
    pub now: Option<Instant>,
    /// The armed retry timer, aborted when the actor hibernates (its task
    /// would keep the stopped actor's mailbox alive until it fires).
    pub retry_timer: Option<ractor::concurrency::JoinHandle<RetrySent>>,
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
        crate::dropped::delivery(
            &self.ctx.metrics,
            &self.ctx.hooks,
            &self.client_id,
            msg,
            reason,
        );
    }

    /// The client acknowledged a delivery (`message.acked`).
    #[inline]
    pub fn acked(&self, msg: &Message) {
        if self.ctx.hooks.has(HookPoint::MessageAcked) {
            self.ctx.hooks.notify(HookPoint::MessageAcked, |h| {
                h.message_acked(&self.client_id, msg)
            });
        }
    }

    /// The time for stamping sends (retry timing, 3.1.1), read once per run of
    /// inbox messages rather than once per message: a run takes microseconds,
    /// a retry interval seconds.
    pub fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }
}

/// Everything a session knows.
pub struct SessionData {
    pub binding: Option<Binding>,
    /// Bumped on every bind, so timers armed for an earlier connection are void.
    pub generation: u64,
    pub bound_before: bool,
    pub subscriptions: HashMap<String, SubscriptionRecord>,
    pub inflight: Inflight,
    pub mqueue: MQueue,
    pub next_packet_id: u16,
    pub awaiting_rel: Vec<u16>,
    /// Boxed: most clients have no will, and every session keeps this field.
    pub will: Option<Box<Will>>,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry: u32,
    /// When the last connection went away (for re-arming timers after a restart).
    pub detached_at: Option<Instant>,
    pub retry_armed: bool,
}

impl SessionData {
    pub fn new(max_mqueue_len: usize) -> SessionData {
        SessionData {
            binding: None,
            generation: 0,
            bound_before: false,
            subscriptions: HashMap::new(),
            inflight: Inflight::default(),
            mqueue: MQueue::new(max_mqueue_len),
            next_packet_id: 1,
            awaiting_rel: Vec::new(),
            will: None,
            expiry: 0,
            detached_at: None,
            retry_armed: false,
        }
    }

    /// Nothing to do but wait for the client or a publisher, so the actor may
    /// hibernate: bound to a live connection (a bound session arms no will or
    /// expiry timer) and nothing in flight (nothing to resend: a retry timer
    /// still armed has nothing to do) or queued.
    pub fn is_idle(&self) -> bool {
        self.binding.as_ref().is_some_and(|b| !b.conn.is_ended())
            && self.inflight.is_empty()
            && self.mqueue.is_empty()
    }

    /// The inflight window: the client's Receive Maximum capped by max_inflight.
    fn window(&self, cx: &Cx) -> usize {
        let max = cx.ctx.config.mqtt.max_inflight.max(1) as usize;
        self.binding
            .as_ref()
            .map_or(0, |b| (b.receive_maximum as usize).min(max))
    }

    pub fn effective_qos(cx: &Cx, d: &Delivery) -> QoS {
        let mqtt = &cx.ctx.config.mqtt;
        let max = QoS::from_u8(mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce);
        let q = if mqtt.upgrade_qos {
            d.qos
        } else {
            d.qos.min(d.message.qos)
        };
        q.min(max)
    }

    /// Accepts one delivery: send now, put in the window, or queue.
    pub fn deliver(&mut self, cx: &mut Cx, d: Delivery) {
        if d.message.is_expired_now() {
            cx.dropped(&d.message, DropReason::Expired);
            return;
        }
        let qos = Self::effective_qos(cx, &d);
        if self.binding.is_none() {
            if qos == QoS::AtMostOnce && !cx.ctx.config.mqtt.mqueue_store_qos0 {
                cx.dropped(&d.message, DropReason::Qos0Offline);
                return;
            }
            self.enqueue(cx, d);
            return;
        }
        if qos == QoS::AtMostOnce {
            // QoS 0 takes no send quota and goes out at once (as EMQX); order is
            // only owed among messages of the same QoS [MQTT-4.6.0-6].
            Self::send_publish(cx, d, QoS::AtMostOnce, 0, false);
        } else if !self.mqueue.is_empty() {
            // Nothing overtakes queued QoS 1/2 messages [MQTT-4.6.0-6].
            self.enqueue(cx, d);
            self.drain_mqueue(cx);
        } else if self.inflight.len() < self.window(cx) {
            self.send_inflight(cx, d, qos);
        } else {
            self.enqueue(cx, d);
        }
    }

    fn enqueue(&mut self, cx: &mut Cx, d: Delivery) {
        if let Enqueued::DroppedOldest(old) = self.mqueue.push(d) {
            cx.dropped(&old.message, DropReason::QueueFull);
            tracing::debug!(client_id = %cx.client_id, topic = %old.message.topic, "message_dropped_queue_full");
        }
    }

    /// Moves queued messages into the window while it has room.
    pub fn drain_mqueue(&mut self, cx: &mut Cx) {
        if self.binding.is_none() {
            return;
        }
        while let Some(front) = self.mqueue.front() {
            let qos = Self::effective_qos(cx, front);
            if qos != QoS::AtMostOnce && self.inflight.len() >= self.window(cx) {
                break;
            }
            let d = self.mqueue.pop().expect("front exists");
            if d.message.is_expired_now() {
                cx.dropped(&d.message, DropReason::Expired);
                continue;
            }
            if qos == QoS::AtMostOnce {
                Self::send_publish(cx, d, qos, 0, false);
            } else {
                self.send_inflight(cx, d, qos);
            }
        }
    }

    fn next_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.inflight.contains(id) {
                return id;
            }
        }
    }

    fn send_inflight(&mut self, cx: &mut Cx, d: Delivery, qos: QoS) {
        let packet_id = self.next_packet_id();
        self.inflight.push(InflightEntry {
            packet_id,
            delivery: d.clone(),
            state: InflightState::AwaitAck,
            sent_at: cx.now(),
        });
        self.arm_retry(cx);
        Self::send_publish(cx, d, qos, packet_id, false);
    }

    fn send_publish(cx: &mut Cx, d: Delivery, qos: QoS, packet_id: u16, dup: bool) {
        let retain = d.from_retained || (d.retain_as_published && d.message.retain);
        cx.outbox.push(Outgoing::Publish {
            message: d.message,
            qos,
            packet_id,
            dup,
            retain,
            subscription_id: d.subscription_id,
        });
    }

    pub fn puback(&mut self, cx: &mut Cx, id: u16) {
        if let Some(e) = self.inflight.remove(id, InflightState::AwaitAck) {
            cx.acked(&e.delivery.message);
            self.drain_mqueue(cx);
        }
    }

    pub fn pubrec(&mut self, cx: &mut Cx, id: u16, reason: ReasonCode) {
        if reason.is_error() {
            // [MQTT-4.3.3-4] no PUBREL after an error PUBREC; the slot is free
            // again (spec 4.9). Refused, so not acknowledged (`message.acked`).
            if self.inflight.remove(id, InflightState::AwaitAck).is_some() {
                self.drain_mqueue(cx);
            }
        } else if self.inflight.released(id) {
            cx.outbox.push(Outgoing::PubRel(id, ReasonCode::Success));
        } else {
            cx.outbox
                .push(Outgoing::PubRel(id, ReasonCode::PacketIdentifierNotFound));
        }
    }

    pub fn pubcomp(&mut self, cx: &mut Cx, id: u16) {
        if let Some(e) = self.inflight.remove(id, InflightState::AwaitComp) {
            cx.acked(&e.delivery.message);
            self.drain_mqueue(cx);
        }
    }

    /// Arms the retry timer (3.1.1 only: 5.0 forbids resending except on
    /// reconnect [MQTT-4.4.0-1]).
    pub fn arm_retry(&mut self, cx: &mut Cx) {
        let every = cx.ctx.config.mqtt.retry_interval;
        let v3 = self.binding.as_ref().is_some_and(|b| !b.version.is_v5());
        if self.retry_armed || every.is_zero() || !v3 {
            return;
        }
        self.retry_armed = true;
        cx.retry_timer = Some(cx.myself.send_after(every, || SessionMsg::Retry));
    }

    pub fn retry(&mut self, cx: &mut Cx) {
        self.retry_armed = false;
        let Some(b) = &self.binding else { return };
        if b.version.is_v5() {
            return;
        }
        let now = Instant::now();
        let every = cx.ctx.config.mqtt.retry_interval;
        let mut resend = Vec::new();
        for e in self.inflight.iter_mut() {
            if now.duration_since(e.sent_at) >= every {
                e.sent_at = now;
                resend.push((e.packet_id, e.state, e.delivery.clone()));
            }
        }
        Self::resend(cx, resend);
        if !self.inflight.is_empty() {
            self.arm_retry(cx);
        }
    }

    /// Sends inflight entries again: PUBLISH with DUP, or PUBREL.
    fn resend(cx: &mut Cx, entries: Vec<(u16, InflightState, Delivery)>) {
        for (id, state, d) in entries {
            match state {
                InflightState::AwaitAck => {
                    let qos = Self::effective_qos(cx, &d);
                    Self::send_publish(cx, d, qos, id, true);
                }
                InflightState::AwaitComp => {
                    cx.outbox.push(Outgoing::PubRel(id, ReasonCode::Success))
                }
            }
        }
    }

    pub fn merge_awaiting_rel(&mut self, ids: Vec<u16>) {
        for id in ids {
            if !self.awaiting_rel.contains(&id) {
                self.awaiting_rel.push(id);
            }
        }
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
        cx.abort_detach_timers();
        self.attach(binding, will, expiry);
        self.resend_inflight(cx);
        self.drain_mqueue(cx);
        std::mem::take(&mut self.awaiting_rel)
    }

    /// Records a new binding (the state part of [`Self::bind`]: nothing sent).
    pub fn attach(&mut self, binding: Binding, will: Option<Will>, expiry: u32) {
        self.generation += 1;
        self.bound_before = true;
        self.binding = Some(binding);
        self.will = will.map(Box::new);
        self.expiry = expiry;
        self.detached_at = None;
    }

    /// Sends every unacknowledged message again, in order: PUBLISH with DUP, or
    /// PUBREL. On reconnect [MQTT-4.4.0-1], and when a restarted session actor
    /// cannot know what its predecessor had sent.
    pub fn resend_inflight(&mut self, cx: &mut Cx) {
        let now = Instant::now();
        let resend: Vec<(u16, InflightState, Delivery)> = self
            .inflight
            .iter_mut()
            .map(|e| {
                e.sent_at = now;
                (e.packet_id, e.state, e.delivery.clone())
            })
            .collect();
        Self::resend(cx, resend);
        self.retry_armed = false;
        if !self.inflight.is_empty() {
            self.arm_retry(cx);
        }
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
        self.detached_at = Some(Instant::now());
        self.merge_awaiting_rel(ids);
        if let Some(e) = expiry {
            self.expiry = e;
        }
        if !publish_will {
            self.will = None;
        }
        self.arm_timers(cx, Duration::ZERO);
    }

    /// Arms the will-delay and expiry timers of a detached session, `elapsed`
    /// after it was detached (non-zero when a restarted actor re-arms them).
    pub fn arm_timers(&mut self, cx: &mut Cx, elapsed: Duration) {
        let generation = self.generation;
        if let Some(w) = &self.will {
            let delay = Duration::from_secs(will_delay(w) as u64);
            if delay.is_zero() || delay <= elapsed {
                self.publish_will(cx);
            } else if will_delay(w) < self.expiry {
                let t = cx
                    .myself
                    .send_after(delay - elapsed, move || SessionMsg::WillTimer(generation));
                cx.detach_timers.push(t);
            }
            // Otherwise the session ends first and publishes the will then.
        }
        if self.expiry != u32::MAX {
            let left = Duration::from_secs(self.expiry as u64).saturating_sub(elapsed);
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
        let Some(will) = self.will.take() else { return };
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

    /// Empties the session's messages for a clean start or its end, returning
    /// what should go to other shared-subscription members: QoS 1 in flight and
    /// everything queued; a QoS 2 message already sent stays this client's
    /// [MQTT-4.8.2-5].
    pub fn take_messages(&mut self, cx: &Cx) -> Vec<Delivery> {
        let inflight: Vec<InflightEntry> = self.inflight.drain().collect();
        let mut pending: Vec<Delivery> = inflight
            .into_iter()
            .filter(|e| Self::effective_qos(cx, &e.delivery) != QoS::ExactlyOnce)
            .map(|e| e.delivery)
            .collect();
        pending.extend(self.mqueue.drain());
        self.awaiting_rel.clear();
        self.next_packet_id = 1;
        pending.retain(|d| d.shared.is_some());
        pending
    }
}

impl SessionData {
    /// What another node needs to continue this session (cross-node takeover):
    /// its subscriptions and its messages not yet acknowledged, oldest first.
    /// A QoS 2 message whose PUBREC came (PUBREL sent) has reached the client
    /// and stays behind.
    pub fn transfer(&mut self) -> super::SessionSnapshot {
        let subscriptions = self
            .subscriptions
            .iter()
            .map(|(raw, r)| super::SubscriptionSnapshot {
                raw: raw.clone(),
                options: r.options,
                subscription_id: r.subscription_id,
            })
            .collect();
        let mut messages: Vec<Delivery> = self
            .inflight
            .drain()
            .filter(|e| e.state == InflightState::AwaitAck)
            .map(|e| e.delivery)
            .collect();
        messages.extend(self.mqueue.drain());
        super::SessionSnapshot {
            expiry: self.expiry,
            subscriptions,
            messages,
        }
    }
}

/// The will's Will Delay Interval in seconds (0 if absent or 3.1.1).
pub fn will_delay(w: &Will) -> u32 {
    w.properties.will_delay_interval.unwrap_or(0)
}
