//! What one `Router::route` costs, in-process, with inboxes that only count:
//! the router's own share of the publish path, apart from sessions and
//! sockets (which roost-bench measures end to end). A program that prints
//! numbers and asserts nothing, so it is ignored by default; run it with
//!
//! ```text
//! cargo test --release -p roost-actors --lib router::bench -- --ignored --nocapture
//! ```
//!
//! (`ONLY=<part of a name>` runs the matching scenarios only).

use super::*;
use bytes::Bytes;
use roost_protocol::{Properties, QoS};
use std::time::Instant;

/// An inbox that counts what it is given and drops it.
#[derive(Debug, Default)]
struct Count(parking_lot::Mutex<u64>);

impl Mailbox for Count {
    fn deliver(&self, d: Delivery) -> Option<bool> {
        *self.0.lock() += 1;
        drop(d);
        Some(false)
    }

    fn wait_for_drain(&self, _: &Arc<dyn Waiter>) -> bool {
        false
    }
}

fn router(mode: OverlappingSubscriptions) -> Router {
    test_router(8, mode)
}

fn subscribe(r: &Router, client: &str, session: &Arc<Count>, filter: &str, id: u32) {
    let s = Subscriber {
        client_id: client.into(),
        session: session.clone(),
        options: SubscriptionOptions::default(),
        subscription_id: Some(id),
    };
    let p = r.partition(r.partition_of(filter));
    add_route(&mut p.write(), filter, None, s);
}

/// Prints the best of five runs of `iters` publishes to `topic`.
fn time(name: &str, r: &Router, topic: &str, iters: u32) {
    if std::env::var("ONLY").is_ok_and(|only| !name.contains(&only)) {
        return;
    }
    let msg = Arc::new(Message::new(
        topic.into(),
        Bytes::from_static(b"m"),
        QoS::AtMostOnce,
        false,
        "pub".into(),
        &Properties::default(),
    ));
    for _ in 0..iters / 10 {
        r.route(&msg);
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(r.route(&msg));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    println!("{name:<40} {best:>10.1} ns/publish");
}

#[test]
#[ignore = "a benchmark: prints numbers"]
fn route_cost() {
    use OverlappingSubscriptions::*;
    for mode in [OneCopy, PerSubscription] {
        let fresh = || Arc::new(Count::default());
        let r = router(mode);
        subscribe(&r, "c", &fresh(), "t/1", 1);
        time(&format!("{mode:?} one-sub"), &r, "t/1", 2_000_000);

        let r = router(mode);
        for i in 0..1000 {
            subscribe(&r, &format!("c{i}"), &fresh(), "f/a", 1);
        }
        time(&format!("{mode:?} fanout-1000"), &r, "f/a", 5_000);

        // Two matched maps in two partitions, no client in both.
        for i in 0..10 {
            subscribe(&r, &format!("w{i}"), &fresh(), "#", 2);
        }
        time(&format!("{mode:?} fanout-1000+10#"), &r, "f/a", 5_000);

        // Every client in both maps: the merge path at its worst.
        let r = router(mode);
        for i in 0..1000 {
            let s = fresh();
            subscribe(&r, &format!("c{i}"), &s, "f/a", 1);
            subscribe(&r, &format!("c{i}"), &s, "f/#", 2);
        }
        time(&format!("{mode:?} overlap-1000x2"), &r, "f/a", 5_000);

        let r = router(mode);
        let s = fresh();
        subscribe(&r, "c", &s, "o/a", 1);
        subscribe(&r, "c", &s, "o/#", 2);
        subscribe(&r, "c", &s, "+/a", 3);
        time(
            &format!("{mode:?} one-client-3-filters"),
            &r,
            "o/a",
            1_000_000,
        );
    }
}
