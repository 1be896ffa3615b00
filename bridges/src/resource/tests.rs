//! The delivery machinery against a fake sink whose answers the test sets.

use super::*;
use crate::driver::{BoxFuture, ConfigError, SendError};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Records every batch; answers `Retriable` while `down`, `Fatal` for an
/// output with `bad`, and waits `delay` per request.
#[derive(Default)]
struct FakeSink {
    batches: Mutex<Vec<Vec<i64>>>,
    down: AtomicBool,
    delay_ms: std::sync::atomic::AtomicU64,
}

impl Sink for FakeSink {
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let d = self.delay_ms.load(Relaxed);
            if d > 0 {
                tokio::time::sleep(Duration::from_millis(d)).await;
            }
            if self.down.load(Relaxed) {
                return Err(SendError::Retriable("connection refused".into()));
            }
            if batch.iter().any(|m| m.contains_key("bad")) {
                return Err(SendError::Fatal("400 Bad Request".into()));
            }
            self.batches.lock().push(batch.iter().map(n).collect());
            Ok(())
        })
    }
}

struct FakeConnector(Arc<FakeSink>);

impl Connector for FakeConnector {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        let down = self.0.down.load(Relaxed);
        Box::pin(async move {
            if down {
                Err("connection refused".into())
            } else {
                Ok(())
            }
        })
    }
    fn action(&self, _: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        Ok(self.0.clone())
    }
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

fn out(i: i64) -> Map {
    let mut m = Map::new();
    m.insert("n".into(), Value::Int(i));
    m.insert("clientid".into(), Value::Str("c1".into()));
    m
}

fn n(m: &Map) -> i64 {
    match m.get("n") {
        Some(Value::Int(i)) => *i,
        _ => -1,
    }
}

fn opts(j: serde_json::Value) -> ResourceOpts {
    ResourceOpts::from_json(Some(&j)).unwrap()
}

fn start(o: &ResourceOpts, dir: Option<PathBuf>) -> (Arc<FakeSink>, Buffer) {
    let sink = Arc::new(FakeSink::default());
    let b = Buffer::start(
        "fake:a",
        o,
        sink.clone(),
        Arc::new(FakeConnector(sink.clone())),
        dir,
        Arc::new(Counters::default()),
    );
    (sink, b)
}

fn m(b: &Buffer, key: &str) -> u64 {
    b.counters.snapshot()[key].as_u64().unwrap()
}

/// Polls `f` every 10 ms for up to 10 s.
async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// matched = success + failed + dropped + queuing + inflight.
fn accounted(b: &Buffer) -> bool {
    m(b, "matched")
        == m(b, "success") + m(b, "failed") + m(b, "dropped") + m(b, "queuing") + m(b, "inflight")
}

#[tokio::test]
async fn batches_up_to_batch_size_in_order() {
    let o =
        opts(serde_json::json!({"worker_pool_size": 1, "batch_size": 10, "batch_time": "200ms"}));
    let (sink, b) = start(&o, None);
    for i in 0..25 {
        b.push(&out(i));
    }
    until("25 delivered", || m(&b, "success") == 25).await;
    let batches = sink.batches.lock().clone();
    assert_eq!(batches.len(), 3, "{batches:?}");
    assert_eq!(batches[0].len(), 10);
    assert_eq!(batches.concat(), (0..25).collect::<Vec<_>>());
    assert!(accounted(&b));
    // A lone output waits batch_time, then goes alone.
    b.push(&out(99));
    until("the partial batch", || m(&b, "success") == 26).await;
    assert_eq!(sink.batches.lock().last().unwrap(), &vec![99]);
    until("the health check", || {
        b.health().status == Status::Connected
    })
    .await;
}

#[tokio::test]
async fn retriable_errors_are_retried_until_success_and_fatal_ones_fail() {
    let o = opts(serde_json::json!({"worker_pool_size": 2, "health_check_interval": "200ms"}));
    let (sink, b) = start(&o, None);
    sink.down.store(true, Relaxed);
    for i in 0..20 {
        b.push(&out(i));
    }
    until("retried", || m(&b, "retried") > 0).await;
    until("disconnected", || b.health().status == Status::Disconnected).await;
    assert_eq!(b.health().reason.as_deref(), Some("connection refused"));
    assert_eq!(m(&b, "success"), 0);
    sink.down.store(false, Relaxed);
    until("all delivered", || m(&b, "success") == 20).await;
    assert_eq!(sink.batches.lock().concat(), (0..20).collect::<Vec<_>>());
    let mut bad = out(100);
    bad.insert("bad".into(), Value::Bool(true));
    b.push(&bad);
    until("failed", || m(&b, "failed") == 1).await;
    until("accounted", || accounted(&b) && m(&b, "inflight") == 0).await;
    until("connected", || b.health().status == Status::Connected).await;
}

