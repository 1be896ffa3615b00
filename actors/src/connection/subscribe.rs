//! SUBSCRIBE and UNSUBSCRIBE, carried out by the connection itself, in its own
//! context (as it publishes in its own context): the subscriptions are in the
//! topic index before the SUBACK is written, and no actor is woken for them.

use super::ConnState;
use roost_core::trace::TraceEvent;
use roost_protocol::{Packet, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe};

impl ConnState {
    /// Carries out an authorized SUBSCRIBE here, in the connection's context
    /// (see [`crate::session::SessionHandle::subscribe`]): its subscriptions are in force
    /// before the SUBACK is written, with no actor hop; then the retained
    /// messages go to the session. `denied` are the indexes of the filters
    /// authorization refused (taken out of `s`), answered 0x87 (0x80 for 3.x).
    pub(super) fn subscribe(&mut self, s: Subscribe, denied: Vec<usize>) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let packet_id = s.packet_id;
        let traced = self.traced().then(|| s.filters.clone());
        let (mut codes, retained) = session.subscribe(&self.ctx, s);
        for (f, code) in traced.iter().flatten().zip(&codes) {
            if (*code as u8) < 0x80 {
                self.trace(TraceEvent::Subscribed(&f.0, f.1.qos));
            }
        }
        for i in denied {
            codes.insert(i.min(codes.len()), ReasonCode::NotAuthorized);
        }
        self.write(Packet::SubAck(SubAck {
            packet_id,
            reason_codes: codes,
            ..Default::default()
        }));
        for d in retained {
            session.deliver(d);
        }
    }

    /// Carries out an UNSUBSCRIBE here, as [`Self::subscribe`].
    pub(super) fn unsubscribe(&mut self, u: Unsubscribe) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let packet_id = u.packet_id;
        let traced = self.traced().then(|| u.filters.clone());
        let codes = session.unsubscribe(&self.ctx, u);
        for (f, code) in traced.iter().flatten().zip(&codes) {
            if (*code as u8) < 0x80 {
                self.trace(TraceEvent::Unsubscribed(f));
            }
        }
        self.write(Packet::UnsubAck(UnsubAck {
            packet_id,
            reason_codes: codes,
            ..Default::default()
        }));
    }
}
