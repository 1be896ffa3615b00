//! What a subscriber learns from each message (latency, duplicates) and the JSON
//! summary of a run.

use crate::payload::{now_ns, Stamp};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::HashMap;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// The result of a run, printed as JSON by the binary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// `conn`, `pub`, `sub` or `pubsub`.
    pub mode: String,
    /// Connections established.
    pub connected: u64,
    /// Connections that could not be established (TCP, CONNACK or SUBACK).
    pub connect_failures: u64,
    /// Established connections that the broker closed or broke during the run.
    pub dropped_connections: u64,
    /// PUBLISHes sent.
    pub sent: u64,
    /// QoS 1/2 PUBLISHes acknowledged by the broker.
    pub acked: u64,
    /// Deliveries the subscribers should have seen (`pubsub`: sent x matching
    /// subscribers; `sub`: the count limit); `None` when unknown.
    pub expected: Option<u64>,
    /// PUBLISHes received by subscribers, duplicates included.
    pub received: u64,
    /// Expected deliveries that never arrived (0 when `expected` is unknown).
    pub lost: u64,
    /// Deliveries of a (publisher, sequence) a subscriber had already seen.
    pub duplicated: u64,
    /// Seconds from the first publish to the last delivery (or last publish
    /// without subscribers).
    pub elapsed_s: f64,
    /// Received messages per second over `elapsed_s` (sent per second in `pub`).
    pub msgs_per_s: f64,
    /// End-to-end latency of the received messages.
    pub latency: LatencySummary,
}

impl Summary {
    pub(crate) fn set_latency(&mut self, h: &Histogram<u64>) {
        if h.is_empty() {
            return;
        }
        self.latency = LatencySummary {
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
        };
    }
}

/// A new latency histogram: 1 µs to 1 h at 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Sequence numbers seen from one publisher, as a growable bitset.
#[derive(Default)]
struct SeqSet(Vec<u64>);

impl SeqSet {
    /// Marks `seq`; false if it was already marked.
    fn insert(&mut self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let had = self.0[word] & (1 << bit) != 0;
        self.0[word] |= 1 << bit;
        !had
    }
}

/// One subscriber's view of what it received.
pub(crate) struct Receipts {
    seen: HashMap<u32, SeqSet>,
    pub(crate) histogram: Histogram<u64>,
    pub(crate) received: u64,
    pub(crate) duplicated: u64,
}

impl Receipts {
    pub(crate) fn new() -> Receipts {
        Receipts {
            seen: HashMap::new(),
            histogram: new_histogram(),
            received: 0,
            duplicated: 0,
        }
    }

    /// Records one delivery; returns false if it is a duplicate.
    pub(crate) fn record(&mut self, payload: &[u8]) -> bool {
        self.received += 1;
        let Some(stamp) = Stamp::parse(payload) else {
            return true;
        };
        let fresh = self
            .seen
            .entry(stamp.publisher)
            .or_default()
            .insert(stamp.seq);
        if !fresh {
            self.duplicated += 1;
            return false;
        }
        let us = now_ns().saturating_sub(stamp.sent_ns) / 1000;
        let _ = self.histogram.record(us.clamp(1, 3_600_000_000));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_counted_once_per_repeat() {
        let mut r = Receipts::new();
        let p = |publisher, seq| {
            Stamp {
                sent_ns: now_ns(),
                publisher,
                seq,
            }
            .payload(16)
        };
        assert!(r.record(&p(1, 0)));
        assert!(r.record(&p(1, 200)));
        assert!(r.record(&p(2, 0)));
        assert!(!r.record(&p(1, 200)));
        assert!(!r.record(&p(1, 200)));
        assert_eq!((r.received, r.duplicated), (5, 2));
        assert_eq!(r.histogram.len(), 3);
    }
}