#[tokio::test]
async fn outputs_past_request_ttl_are_dropped_as_expired() {
    let o =
        opts(serde_json::json!({"worker_pool_size": 1, "request_ttl": "300ms", "batch_size": 5}));
    let (sink, b) = start(&o, None);
    sink.down.store(true, Relaxed);
    for i in 0..12 {
        b.push(&out(i));
    }
    until("all expired", || m(&b, "dropped.expired") == 12).await;
    assert_eq!(m(&b, "dropped"), 12);
    assert!(accounted(&b));
    sink.down.store(false, Relaxed);
    b.push(&out(50));
    until("a fresh one delivered", || m(&b, "success") == 1).await;
    assert_eq!(sink.batches.lock().concat(), vec![50]);
}

#[tokio::test]
async fn a_full_buffer_drops_the_oldest() {
    let size = codec::size(&out(0)) as u64;
    let o = opts(serde_json::json!({
        "worker_pool_size": 1, "buffer_mode": "memory_only", "max_buffer_bytes": size * 20,
        "inflight_window": 1,
    }));
    let (sink, b) = start(&o, None);
    sink.down.store(true, Relaxed);
    // The first goes in flight (and fails); the rest wait.
    b.push(&out(0));
    until("in flight", || m(&b, "inflight") == 1).await;
    for i in 1..=50 {
        b.push(&out(i));
    }
    assert_eq!(m(&b, "dropped.queue_full"), 30);
    assert_eq!(m(&b, "queuing"), 20);
    assert!(accounted(&b));
    sink.down.store(false, Relaxed);
    until("delivered", || m(&b, "success") == 21).await;
    let got = sink.batches.lock().concat();
    assert_eq!(got[0], 0);
    assert_eq!(got[1..], (31..=50).collect::<Vec<_>>()[..]);
}

#[tokio::test]
async fn spills_to_disk_segments_and_reads_back_in_order() {
    let dir = std::env::temp_dir().join(format!("roost-buf-{}", std::process::id()));
    let size = codec::size(&out(0)) as u64;
    let o = opts(serde_json::json!({
        "worker_pool_size": 1, "buffer_seg_bytes": size * 10, "max_buffer_bytes": size * 100,
        "inflight_window": 1, "health_check_interval": "200ms",
    }));
    let (sink, b) = start(&o, Some(dir.clone()));
    sink.down.store(true, Relaxed);
    for i in 0..80 {
        b.push(&out(i));
        tokio::task::yield_now().await;
    }
    // The buffer's own directory under `dir`, then its worker's.
    let lane_of = |dir: &PathBuf| {
        std::fs::read_dir(dir)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path().join("0"))
            .unwrap_or_else(|| dir.join("none"))
    };
    until("segment files", || {
        std::fs::read_dir(lane_of(&dir))
            .map(|d| d.count() >= 3)
            .unwrap_or(false)
    })
    .await;
    // Past max_buffer_bytes: the oldest go, from disk too.
    for i in 80..130 {
        b.push(&out(i));
        tokio::task::yield_now().await;
    }
    until("dropped", || m(&b, "dropped.queue_full") >= 29).await;
    until("accounted", || accounted(&b)).await;
    sink.down.store(false, Relaxed);
    until("drained", || {
        m(&b, "queuing") == 0 && m(&b, "inflight") == 0
    })
    .await;
    let got = sink.batches.lock().concat();
    let dropped = m(&b, "dropped.queue_full") as usize;
    assert_eq!(got.len() + dropped, 130);
    // In order, and what was dropped was the oldest (after the first, in flight).
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted);
    assert_eq!(got[0], 0);
    assert_eq!(got[1], dropped as i64 + 1, "{got:?}");
    let lane = lane_of(&dir);
    until("segments removed", || {
        std::fs::read_dir(&lane)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    })
    .await;
    drop(b);
    assert!(!dir.exists());
}

