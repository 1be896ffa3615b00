//! What the connection writes: the session's packets encoded into one buffer,
//! written with one syscall per handled mailbox message.

use super::handle::ConnStats;
use super::ConnState;
use crate::session::Inbound;
use crate::session::Outgoing;
use bytes::BufMut;
use roost_core::hooks::{DropReason, HookPoint};
use roost_core::trace::{PacketDir, TraceEvent};
use roost_protocol::{Packet, PubRel, QoS, ReasonCode};
use std::time::Instant;

impl ConnState {
    /// Writes the session's packets.
    pub(super) fn send_outgoing(&mut self, batch: Vec<Outgoing>) {
        let now = Instant::now();
        for out in batch {
            let bytes = super::outbound::outgoing_bytes(&out);
            if let Outgoing::Publish { qos, .. } = &out {
                self.unflushed.0 += 1;
                self.unflushed.1 += bytes;
                if *qos == QoS::AtMostOnce {
                    self.handle.outbound.qos0_taken();
                }
            }
            match out {
                Outgoing::Publish {
                    message,
                    qos,
                    packet_id,
                    dup,
                    retain,
                    subscription_ids,
                } => {
                    match self.channel.outbound_publish(
                        &message,
                        qos,
                        packet_id,
                        dup,
                        retain,
                        subscription_ids.as_slice(),
                        now,
                        &mut self.wbuf,
                    ) {
                        true => {
                            if self.ctx.tracer.on() {
                                self.trace(TraceEvent::PublishOut {
                                    message: &message,
                                    qos,
                                    packet_id,
                                    dup,
                                    retain,
                                });
                            }
                            self.ctx.metrics.message_sent(qos);
                            ConnStats::bump(&self.handle.stats.send_pkt);
                            ConnStats::bump(&self.handle.stats.send_msg);
                            if let Some(info) = self.access.info.as_ref() {
                                self.ctx.hooks.notify(HookPoint::MessageDelivered, |h| {
                                    h.message_delivered(info, &message)
                                });
                            }
                        }
                        false => {
                            // Too large for the client: discarded as if delivered
                            // [MQTT-3.1.2-25], so the inflight slot is freed.
                            crate::dropped::delivery(
                                &self.ctx.metrics,
                                &self.ctx.hooks,
                                &self.channel.client_id,
                                &message,
                                DropReason::TooLarge,
                            );
                            if qos != QoS::AtMostOnce {
                                self.cast_session(Inbound::PubAck(packet_id));
                            }
                        }
                    }
                }
                Outgoing::PubRel(id, reason_code) => self.write(Packet::PubRel(PubRel {
                    packet_id: id,
                    reason_code,
                    ..Default::default()
                })),
            }
        }
    }

    /// Queues a control packet for writing (after the client's limits are applied).
    pub(super) fn write(&mut self, packet: Packet) {
        ConnStats::bump(&self.handle.stats.send_pkt);
        if self.ctx.tracer.on() {
            self.trace(TraceEvent::Packet(PacketDir::Out, &packet));
        }
        // The acks of the QoS 1/2 flows, without properties, are most of what a
        // busy connection writes: their 4 or 5 bytes are put down directly.
        let ack = match &packet {
            Packet::PubAck(a) => Some((0x40, a.packet_id, a.reason_code, &a.properties)),
            Packet::PubRec(a) => Some((0x50, a.packet_id, a.reason_code, &a.properties)),
            Packet::PubRel(a) => Some((0x62, a.packet_id, a.reason_code, &a.properties)),
            Packet::PubComp(a) => Some((0x70, a.packet_id, a.reason_code, &a.properties)),
            _ => None,
        };
        if let Some((first, id, reason, properties)) = ack {
            if properties.is_empty() && id != 0 {
                // 5.0 omits a Success reason code when there are no properties
                // (spec 3.4.2.1); 3.1.1 has none.
                let with_reason = self.channel.version.is_v5() && reason != ReasonCode::Success;
                let len = if with_reason { 5 } else { 4 };
                if self.channel.fits(len) {
                    self.ctx.metrics.packet_sent(first >> 4);
                    self.wbuf.reserve(len);
                    self.wbuf.put_u8(first);
                    self.wbuf.put_u8(len as u8 - 2);
                    self.wbuf.put_u16(id);
                    if with_reason {
                        self.wbuf.put_u8(reason as u8);
                    }
                }
                return;
            }
        }
        if let Some(p) = self.channel.outbound_control(packet) {
            self.encode(&p);
        }
    }

    pub(super) fn encode(&mut self, p: &Packet) {
        match roost_protocol::encode(p, self.channel.version, &mut self.wbuf) {
            Ok(_) => self.ctx.metrics.packet_sent(packet_type(p)),
            Err(e) => tracing::error!(error = %e, "encode_failed"),
        }
    }

    /// Writes everything queued in one syscall (or as few as the socket allows).
    pub(super) async fn flush(&mut self) {
        if !self.wbuf.is_empty() {
            if let Some(w) = self.writer.as_mut() {
                self.ctx.metrics.bytes_sent.add(self.wbuf.len() as u64);
                if w.write_all(&self.wbuf).await.is_err() {
                    self.closing = true;
                }
            }
            self.wbuf.clear();
        }
        let (msgs, bytes) = std::mem::take(&mut self.unflushed);
        if msgs > 0 {
            self.handle.outbound.written(msgs, bytes);
        }
    }
}

/// The MQTT packet type of `p` (the high nibble of its first byte).
fn packet_type(p: &Packet) -> u8 {
    match p {
        Packet::Connect(_) => 1,
        Packet::ConnAck(_) => 2,
        Packet::Publish(_) => 3,
        Packet::PubAck(_) => 4,
        Packet::PubRec(_) => 5,
        Packet::PubRel(_) => 6,
        Packet::PubComp(_) => 7,
        Packet::Subscribe(_) => 8,
        Packet::SubAck(_) => 9,
        Packet::Unsubscribe(_) => 10,
        Packet::UnsubAck(_) => 11,
        Packet::PingReq => 12,
        Packet::PingResp => 13,
        Packet::Disconnect(_) => 14,
        Packet::Auth(_) => 15,
    }
}
