//! A buffer worker's loop (EMQX's `emqx_resource_buffer_worker`): take a
//! batch when `batch_size` outputs wait or the oldest has waited
//! `batch_time`, send it while fewer than `inflight_window` requests are in
//! flight, and on a retriable error stop taking new batches ("blocked") and
//! send the failed one again with backoff, dropping its outputs older than
//! `request_ttl` (`dropped.expired`). With a sink that keeps order
//! ([`Sink::order_key`]), a batch holding a key that a request in flight or
//! waiting to be retried holds waits (and the batches after it), so one
//! key's outputs reach the system in order. Disk I/O (spill, read-back)
//! happens here, never in the producers. Plus the action's monitor: health checks
//! every `health_check_interval`, and the rate samples.

use super::metrics::Counters;
use super::queue::{write_segment, Item};
use super::{Health, Lane, ResourceOpts};
use crate::driver::{Connector, SendError};
use crate::manage::Status;
use crate::Sink;
use futures_util::FutureExt;
use parking_lot::RwLock;
use roost_rules::Map;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One request: the outputs and when each was queued.
struct Request {
    outputs: Vec<Map>,
    queued_ms: Vec<i64>,
    /// Tries so far (0 for the first send).
    tries: u32,
    /// Its place in the worker's order: requests waiting to be retried go
    /// again oldest first.
    seq: u64,
    /// Its outputs' ordering keys (sorted, each once; empty for a sink that
    /// keeps no order), held from its first send until it is done.
    keys: Vec<u64>,
}

/// The ordering keys held by the requests in flight or waiting to be
/// retried, each with how many hold it.
#[derive(Default)]
pub(crate) struct Held(HashMap<u64, u32>);

impl Held {
    pub(crate) fn conflicts(&self, keys: &[u64]) -> bool {
        !self.0.is_empty() && keys.iter().any(|k| self.0.contains_key(k))
    }

    pub(crate) fn claim(&mut self, keys: &[u64]) {
        for k in keys {
            *self.0.entry(*k).or_default() += 1;
        }
    }

    pub(crate) fn release(&mut self, keys: &[u64]) {
        for k in keys {
            if let Some(n) = self.0.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.0.remove(k);
                }
            }
        }
    }
}

