//! A session's state as a plain value, and the rules that change it.
//!
//! [`SessionData`] holds what a session knows (subscriptions, inflight window,
//! queue, awaiting-PUBREL ids, will, expiry) and nothing live: no connection, no
//! actor, no clock. Its rules take what they need as arguments ([`Terms`]: the
//! broker's limits, what the bound client negotiated, the time) and say what
//! they want done in [`Effects`] (packets to send, drops to count, acks to tell,
//! a retry timer to arm), which the session actor carries out (see
//! [`LiveSession`](super::live::LiveSession)). So the rules are unit-tested
//! without actors or sockets, and the value can be serialised (see
//! [`SessionRecord`]) to move or keep a session.

use super::queue::{Enqueued, Inflight, InflightEntry, InflightState, MQueue};
use super::{Delivery, Outgoing, SessionSnapshot, SubscriptionSnapshot};
use roost_core::config::MqttConfig;
use roost_core::hooks::DropReason;
use roost_core::Message;
use roost_protocol::topic::parse_subscription_filter;
use roost_protocol::{ProtocolVersion, QoS, ReasonCode, Will};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod record;
#[cfg(test)]
mod tests;

pub use record::{InflightRecord, RecordError, SessionRecord, WillRecord};

/// One recorded subscription (keyed by the filter as the client wrote it).
#[derive(Debug, Clone)]
pub struct SubscriptionRecord {
    pub filter: String,
    pub group: Option<Arc<str>>,
    pub options: roost_protocol::SubscriptionOptions,
    pub subscription_id: Option<u32>,
}

impl SubscriptionRecord {
    /// The subscription `raw` (as the client wrote it) in its wire form.
    pub fn snapshot(&self, raw: &str) -> SubscriptionSnapshot {
        SubscriptionSnapshot {
            raw: raw.to_string(),
            options: self.options,
            subscription_id: self.subscription_id,
        }
    }

    /// The subscription a wire form describes; `None` if its filter is invalid.
    pub fn from_snapshot(s: &SubscriptionSnapshot) -> Option<SubscriptionRecord> {
        let parsed = parse_subscription_filter(&s.raw).ok()?;
        Some(SubscriptionRecord {
            filter: parsed.filter.to_string(),
            group: parsed.group.map(Into::into),
            options: s.options,
            subscription_id: s.subscription_id,
        })
    }
}

/// The broker's limits the rules apply (from `mqtt.*`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `mqtt.max_inflight`: the window's cap, whatever the client allows.
    pub max_inflight: u16,
    /// `mqtt.max_qos_allowed`.
    pub max_qos: QoS,
    /// `mqtt.upgrade_qos`: deliver with the subscription's QoS even when the
    /// publish's is lower.
    pub upgrade_qos: bool,
    /// `mqtt.mqueue_store_qos0`: queue QoS 0 messages for an offline session.
    pub mqueue_store_qos0: bool,
}

impl Limits {
    pub fn of(mqtt: &MqttConfig) -> Limits {
        Limits {
            max_inflight: mqtt.max_inflight,
            max_qos: QoS::from_u8(mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce),
            upgrade_qos: mqtt.upgrade_qos,
            mqueue_store_qos0: mqtt.mqueue_store_qos0,
        }
    }

    /// The QoS a delivery goes out with: the lower of the message's and the
    /// subscription's [MQTT-3.8.4-8] (the subscription's with `upgrade_qos`),
    /// capped by `max_qos_allowed`.
    pub fn qos_of(&self, d: &Delivery) -> QoS {
        let q = if self.upgrade_qos {
            d.qos
        } else {
            d.qos.min(d.message.qos)
        };
        q.min(self.max_qos)
    }
}

/// What the bound client negotiated: the plain part of a
/// [`Binding`](super::Binding), whose connection stays outside the state.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub version: ProtocolVersion,
    /// The client's Receive Maximum (65535 if absent).
    pub receive_maximum: u16,
}

