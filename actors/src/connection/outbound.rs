//! The bound on what a connection has yet to write: the session's packets
//! handed to it (in its mailbox, then in its write buffer) and not yet taken
//! by the socket. A subscriber that stops reading fills its socket's buffers,
//! the connection's write waits, and without this bound every message for it
//! would wait in memory (issue 19: 10.9 GB in 60 s).
//!
//! The bound is EMQX's `force_shutdown` (`max_mailbox_size` messages,
//! `max_heap_size` bytes of topic and payload). Past it, the QoS 0 messages
//! handed over are dropped and counted (`delivery.dropped.queue_full`), and,
//! with `force_shutdown.enable` (the default), the connection is closed at
//! once: its session keeps its QoS 1/2 messages (in flight or queued, bounded
//! by `mqtt.max_inflight`, `max_mqueue_len` and `max_mqueue_bytes`) for the
//! client's return. QoS 1/2 messages and PUBRELs are never refused here: the
//! inflight window already bounds them, and a refused one would stay in flight
//! unsent.

use crate::session::Outgoing;
use roost_core::Message;
use roost_protocol::QoS;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// `force_shutdown` as a connection applies it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboundLimits {
    /// Messages handed over and not yet written (0 = no bound).
    pub max_msgs: usize,
    /// Their topic and payload bytes (0 = no bound).
    pub max_bytes: usize,
    /// Close the connection past a bound (otherwise only drop its QoS 0 messages).
    pub shutdown: bool,
}

impl OutboundLimits {
    /// The `force_shutdown` bound as a connection applies it.
    pub fn from_config(c: &crate::protection::ForceShutdownConfig) -> OutboundLimits {
        OutboundLimits {
            max_msgs: c.max_mailbox_size,
            max_bytes: c.max_heap_bytes(),
            shutdown: c.enable,
        }
    }
}

/// The topic and payload bytes of one outgoing packet (0 for a PUBREL).
pub fn outgoing_bytes(out: &Outgoing) -> usize {
    match out {
        Outgoing::Publish { message, .. } => message.topic.len() + message.payload.len(),
        Outgoing::PubRel(..) => 0,
    }
}

/// What a connection holds for its client, counted where it is handed over
/// (the session's send) and where it leaves (after the socket took it).
#[derive(Debug, Default)]
pub struct Outbound {
    pub limits: OutboundLimits,
    msgs: AtomicUsize,
    bytes: AtomicUsize,
    /// QoS 0 messages handed over and not yet written into the write buffer:
    /// lost if the connection ends first, so counted as dropped then.
    qos0: AtomicUsize,
    /// The connection was told to close for its backlog (once).
    shut: AtomicBool,
}

/// What [`Outbound::admit`] decided for one batch.
pub struct Admitted {
    /// What goes to the connection.
    pub batch: Vec<Outgoing>,
    /// QoS 0 messages refused (to be counted as dropped by the session).
    pub refused: Vec<Arc<Message>>,
    /// Close the connection now (first time past the bound, `shutdown` on).
    pub shut_down: bool,
}

impl Outbound {
    pub fn new(limits: OutboundLimits) -> Outbound {
        Outbound {
            limits,
            ..Outbound::default()
        }
    }

    /// Counts `batch` in, unless the backlog is past the bound: then its QoS 0
    /// messages are refused. A connection with nothing waiting takes a whole
    /// batch whatever its size (at most a session's run of messages), so the
    /// bound is overshot by at most one batch.
    pub fn admit(&self, mut batch: Vec<Outgoing>) -> Admitted {
        let (msgs, bytes) = tally(&batch);
        let held_msgs = self.msgs.load(Ordering::Relaxed);
        let held_bytes = self.bytes.load(Ordering::Relaxed);
        let l = self.limits;
        let over = held_msgs > 0
            && ((l.max_msgs != 0 && held_msgs + msgs > l.max_msgs)
                || (l.max_bytes != 0 && held_bytes + bytes > l.max_bytes));
        let mut refused = Vec::new();
        let mut shut_down = false;
        if over {
            batch.retain(|out| match out {
                Outgoing::Publish {
                    message,
                    qos: QoS::AtMostOnce,
                    ..
                } => {
                    refused.push(message.clone());
                    false
                }
                _ => true,
            });
            shut_down = l.shutdown && !self.shut.swap(true, Ordering::Relaxed);
        }
        let (msgs, bytes) = tally(&batch);
        let qos0 = batch
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Outgoing::Publish {
                        qos: QoS::AtMostOnce,
                        ..
                    }
                )
            })
            .count();
        self.msgs.fetch_add(msgs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.qos0.fetch_add(qos0, Ordering::Relaxed);
        Admitted {
            batch,
            refused,
            shut_down,
        }
    }

    /// A QoS 0 message handed over was written into the write buffer.
    pub fn qos0_taken(&self) {
        self.qos0.fetch_sub(1, Ordering::Relaxed);
    }

    /// The socket took `msgs` messages of `bytes` bytes.
    pub fn written(&self, msgs: usize, bytes: usize) {
        self.msgs.fetch_sub(msgs, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The QoS 0 messages handed over and never written (the connection
    /// ended), taken once.
    pub fn qos0_lost(&self) -> usize {
        self.qos0.swap(0, Ordering::Relaxed)
    }

    /// Messages and bytes waiting now.
    pub fn held(&self) -> (usize, usize) {
        (
            self.msgs.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Publishes and their bytes in `batch`.
fn tally(batch: &[Outgoing]) -> (usize, usize) {
    batch.iter().fold((0, 0), |(n, b), out| match out {
        Outgoing::Publish { .. } => (n + 1, b + outgoing_bytes(out)),
        Outgoing::PubRel(..) => (n, b),
    })
}