/// The sorted, deduplicated ordering keys of `outputs`.
fn order_keys<'a>(sink: &dyn Sink, outputs: impl Iterator<Item = &'a Map>) -> Vec<u64> {
    let mut keys: Vec<u64> = outputs.filter_map(|o| sink.order_key(o)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The worker's requests in flight; what they hold leaves `inflight` however
/// the worker ends (an aborted task drops this).
struct Flight {
    set: JoinSet<(Request, Result<(), SendError>)>,
    items: usize,
    counters: Arc<Counters>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.counters.inflight.fetch_sub(self.items as i64, Relaxed);
    }
}

pub(crate) async fn run(
    lane: Arc<Lane>,
    sink: Arc<dyn Sink>,
    opts: ResourceOpts,
    counters: Arc<Counters>,
) {
    let c = counters.clone();
    let mut flight = Flight {
        set: JoinSet::new(),
        items: 0,
        counters,
    };
    // Requests waiting to be sent again (oldest first), and when the first
    // goes: while any waits, no new batch is taken (EMQX's "blocked").
    let mut retrying: VecDeque<Request> = VecDeque::new();
    let mut retry_at = Instant::now();
    // Ordering keys in flight or waiting to be retried; a batch cut that
    // holds one of them waits here (counted in `inflight`), and no batch is
    // cut after it until it has gone.
    let mut held = Held::default();
    let mut waiting: Option<Request> = None;
    let mut seq: u64 = 0;
    let ttl = opts.request_ttl.as_millis() as i64;
    let batch_ms = opts.batch_time.as_millis() as i64;
    loop {
        spill_and_trim(&lane, &c).await;
        // The action was rebuilt: nothing new goes; once what is in flight
        // is answered, the rest moves to the new buffer.
        let handing = lane.successor.lock().clone();
        if let Some(next) = &handing {
            if flight.set.is_empty() {
                retrying.extend(waiting.take());
                hand_over(&lane, &mut retrying, next, &c, &mut flight.items);
                return;
            }
        }
        // Outputs expired while queued leave before a batch is cut.
        let mut next_batch_at: Option<Instant> = None;
        while handing.is_none()
            && !retrying.is_empty()
            && Instant::now() >= retry_at
            && flight.set.len() < opts.inflight_window
        {
            let mut req = retrying.pop_front().expect("not empty");
            if expire(&mut req, ttl, &c, &mut flight.items) {
                Counters::add(&c.retried, req.outputs.len());
                launch(&mut flight, &sink, req);
                // One try at a time while the sink fails.
                retry_at = Instant::now() + opts.resume_interval();
                break;
            }
            held.release(&req.keys);
        }
        // The batch that waits for its keys goes first, once they are free.
        if handing.is_none() && retrying.is_empty() && flight.set.len() < opts.inflight_window {
            if let Some(mut req) = waiting.take() {
                if held.conflicts(&req.keys) {
                    waiting = Some(req);
                } else if expire(&mut req, ttl, &c, &mut flight.items) {
                    held.claim(&req.keys);
                    launch(&mut flight, &sink, req);
                }
            }
        }
        while handing.is_none()
            && waiting.is_none()
            && retrying.is_empty()
            && flight.set.len() < opts.inflight_window
        {
            let now = now_ms();
            let items = {
                let mut q = lane.queue.lock();
                let ready = q.len() >= opts.batch_size
                    || match q.oldest_ms() {
                        Some(t) => now - t >= batch_ms,
                        None => !q.is_empty(),
                    };
                if !ready {
                    if let Some(t) = q.oldest_ms() {
                        let wait = (t + batch_ms - now).max(1) as u64;
                        next_batch_at = Some(Instant::now() + Duration::from_millis(wait));
                    }
                    break;
                }
                q.pop(opts.batch_size)
            };
            let taken = items.items.len() + items.lost;
            if taken == 0 {
                break;
            }
            c.queuing.fetch_sub(taken as i64, Relaxed);
            Counters::add(&c.dropped_other, items.lost);
            let (live, dead): (Vec<Item>, Vec<Item>) = items
                .items
                .into_iter()
                .partition(|i| now - i.queued_ms < ttl);
            Counters::add(&c.dropped_expired, dead.len());
            if live.is_empty() {
                continue;
            }
            let req = Request {
                queued_ms: live.iter().map(|i| i.queued_ms).collect(),
                keys: order_keys(&*sink, live.iter().map(|i| &i.output)),
                outputs: live.into_iter().map(|i| i.output).collect(),
                tries: 0,
                seq,
            };
            seq += 1;
            if held.conflicts(&req.keys) {
                // Counted in flight from now: it left the queue.
                count_inflight(&mut flight, req.outputs.len());
                waiting = Some(req);
                break;
            }
            held.claim(&req.keys);
            count_inflight(&mut flight, req.outputs.len());
            launch(&mut flight, &sink, req);
        }
        let retry_due = (!retrying.is_empty()).then_some(retry_at);
        let timer = match (retry_due, next_batch_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match timer {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = lane.wake.notified() => {}
            _ = sleep => {}
            Some(done) = flight.set.join_next() => {
                let Ok((mut req, result)) = done else { continue };
                let n = req.outputs.len();
                let keys = std::mem::take(&mut req.keys);
                if req.tries > 0 && !matches!(result, Err(SendError::Retriable(_))) {
                    // The sink answers again: the next waiting one goes now.
                    retry_at = Instant::now();
                }
                // How many outputs are done (and of them refused), and what
                // is left to send again, with why.
                let (done, refused, rest) = match result {
                    Ok(()) => (n, 0, None),
                    Err(SendError::Fatal(why)) => {
                        tracing::warn!(error = %why, outputs = n, "bridge_send_failed");
                        (n, n, None)
                    }
                    Err(SendError::Retriable(why)) => (0, 0, Some((req, why))),
                    Err(SendError::Partial { sent, failed, why }) => {
                        let sent = sent.min(n);
                        let failed = failed.min(sent);
                        if failed > 0 {
                            tracing::warn!(error = %why, outputs = failed, "bridge_send_failed");
                        }
                        let mut req = req;
                        req.outputs.drain(..sent);
                        req.queued_ms.drain(..sent);
                        let rest = (!req.outputs.is_empty()).then_some((req, why));
                        (sent, failed, rest)
                    }
                    Err(SendError::Unsent { unsent, why }) => {
                        let mut req = req;
                        let mut keep = vec![false; n];
                        for i in unsent.into_iter().filter(|i| *i < n) {
                            keep[i] = true;
                        }
                        retain_mask(&mut req, &keep);
                        let rest_n = req.outputs.len();
                        let rest = (rest_n > 0).then_some((req, why));
                        (n - rest_n, 0, rest)
                    }
                };
                flight.items -= done;
                c.inflight.fetch_sub(done as i64, Relaxed);
                Counters::add(&c.success, done - refused);
                Counters::add(&c.failed, refused);
                if rest.is_none() {
                    held.release(&keys);
                }
                if let Some((mut req, why)) = rest {
                    // Its keys stay held until it is done.
                    req.keys = keys;
                    tracing::debug!(error = %why, outputs = req.outputs.len(), tries = req.tries, "bridge_send_retry");
                    // Still inflight: sent again once the backoff has passed.
                    let backoff = Duration::from_millis(100 << req.tries.min(8))
                        .min(opts.resume_interval());
                    if req.tries > 0 || retrying.is_empty() {
                        retry_at = Instant::now() + backoff;
                    }
                    let req = Request { tries: req.tries + 1, ..req };
                    // Oldest first, however the answers came back.
                    let at = retrying.partition_point(|r| r.seq < req.seq);
                    retrying.insert(at, req);
                }
            }
        }
    }
}

/// Hands what the worker still holds to `next`, the action's new buffer:
/// the requests to send again (they leave `inflight`), then its queue,
/// segment files included (they leave `queuing`), oldest first; then removes
/// its segment directory.
fn hand_over(
    lane: &Lane,
    retrying: &mut VecDeque<Request>,
    next: &Arc<super::Buffer>,
    c: &Counters,
    inflight: &mut usize,
) {
    let mut items = Vec::new();
    for req in retrying.drain(..) {
        let n = req.outputs.len();
        *inflight -= n;
        c.inflight.fetch_sub(n as i64, Relaxed);
        items.extend(
            req.outputs
                .into_iter()
                .zip(req.queued_ms)
                .map(|(output, t)| Item::new(output, t)),
        );
    }
    let popped = lane.queue.lock().pop(usize::MAX);
    c.queuing
        .fetch_sub((popped.items.len() + popped.lost) as i64, Relaxed);
    Counters::add(&c.dropped_other, popped.lost);
    items.extend(popped.items);
    next.requeue(items);
    if let Some(dir) = &lane.dir {
        let _ = std::fs::remove_dir_all(dir);
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Counts `n` outputs that left the queue into `inflight`.
fn count_inflight(flight: &mut Flight, n: usize) {
    flight.items += n;
    flight.counters.inflight.fetch_add(n as i64, Relaxed);
}

/// Spawns the send of `req` (counted in `inflight` already).
fn launch(flight: &mut Flight, sink: &Arc<dyn Sink>, req: Request) {
    let sink = sink.clone();
    flight.set.spawn(async move {
        // A sink that panics fails its request (and frees its keys) rather
        // than losing it.
        let result = AssertUnwindSafe(sink.send(&req.outputs))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(SendError::Fatal("the sink panicked".into())));
        (req, result)
    });
}

/// Drops the outputs of `req` past `request_ttl` (`dropped.expired`);
/// whether any is left.
fn expire(req: &mut Request, ttl: i64, c: &Counters, inflight: &mut usize) -> bool {
    let now = now_ms();
    let before = req.outputs.len();
    let mask: Vec<bool> = req.queued_ms.iter().map(|t| now - t < ttl).collect();
    retain_mask(req, &mask);
    let gone = before - req.outputs.len();
    *inflight -= gone;
    c.inflight.fetch_sub(gone as i64, Relaxed);
    Counters::add(&c.dropped_expired, gone);
    !req.outputs.is_empty()
}

/// Keeps the outputs of `req` whose place in `keep` is true.
fn retain_mask(req: &mut Request, keep: &[bool]) {
    let mut i = 0;
    req.outputs.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
    let mut i = 0;
    req.queued_ms.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
}

/// Writes the tail to a segment file when memory is full, and drops the
/// oldest outputs (read back from disk) when the whole buffer is.
async fn spill_and_trim(lane: &Arc<Lane>, c: &Counters) {
    loop {
        let spill = {
            let mut q = lane.queue.lock();
            q.take_spill()
                .map(|(seq, items)| (q.segment_path(seq), items))
        };
        let Some((Some(path), items)) = spill else {
            break;
        };
        let written = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                write_segment(&path, &items).map_err(|e| (e, items))
            })
            .await
        };
        let result = match written {
            Ok(Ok(())) => Ok(path),
            Ok(Err((e, items))) => {
                tracing::warn!(path = %path.display(), error = %e, "bridge_buffer_spill_failed");
                Err(items)
            }
            Err(_) => Err(Default::default()),
        };
        lane.queue.lock().spilled(result);
    }
    let mut q = lane.queue.lock();
    if q.over() {
        let (dropped, lost) = q.trim();
        drop(q);
        c.queuing.fetch_sub((dropped + lost) as i64, Relaxed);
        Counters::add(&c.dropped_queue_full, dropped);
        Counters::add(&c.dropped_other, lost);
    }
}

