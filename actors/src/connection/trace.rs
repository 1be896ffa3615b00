//! The connection's side of log trace (`roost_core::trace`): who the client
//! is for a trace, and its packets in. Every caller asks `Tracer::on` first,
//! so with no trace running a packet costs one relaxed load.

use super::ConnState;
use roost_core::trace::{PacketDir, TraceEvent, Who};
use roost_protocol::Packet;

impl ConnState {
    /// The client id once known, and the address the client connected from.
    pub(super) fn who(&self) -> Who<'_> {
        let id = &self.channel.client_id;
        Who {
            client_id: (!id.is_empty()).then_some(&**id),
            addr: Some(self.peer.addr),
        }
    }

    /// Whether a running trace follows this client (see `Tracer::follows`).
    pub(super) fn traced(&self) -> bool {
        self.ctx.tracer.on() && self.ctx.tracer.follows(self.who())
    }

    /// Writes `event` to the traces that cover this client, if any runs.
    pub(super) fn trace(&self, event: TraceEvent<'_>) {
        if self.ctx.tracer.on() {
            self.ctx.tracer.trace(self.who(), event);
        }
    }

    /// A packet from the client. A CONNECT names the client before the
    /// channel knows it, so a client id trace sees its own CONNECT.
    #[cold]
    pub(super) fn trace_in(&self, packet: &Packet) {
        let mut who = self.who();
        if let Packet::Connect(c) = packet {
            if !c.client_id.is_empty() {
                who.client_id = Some(&c.client_id);
            }
        }
        self.ctx
            .tracer
            .trace(who, TraceEvent::Packet(PacketDir::In, packet));
    }
}