/// An action rebuilt while its sink is down (its connector changed): the
/// old buffer hands everything to the new one, the outputs it was retrying
/// and those queued, on disk too, and the new one sends them all, in order;
/// the metrics (shared across the rebuild) account for every output.
#[tokio::test]
async fn a_rebuilt_action_keeps_what_its_old_buffer_held() {
    let dir = std::env::temp_dir().join(format!("roost-handover-{}", std::process::id()));
    let size = codec::size(&out(0)) as u64;
    let o = opts(serde_json::json!({
        "worker_pool_size": 1, "buffer_seg_bytes": size * 10, "max_buffer_bytes": size * 1000,
        "batch_size": 5, "inflight_window": 1, "health_check_interval": "200ms",
    }));
    let counters = Arc::new(Counters::default());
    let down = Arc::new(FakeSink::default());
    down.down.store(true, Relaxed);
    let old = Arc::new(Buffer::start(
        "fake:a",
        &o,
        down.clone(),
        Arc::new(FakeConnector(down.clone())),
        Some(dir.clone()),
        counters.clone(),
    ));
    for i in 0..60 {
        old.push(&out(i));
        tokio::task::yield_now().await;
    }
    until("retrying, and spilled", || {
        m(&old, "retried") > 0 && old.queued_bytes() > 0
    })
    .await;
    let up = Arc::new(FakeSink::default());
    let new = Arc::new(Buffer::start(
        "fake:a",
        &o,
        up.clone(),
        Arc::new(FakeConnector(up.clone())),
        Some(dir.clone()),
        counters.clone(),
    ));
    old.hand_over(&new);
    drop(old);
    for i in 60..70 {
        new.push(&out(i));
    }
    until("all 70 sent", || m(&new, "success") == 70).await;
    let got = up.batches.lock().concat();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, (0..70).collect::<Vec<_>>(), "each once: {got:?}");
    assert!(down.batches.lock().is_empty());
    assert!(accounted(&new));
    assert_eq!(m(&new, "dropped"), 0);
    until("queues empty", || {
        m(&new, "queuing") == 0 && m(&new, "inflight") == 0
    })
    .await;
    until("the old buffer's directory removed", || {
        std::fs::read_dir(&dir).map_or(0, |d| d.count()) <= 1
    })
    .await;
    drop(new);
    assert!(!dir.exists(), "every segment directory removed");
}

/// A sink that keeps order per output `key` (as `kafka_producer` with
/// `key_dispatch` does): each request "reaches the server" after a latency
/// the test sets per output, and the server's log is what order is checked
/// on. `fail_first` outputs fail their first try (retriable); with
/// `unsent`, only them (the rest of the request is taken).
#[derive(Default)]
struct OrderedSink {
    log: Mutex<Vec<(String, i64)>>,
    latency_ms: Mutex<HashMap<i64, u64>>,
    fail_first: Mutex<std::collections::HashSet<i64>>,
    unsent: bool,
    keyed: bool,
}

fn keyed(i: i64, key: &str, client: &str) -> Map {
    let mut m = out(i);
    m.insert("key".into(), Value::Str(key.into()));
    m.insert("clientid".into(), Value::Str(client.into()));
    m
}

fn key_of(m: &Map) -> String {
    match m.get("key") {
        Some(Value::Str(k)) => k.to_string(),
        _ => String::new(),
    }
}

impl Sink for OrderedSink {
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let latency = batch
                .iter()
                .filter_map(|o| self.latency_ms.lock().get(&n(o)).copied())
                .max()
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(latency)).await;
            let failing: Vec<usize> = {
                let mut f = self.fail_first.lock();
                (0..batch.len())
                    .filter(|i| f.remove(&n(&batch[*i])))
                    .collect()
            };
            if failing.is_empty() {
                self.log
                    .lock()
                    .extend(batch.iter().map(|o| (key_of(o), n(o))));
                return Ok(());
            }
            if !self.unsent {
                return Err(SendError::Retriable("leader not available".into()));
            }
            self.log.lock().extend(
                (0..batch.len())
                    .filter(|i| !failing.contains(i))
                    .map(|i| (key_of(&batch[i]), n(&batch[i]))),
            );
            Err(SendError::Unsent {
                unsent: failing,
                why: "leader not available".into(),
            })
        })
    }

    fn order_key(&self, output: &Map) -> Option<u64> {
        self.keyed.then(|| fnv(&key_of(output)))
    }
}

fn start_ordered(o: &ResourceOpts, sink: OrderedSink) -> (Arc<OrderedSink>, Buffer) {
    let sink = Arc::new(sink);
    let fake = Arc::new(FakeSink::default());
    let b = Buffer::start(
        "fake:ordered",
        o,
        sink.clone(),
        Arc::new(FakeConnector(fake)),
        None,
        Arc::new(Counters::default()),
    );
    (sink, b)
}

/// Each key's outputs in the server's log, in the order they arrived.
fn per_key(log: &[(String, i64)]) -> HashMap<String, Vec<i64>> {
    let mut keys: HashMap<String, Vec<i64>> = HashMap::new();
    for (k, i) in log {
        keys.entry(k.clone()).or_default().push(*i);
    }
    keys
}

