//! The idle clock of a session or connection that hibernates (EMQX's hibernate
//! after `mqtt.idle_timeout`): when its actor last had a message, read by the
//! registry's idle sweep so that no client keeps a timer of its own, and when
//! it last fell asleep, for the actor tree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Marks an actor that cannot hibernate until its next message.
const NEVER: u64 = u64::MAX;

/// See the module documentation. Times of activity are in ms since the broker
/// started (`BrokerContext::uptime_ms`).
#[derive(Default)]
pub struct IdleClock {
    last_active_ms: AtomicU64,
    /// In ms since the Unix epoch.
    slept_at_ms: AtomicU64,
}

impl IdleClock {
    /// Records that the actor had a message at `now_ms`.
    pub fn touch(&self, now_ms: u64) {
        self.last_active_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Takes the actor out of the sweep until its next message.
    pub fn not_idle(&self) {
        self.last_active_ms.store(NEVER, Ordering::Relaxed);
    }

    /// Whether the actor has had no message for `idle_ms`, at `now_ms`.
    pub fn quiet_for(&self, now_ms: u64, idle_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) >= idle_ms
    }

    /// Records that it falls asleep now.
    pub fn fell_asleep(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.slept_at_ms.store(now, Ordering::Relaxed);
    }

    /// When it last fell asleep.
    pub fn slept_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.slept_at_ms.load(Ordering::Relaxed))
    }
}
