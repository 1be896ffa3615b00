//! Mailbox depth gauges of the actors that keep one (sessions and
//! connections), for the actor tree's mailbox column: ractor gives no way to
//! read a mailbox's length.

use ractor::ActorId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Mailbox gauges of the actors that keep one, by actor id.
#[derive(Default)]
pub struct MailboxGauges {
    gauges: dashmap::DashMap<ActorId, Arc<AtomicUsize>>,
}

impl MailboxGauges {
    /// Registers `gauge` for `id` (replacing an earlier one).
    pub fn register(&self, id: ActorId, gauge: Arc<AtomicUsize>) {
        self.gauges.insert(id, gauge);
    }

    /// Forgets the gauge of a stopped actor.
    pub fn unregister(&self, id: ActorId) {
        self.gauges.remove(&id);
    }

    pub fn depth(&self, id: ActorId) -> Option<usize> {
        self.gauges.get(&id).map(|g| g.load(Ordering::Relaxed))
    }
}