/// Health checks every `health_check_interval` (the first at once), with
/// `start_timeout` as the longest a check may take; the rate samples; and,
/// at debug level, the action's metrics each second they changed (the line
/// `bridge_metrics id=<type>:<name> metrics={...}`).
pub(crate) async fn monitor(
    id: String,
    connector: Arc<dyn Connector>,
    opts: ResourceOpts,
    counters: Arc<Counters>,
    health: Arc<RwLock<Health>>,
) {
    let mut checks = tokio::time::interval(opts.health_check_interval);
    let mut rates = tokio::time::interval(Duration::from_secs(5));
    let mut report = tokio::time::interval(Duration::from_secs(1));
    let mut last = serde_json::Value::Null;
    loop {
        tokio::select! {
            _ = report.tick(), if tracing::enabled!(tracing::Level::DEBUG) => {
                let mut now = counters.snapshot();
                if let Some(o) = now.as_object_mut() {
                    o.retain(|k, _| !k.starts_with("rate"));
                }
                if now != last {
                    tracing::debug!(id = %id, metrics = %now, "bridge_metrics");
                    last = now;
                }
            }
            _ = checks.tick() => {
                let timeout = opts.start_timeout.max(Duration::from_secs(1));
                let result = match tokio::time::timeout(timeout, connector.health_check()).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("health check timed out after {}ms", timeout.as_millis())),
                };
                let mut h = health.write();
                *h = match result {
                    Ok(()) => Health { status: Status::Connected, reason: None },
                    Err(why) => Health { status: Status::Disconnected, reason: Some(why) },
                };
            }
            _ = rates.tick() => counters.sample(Instant::now()),
        }
    }
}