#[tokio::test]
async fn a_key_stays_in_order_with_many_requests_in_flight() {
    // 40 outputs of 2 keys from 40 different clients, one request each, up
    // to 100 in flight on 4 workers; the earlier an output, the slower its
    // request: sent all at once, they would arrive in reverse.
    let o = opts(serde_json::json!({"worker_pool_size": 4, "batch_size": 1,
        "inflight_window": 100, "batch_time": "0ms"}));
    let sink = OrderedSink {
        keyed: true,
        ..Default::default()
    };
    for i in 0..40 {
        sink.latency_ms.lock().insert(i, (40 - i as u64) * 3);
    }
    let (sink, b) = start_ordered(&o, sink);
    for i in 0..40 {
        b.push(&keyed(i, &format!("dev{}", i % 2), &format!("c{i}")));
    }
    until("40 delivered", || m(&b, "success") == 40).await;
    let keys = per_key(&sink.log.lock());
    assert_eq!(keys["dev0"], (0..40).step_by(2).collect::<Vec<_>>());
    assert_eq!(keys["dev1"], (1..40).step_by(2).collect::<Vec<_>>());
    assert!(accounted(&b));
    assert_eq!(m(&b, "inflight"), 0);
}

#[tokio::test]
async fn without_order_keys_requests_overtake_each_other() {
    // The same flow on a sink that keeps no order: the later requests
    // arrive first (what the test above would see without the ordering).
    let o = opts(serde_json::json!({"worker_pool_size": 1, "batch_size": 1,
        "inflight_window": 100, "batch_time": "0ms"}));
    let sink = OrderedSink::default();
    for i in 0..10 {
        sink.latency_ms.lock().insert(i, (10 - i as u64) * 20);
    }
    let (sink, b) = start_ordered(&o, sink);
    for i in 0..10 {
        b.push(&keyed(i, "dev0", "c0"));
    }
    until("10 delivered", || m(&b, "success") == 10).await;
    let got: Vec<i64> = sink.log.lock().iter().map(|(_, i)| *i).collect();
    assert_ne!(got, (0..10).collect::<Vec<_>>(), "{got:?}");
}

#[tokio::test]
async fn a_retried_request_is_not_overtaken_by_a_later_one_of_its_key() {
    // Output 0 fails its first try; 1.. of the same key are queued behind
    // it with room in flight: they wait until 0 went (and, behind them in
    // the worker's queue, the other key's).
    let o = opts(serde_json::json!({"worker_pool_size": 1, "batch_size": 1,
        "inflight_window": 100, "batch_time": "0ms", "resume_interval": "50ms"}));
    let sink = OrderedSink {
        keyed: true,
        ..Default::default()
    };
    sink.fail_first.lock().insert(0);
    let (sink, b) = start_ordered(&o, sink);
    for i in 0..20 {
        let key = if i < 10 { "dev0" } else { "dev1" };
        b.push(&keyed(i, key, "c0"));
    }
    until("20 delivered", || m(&b, "success") == 20).await;
    let keys = per_key(&sink.log.lock());
    assert_eq!(keys["dev0"], (0..10).collect::<Vec<_>>());
    assert_eq!(keys["dev1"], (10..20).collect::<Vec<_>>());
    assert!(m(&b, "retried") >= 1);
    assert!(accounted(&b));
}

#[tokio::test]
async fn a_request_taken_in_part_sends_only_the_rest_again() {
    // Batches of 4; outputs 2 and 3 (another partition, say) fail their
    // first try: only they go again, nothing twice, and their key's later
    // outputs come after them.
    let o = opts(serde_json::json!({"worker_pool_size": 1, "batch_size": 4,
        "inflight_window": 100, "batch_time": "10ms", "resume_interval": "50ms"}));
    let sink = OrderedSink {
        keyed: true,
        unsent: true,
        ..Default::default()
    };
    sink.fail_first.lock().extend([2, 3]);
    let (sink, b) = start_ordered(&o, sink);
    for i in 0..12 {
        let key = if i % 4 < 2 { "a" } else { "b" };
        b.push(&keyed(i, key, "c0"));
    }
    until("12 delivered", || m(&b, "success") == 12).await;
    let log = sink.log.lock().clone();
    assert_eq!(log.len(), 12, "each once: {log:?}");
    let keys = per_key(&log);
    assert_eq!(keys["a"], vec![0, 1, 4, 5, 8, 9]);
    assert_eq!(keys["b"], vec![2, 3, 6, 7, 10, 11]);
    assert_eq!(m(&b, "retried"), 2);
    assert_eq!(m(&b, "failed"), 0);
    assert!(accounted(&b));
}
