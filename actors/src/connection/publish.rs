//! The publish path of a connection: an authorized PUBLISH routed in the
//! connection's own context, and its ack held until the durable sessions it
//! reached have stored it (`durable_sessions`), in the order of the PUBLISHes.

use super::{ConnMsg, ConnState};
use roost_core::Message;
use roost_protocol::{Packet, ReasonCode};
use std::sync::Arc;

impl ConnState {
    /// Routes an authorized PUBLISH and acks it. If it met a congested session
    /// (`mqtt.backpressure`), the packets after it wait (see [`ConnState::paused`]).
    pub(super) fn route(&mut self, message: Arc<Message>, ack: Option<Packet>) {
        // With durable sessions, the ack of a QoS 1/2 PUBLISH waits until the
        // durable sessions it reached have stored it.
        let gating = ack.is_some() && self.ctx.session_store.is_some();
        let (deliveries, gate) = if gating {
            // A QoS 2 id awaiting PUBREL is stored with the publisher's own
            // session, in the same wait as the deliveries.
            let qos2 = match &ack {
                Some(Packet::PubRec(r)) => Some(r.packet_id),
                _ => None,
            };
            let session = self.session.clone();
            let ctx = self.ctx.clone();
            crate::session::durable::gated(|| {
                if let (Some(id), Some(s)) = (qos2, &session) {
                    s.note_awaiting_rel(&ctx, id, true);
                }
                self.route_now(message)
            })
        } else {
            (self.route_now(message), None)
        };
        self.gate_done(&gate);
        if let Some(mut ack) = ack {
            if deliveries == 0 && self.channel.version.is_v5() {
                // 0x10 No matching subscribers, as EMQX 5 (a success code).
                match &mut ack {
                    Packet::PubAck(a) => a.reason_code = ReasonCode::NoMatchingSubscribers,
                    Packet::PubRec(a) => a.reason_code = ReasonCode::NoMatchingSubscribers,
                    _ => {}
                }
            }
            self.write_ack(ack, gate);
        }
    }

    /// Tells this connection when `gate` (if any) is done, and lets go of the
    /// router's hold on it (the sessions' holds remain).
    pub(super) fn gate_done(&self, gate: &Option<Arc<crate::session::durable::AckGate>>) {
        if let Some(g) = gate {
            let handle = self.handle.clone();
            g.on_done(move || {
                handle.cast_if_awake(ConnMsg::Durable);
            });
            g.release();
        }
    }

    /// PUBCOMP for a PUBREL: a durable session forgets the id first, and the
    /// PUBCOMP waits until that is stored (so a restart cannot take the
    /// client's next PUBLISH under that id for a resent one).
    pub(super) fn pubcomp(&mut self, pubcomp: Packet) {
        let id = match &pubcomp {
            Packet::PubComp(c) => c.packet_id,
            _ => 0,
        };
        let session = match &self.session {
            Some(s) if self.ctx.session_store.is_some() => s.clone(),
            _ => return self.write(pubcomp),
        };
        let ((), gate) =
            crate::session::durable::gated(|| session.note_awaiting_rel(&self.ctx, id, false));
        self.gate_done(&gate);
        self.write_ack(pubcomp, gate);
    }

    /// Routes a PUBLISH in this context; the number of deliveries.
    pub(super) fn route_now(&mut self, message: Arc<Message>) -> usize {
        if self.ctx.mqtt.backpressure {
            let n = self.ctx.publish_from_client(message, &mut self.congested);
            self.paused |= !self.congested.is_empty() && !self.pause_waived;
            n
        } else {
            self.ctx.publish(message)
        }
    }

    /// Sends the ack of a PUBLISH once its `gate` (if any) is done and every
    /// ack before it has gone, so acks keep the order of their PUBLISHes.
    pub(super) fn write_ack(
        &mut self,
        ack: Packet,
        gate: Option<Arc<crate::session::durable::AckGate>>,
    ) {
        if gate.is_none() && self.acks_waiting.is_empty() {
            self.write(ack);
            return;
        }
        self.acks_waiting.push_back((gate, ack));
        self.release_acks();
    }

    /// Sends the waiting acks whose durable sessions have stored their
    /// messages, from the front.
    pub(super) fn release_acks(&mut self) {
        while self
            .acks_waiting
            .front()
            .is_some_and(|(g, _)| g.as_ref().is_none_or(|g| g.is_done()))
        {
            let (_, ack) = self.acks_waiting.pop_front().expect("front exists");
            self.write(ack);
        }
    }
}