/// What the rules go by at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    pub limits: Limits,
    /// The bound client, or `None` while the session is offline.
    pub peer: Option<Peer>,
    pub now: Instant,
}

impl Terms {
    /// The inflight window: the client's Receive Maximum [MQTT-3.3.4-9] capped
    /// by `max_inflight`; none while offline.
    pub fn window(&self) -> usize {
        let max = self.limits.max_inflight.max(1) as usize;
        self.peer
            .map_or(0, |p| (p.receive_maximum as usize).min(max))
    }
}

/// What the rules ask of the runtime, gathered while they run.
#[derive(Debug, Default)]
pub struct Effects {
    /// Packets for the bound connection, in order.
    pub outbox: Vec<Outgoing>,
    /// Deliveries dropped, and why (to be counted and told to `delivery.dropped`).
    pub dropped: Vec<(Arc<Message>, DropReason)>,
    /// Messages the client acknowledged (`message.acked`).
    pub acked: Vec<Arc<Message>>,
    /// Messages are in flight: a 3.1.1 session wants its retry timer armed.
    pub retry: bool,
}

/// Everything a session knows.
#[derive(Debug)]
pub struct SessionData {
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
}

impl SessionData {
    pub fn new(max_mqueue_len: usize) -> SessionData {
        SessionData {
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
        }
    }

    /// Bounds the queue in bytes too (`mqtt.max_mqueue_bytes`, 0 = none).
    pub fn with_mqueue_bytes(mut self, max_bytes: usize) -> SessionData {
        self.mqueue.set_max_bytes(max_bytes);
        self
    }

    /// Accepts one delivery: send now, put in the window, or queue.
    pub fn deliver(&mut self, d: Delivery, t: &Terms, out: &mut Effects) {
        if d.message.is_expired(t.now) {
            out.dropped.push((d.message, DropReason::Expired));
            return;
        }
        let qos = t.limits.qos_of(&d);
        if t.peer.is_none() {
            if qos == QoS::AtMostOnce && !t.limits.mqueue_store_qos0 {
                out.dropped.push((d.message, DropReason::Qos0Offline));
                return;
            }
            self.enqueue(d, out);
            return;
        }
        if qos == QoS::AtMostOnce {
            // QoS 0 takes no send quota and goes out at once (as EMQX); order is
            // only owed among messages of the same QoS [MQTT-4.6.0-6].
            Self::send_publish(out, d, QoS::AtMostOnce, 0, false);
        } else if !self.mqueue.is_empty() {
            // Nothing overtakes queued QoS 1/2 messages [MQTT-4.6.0-6].
            self.enqueue(d, out);
            self.drain_mqueue(t, out);
        } else if self.inflight.len() < t.window() {
            self.send_inflight(d, qos, t, out);
        } else {
            self.enqueue(d, out);
        }
    }

    /// Queues a delivery; a full queue drops its oldest message.
    fn enqueue(&mut self, d: Delivery, out: &mut Effects) {
        if let Enqueued::DroppedOldest(old) = self.mqueue.push(d) {
            for o in old {
                out.dropped.push((o.message, DropReason::QueueFull));
            }
        }
    }

    /// Moves queued messages into the window while it has room; a message
    /// whose expiry ran out while queued is dropped [MQTT-3.3.2-5].
    pub fn drain_mqueue(&mut self, t: &Terms, out: &mut Effects) {
        if t.peer.is_none() {
            return;
        }
        while let Some(front) = self.mqueue.front() {
            let qos = t.limits.qos_of(front);
            if qos != QoS::AtMostOnce && self.inflight.len() >= t.window() {
                break;
            }
            let d = self.mqueue.pop().expect("front exists");
            if d.message.is_expired(t.now) {
                out.dropped.push((d.message, DropReason::Expired));
                continue;
            }
            if qos == QoS::AtMostOnce {
                Self::send_publish(out, d, qos, 0, false);
            } else {
                self.send_inflight(d, qos, t, out);
            }
        }
    }

