//! A rule's counters (EMQX's `emqx_rule_engine` metrics: `matched`,
//! `passed`, `failed`, `failed.exception`, `failed.no_result`,
//! `actions.total/success/failed`, and the match rates), and the broker-wide
//! sums the engine adds to roost-core's [`Metrics`](roost_core::Metrics).

use super::RuleMetrics;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Relaxed atomics, bumped by the publisher (`matched`, `dropped.queue_full`)
/// and by the rule's worker (the rest).
#[derive(Debug, Default)]
pub struct RuleCounters {
    pub matched: AtomicU64,
    pub passed: AtomicU64,
    pub failed_exception: AtomicU64,
    pub failed_no_result: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub actions_success: AtomicU64,
    pub actions_failed: AtomicU64,
    rates: Mutex<Rates>,
}

/// The match rate, sampled by [`RuleCounters::sample`].
#[derive(Debug, Default)]
struct Rates {
    last: Option<(Instant, u64)>,
    rate: f64,
    max: f64,
    /// An exponentially weighted average over about five minutes.
    last5m: f64,
}

impl RuleCounters {
    pub fn snapshot(&self) -> RuleMetrics {
        let failed_exception = self.failed_exception.load(Relaxed);
        let failed_no_result = self.failed_no_result.load(Relaxed);
        let (success, failed) = (
            self.actions_success.load(Relaxed),
            self.actions_failed.load(Relaxed),
        );
        let rates = self.rates.lock();
        RuleMetrics {
            matched: self.matched.load(Relaxed),
            passed: self.passed.load(Relaxed),
            failed: failed_exception + failed_no_result,
            failed_exception,
            failed_no_result,
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            actions_total: success + failed,
            actions_success: success,
            actions_failed: failed,
            matched_rate: round2(rates.rate),
            matched_rate_max: round2(rates.max),
            matched_rate_last5m: round2(rates.last5m),
        }
    }

    /// Zeroes every counter and rate.
    pub fn reset(&self) {
        for c in [
            &self.matched,
            &self.passed,
            &self.failed_exception,
            &self.failed_no_result,
            &self.dropped_queue_full,
            &self.actions_success,
            &self.actions_failed,
        ] {
            c.store(0, Relaxed);
        }
        *self.rates.lock() = Rates::default();
    }

    /// Takes a rate sample (every few seconds, from the engine's ticker).
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
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn failed_and_actions_total_are_sums_and_rates_follow_samples() {
        let c = RuleCounters::default();
        c.matched.fetch_add(3, Relaxed);
        c.failed_exception.fetch_add(1, Relaxed);
        c.failed_no_result.fetch_add(1, Relaxed);
        c.actions_success.fetch_add(2, Relaxed);
        c.actions_failed.fetch_add(1, Relaxed);
        let m = c.snapshot();
        assert_eq!((m.failed, m.actions_total), (2, 3));
        let t0 = Instant::now();
        c.sample(t0);
        c.matched.fetch_add(10, Relaxed);
        c.sample(t0 + Duration::from_secs(5));
        let m = c.snapshot();
        assert_eq!((m.matched_rate, m.matched_rate_max), (2.0, 2.0));
        assert!(m.matched_rate_last5m > 0.0);
        c.reset();
        assert_eq!(c.snapshot(), RuleMetrics::default());
    }
}
