//! An action's counters, EMQX's names (`emqx_resource_metrics`): every
//! output the action is handed is `matched`, and ends as exactly one of
//! `success`, `failed` or `dropped.*`, or is still `queuing` or `inflight`:
//! `matched = success + failed + dropped + queuing + inflight`.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

#[derive(Default)]
pub struct Counters {
    pub matched: AtomicU64,
    pub success: AtomicU64,
    pub failed: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_expired: AtomicU64,
    pub dropped_other: AtomicU64,
    /// Outputs handed to an action that is stopped (disabled, or its
    /// connector failed to start): EMQX's `dropped.resource_stopped`.
    pub dropped_resource_stopped: AtomicU64,
    /// Outputs sent again after a retriable error (once per try).
    pub retried: AtomicU64,
    /// Gauges: outputs in the buffer, and in requests not yet answered.
    pub queuing: AtomicI64,
    pub inflight: AtomicI64,
    /// Sources: messages received from the external system.
    pub received: AtomicU64,
    rates: Mutex<Rates>,
}

/// `matched` per second: over the last sample, the highest, and a 5-minute
/// moving average.
#[derive(Default)]
struct Rates {
    last: Option<(Instant, u64)>,
    rate: f64,
    max: f64,
    last5m: f64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Relaxed);
    }

    /// Samples the match rate (every few seconds).
    pub fn sample(&self, now: Instant) {
        let matched = self.matched.load(Relaxed);
        let mut r = self.rates.lock();
        if let Some((at, before)) = r.last {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                r.rate = matched.saturating_sub(before) as f64 / secs;
                r.max = r.max.max(r.rate);
                let alpha = (secs / 300.0).min(1.0);
                r.last5m += alpha * (r.rate - r.last5m);
            }
        }
        r.last = Some((now, matched));
    }

    /// EMQX's `metrics` object.
    pub fn snapshot(&self) -> serde_json::Value {
        let g = |c: &AtomicU64| c.load(Relaxed);
        let (qf, ex, other, stopped) = (
            g(&self.dropped_queue_full),
            g(&self.dropped_expired),
            g(&self.dropped_other),
            g(&self.dropped_resource_stopped),
        );
        let r = self.rates.lock();
        let round = |f: f64| (f * 100.0).round() / 100.0;
        serde_json::json!({
            "matched": g(&self.matched),
            "success": g(&self.success),
            "failed": g(&self.failed),
            "dropped": qf + ex + other + stopped,
            "dropped.queue_full": qf,
            "dropped.expired": ex,
            "dropped.other": other,
            "dropped.resource_stopped": stopped,
            "queuing": self.queuing.load(Relaxed).max(0),
            "inflight": self.inflight.load(Relaxed).max(0),
            "retried": g(&self.retried),
            "received": g(&self.received),
            "rate": round(r.rate),
            "rate_max": round(r.max),
            "rate_last5m": round(r.last5m),
        })
    }

    /// Zeroes the counters; the gauges stay (they are what is in the buffer).
    pub fn reset(&self) {
        for c in [
            &self.matched,
            &self.success,
            &self.failed,
            &self.dropped_queue_full,
            &self.dropped_expired,
            &self.dropped_other,
            &self.dropped_resource_stopped,
            &self.retried,
            &self.received,
        ] {
            c.store(0, Relaxed);
        }
        *self.rates.lock() = Rates::default();
    }
}