    /// The next packet id not in flight [MQTT-2.2.1-4], 1 after 65535.
    fn next_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.inflight.contains(id) {
                return id;
            }
        }
    }

    fn send_inflight(&mut self, d: Delivery, qos: QoS, t: &Terms, out: &mut Effects) {
        let packet_id = self.next_packet_id();
        self.inflight.push(InflightEntry {
            packet_id,
            delivery: d.clone(),
            state: InflightState::AwaitAck,
            sent_at: t.now,
        });
        out.retry = true;
        Self::send_publish(out, d, qos, packet_id, false);
    }

    /// One PUBLISH: its RETAIN flag set for a retained message sent because of a
    /// new subscription [MQTT-3.3.1-8], or kept as published when the
    /// subscription asks [MQTT-3.3.1-12, MQTT-3.3.1-13]; its subscription
    /// identifiers carried [MQTT-3.3.4-3, MQTT-3.3.4-4, MQTT-3.3.4-5].
    fn send_publish(out: &mut Effects, d: Delivery, qos: QoS, packet_id: u16, dup: bool) {
        let retain = d.from_retained || (d.retain_as_published && d.message.retain);
        out.outbox.push(Outgoing::Publish {
            message: d.message,
            qos,
            packet_id,
            dup,
            retain,
            subscription_ids: d.subscription_ids,
        });
    }

    pub fn puback(&mut self, id: u16, t: &Terms, out: &mut Effects) {
        if let Some(e) = self.inflight.remove(id, InflightState::AwaitAck) {
            out.acked.push(e.delivery.message);
            self.drain_mqueue(t, out);
        }
    }

    pub fn pubrec(&mut self, id: u16, reason: ReasonCode, t: &Terms, out: &mut Effects) {
        if reason.is_error() {
            // [MQTT-4.3.3-4] no PUBREL after an error PUBREC; the slot is free
            // again (spec 4.9). Refused, so not acknowledged (`message.acked`).
            if self.inflight.remove(id, InflightState::AwaitAck).is_some() {
                self.drain_mqueue(t, out);
            }
        } else if self.inflight.released(id) {
            out.outbox.push(Outgoing::PubRel(id, ReasonCode::Success));
        } else {
            out.outbox
                .push(Outgoing::PubRel(id, ReasonCode::PacketIdentifierNotFound));
        }
    }

    pub fn pubcomp(&mut self, id: u16, t: &Terms, out: &mut Effects) {
        if let Some(e) = self.inflight.remove(id, InflightState::AwaitComp) {
            out.acked.push(e.delivery.message);
            self.drain_mqueue(t, out);
        }
    }

    /// Resends what has waited `every` for its ack (3.1.1 only: 5.0 forbids
    /// resending except on reconnect [MQTT-4.4.0-1]).
    pub fn retry(&mut self, every: Duration, t: &Terms, out: &mut Effects) {
        if t.peer.is_none_or(|p| p.version.is_v5()) {
            return;
        }
        let mut resend = Vec::new();
        for e in self.inflight.iter_mut() {
            if t.now.duration_since(e.sent_at) >= every {
                e.sent_at = t.now;
                resend.push((e.packet_id, e.state, e.delivery.clone()));
            }
        }
        Self::resend(resend, t, out);
        out.retry |= !self.inflight.is_empty();
    }

    /// Sends inflight entries again: PUBLISH with DUP [MQTT-3.3.1-1], or PUBREL.
    fn resend(entries: Vec<(u16, InflightState, Delivery)>, t: &Terms, out: &mut Effects) {
        for (id, state, d) in entries {
            match state {
                InflightState::AwaitAck => {
                    let qos = t.limits.qos_of(&d);
                    Self::send_publish(out, d, qos, id, true);
                }
                InflightState::AwaitComp => {
                    out.outbox.push(Outgoing::PubRel(id, ReasonCode::Success))
                }
            }
        }
    }

    /// Sends every unacknowledged message again, in order [MQTT-4.6.0-1], with
    /// its packet id: PUBLISH with DUP, or PUBREL. On reconnect [MQTT-4.4.0-1],
    /// and when a restarted session actor cannot know what its predecessor had
    /// sent.
    pub fn resend_inflight(&mut self, t: &Terms, out: &mut Effects) {
        let resend: Vec<(u16, InflightState, Delivery)> = self
            .inflight
            .iter_mut()
            .map(|e| {
                e.sent_at = t.now;
                (e.packet_id, e.state, e.delivery.clone())
            })
            .collect();
        Self::resend(resend, t, out);
        out.retry |= !self.inflight.is_empty();
    }

    pub fn merge_awaiting_rel(&mut self, ids: Vec<u16>) {
        for id in ids {
            if !self.awaiting_rel.contains(&id) {
                self.awaiting_rel.push(id);
            }
        }
    }

    /// A connection was bound: the will, expiry and generation are renewed.
    pub fn attach(&mut self, will: Option<Will>, expiry: u32) {
        self.generation += 1;
        self.bound_before = true;
        self.will = will.map(Box::new);
        self.expiry = expiry;
        self.detached_at = None;
    }

    /// The bound connection went at `now`, handing back its inbound QoS 2 ids
    /// awaiting PUBREL: the will is kept only if due, and DISCONNECT may have
    /// set a new expiry.
    pub fn detach(&mut self, now: Instant, publish_will: bool, expiry: Option<u32>, ids: Vec<u16>) {
        self.detached_at = Some(now);
        self.merge_awaiting_rel(ids);
        if let Some(e) = expiry {
            self.expiry = e;
        }
        if !publish_will {
            self.will = None;
        }
    }

    /// Whether a detached session's expiry has run out at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expiry != u32::MAX
            && self.detached_at.is_some_and(|at| {
                now.saturating_duration_since(at) >= Duration::from_secs(self.expiry as u64)
            })
    }

    /// Empties the session's messages for a clean start or its end, returning
    /// what should go to other shared-subscription members: QoS 1 in flight and
    /// everything queued; a QoS 2 message already sent stays this client's
    /// [MQTT-4.8.2-5]. The other queued messages were never sent: they are
    /// dropped (`out.dropped`, no_session), so every message is accounted for.
    pub fn take_messages(&mut self, limits: &Limits, out: &mut Effects) -> Vec<Delivery> {
        let inflight: Vec<InflightEntry> = self.inflight.drain().collect();
        let mut pending: Vec<Delivery> = inflight
            .into_iter()
            .filter(|e| limits.qos_of(&e.delivery) != QoS::ExactlyOnce)
            .map(|e| e.delivery)
            .collect();
        pending.retain(|d| d.shared.is_some());
        for d in self.mqueue.drain() {
            match d.shared {
                Some(_) => pending.push(d),
                None => out.dropped.push((d.message, DropReason::NoSession)),
            }
        }
        self.awaiting_rel.clear();
        self.next_packet_id = 1;
        pending
    }

    /// What another node needs to continue this session (cross-node takeover):
    /// its subscriptions and its messages not yet acknowledged, oldest first.
    /// A QoS 2 message whose PUBREC came (PUBREL sent) has reached the client
    /// and stays behind.
    pub fn transfer(&mut self) -> SessionSnapshot {
        let subscriptions = self
            .subscriptions
            .iter()
            .map(|(raw, r)| r.snapshot(raw))
            .collect();
        let mut messages: Vec<Delivery> = self
            .inflight
            .drain()
            .filter(|e| e.state == InflightState::AwaitAck)
            .map(|e| e.delivery)
            .collect();
        messages.extend(self.mqueue.drain());
        SessionSnapshot {
            expiry: self.expiry,
            subscriptions,
            messages,
            moved_from: None,
        }
    }
}

/// The will's Will Delay Interval in seconds (0 if absent or 3.1.1).
pub fn will_delay(w: &Will) -> u32 {
    w.properties.will_delay_interval.unwrap_or(0)
}
