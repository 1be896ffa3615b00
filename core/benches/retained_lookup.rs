//! A wildcard lookup among many retained messages: the topic trie of
//! `RetainedMap` against a scan of every retained topic with the spec's
//! matching (what both retained stores did before the trie).
//!
//! `cargo bench -p roost-core --bench retained_lookup [-- TOTAL]` (default
//! 1,000,000 retained messages, topics `fleet/<group>/<device>/status`, 1,000
//! devices per group). Prints p50 and p99 per lookup for a filter matching
//! 1,000 messages and one matching 1.

use bytes::Bytes;
use roost_core::retained::RetainedMap;
use roost_core::Message;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let mut map = RetainedMap::default();
    for i in 0..total {
        let topic = format!("fleet/{}/{i}/status", i / 1000);
        map.insert(Arc::new(Message::new(
            topic.into(),
            Bytes::from_static(b"{\"online\":true}"),
            roost_protocol::QoS::AtLeastOnce,
            true,
            "bench".into(),
            &Default::default(),
        )));
    }
    println!(
        "{total} retained messages stored in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let all = map.unexpired(Instant::now());
    let group = (total / 1000 / 2).to_string();
    let device = (total / 2 + 7).to_string();
    for (what, filter) in [
        ("matches 1,000", format!("fleet/{group}/+/status")),
        ("matches 1", format!("fleet/+/{device}/status")),
    ] {
        let trie = time(200, || map.matching(&filter, Instant::now()).len());
        let scan = time(5, || {
            all.iter()
                .filter(|m| roost_protocol::topic::matches(&filter, &m.topic))
                .count()
        });
        println!(
            "{filter:<28} {what:<14} trie p50 {:>10.1} us  p99 {:>10.1} us | scan p50 {:>10.1} us  p99 {:>10.1} us | scan/trie {:.0}x",
            us(trie.0),
            us(trie.1),
            us(scan.0),
            us(scan.1),
            scan.0.as_secs_f64() / trie.0.as_secs_f64()
        );
    }
}

/// p50 and p99 of `runs` calls of `f` (whose result is checked to be the same each time).
fn time(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, Duration) {
    let want = f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(f(), want);
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[(runs * 99 / 100).min(runs - 1)])
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
