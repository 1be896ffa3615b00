//! A buffer worker's loop (EMQX's `emqx_resource_buffer_worker`): take a
//! batch when `batch_size` outputs wait or the oldest has waited
//! `batch_time`, send it while fewer than `inflight_window` requests are in
//! flight, and on a retriable error stop taking new batches ("blocked") and
//! send the failed one again with backoff, dropping its outputs older than
//! `request_ttl` (`dropped.expired`). Disk I/O (spill, read-back) happens
//! here, never in the producers. Plus the action's monitor: health checks
//! every `health_check_interval`, and the rate samples.

use super::metrics::Counters;
use super::queue::{write_segment, Item};
use super::{Health, Lane, ResourceOpts};
use crate::driver::{Connector, SendError};
use crate::manage::Status;
use crate::Sink;
use parking_lot::RwLock;
use roost_rules::Map;
use std::collections::VecDeque;
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
    let ttl = opts.request_ttl.as_millis() as i64;
    let batch_ms = opts.batch_time.as_millis() as i64;
    loop {
        spill_and_trim(&lane, &c).await;
        // The action was rebuilt: nothing new goes; once what is in flight
        // is answered, the rest moves to the new buffer.
        let handing = lane.successor.lock().clone();
        if let Some(next) = &handing {
            if flight.set.is_empty() {
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
            let req = retrying.pop_front().expect("not empty");
            if let Some(req) = expire(req, ttl, &c, &mut flight.items) {
                Counters::add(&c.retried, req.outputs.len());
                launch(&mut flight, &sink, req, false);
                // One try at a time while the sink fails.
                retry_at = Instant::now() + opts.resume_interval();
                break;
            }
        }
        while handing.is_none() && retrying.is_empty() && flight.set.len() < opts.inflight_window {
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
                outputs: live.into_iter().map(|i| i.output).collect(),
                tries: 0,
            };
            launch(&mut flight, &sink, req, true);
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
                let Ok((req, result)) = done else { continue };
                let n = req.outputs.len();
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
                };
                flight.items -= done;
                c.inflight.fetch_sub(done as i64, Relaxed);
                Counters::add(&c.success, done - refused);
                Counters::add(&c.failed, refused);
                if let Some((req, why)) = rest {
                    tracing::debug!(error = %why, outputs = req.outputs.len(), tries = req.tries, "bridge_send_retry");
                    // Still inflight: sent again once the backoff has passed.
                    let backoff = Duration::from_millis(100 << req.tries.min(8))
                        .min(opts.resume_interval());
                    if req.tries > 0 || retrying.is_empty() {
                        retry_at = Instant::now() + backoff;
                    }
                    let req = Request { tries: req.tries + 1, ..req };
                    if req.tries > 1 {
                        // The one being retried keeps its place first.
                        retrying.push_front(req);
                    } else {
                        retrying.push_back(req);
                    }
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

/// Spawns the send of `req`; `fresh` counts its outputs into `inflight`.
fn launch(flight: &mut Flight, sink: &Arc<dyn Sink>, req: Request, fresh: bool) {
    if fresh {
        flight.items += req.outputs.len();
        flight
            .counters
            .inflight
            .fetch_add(req.outputs.len() as i64, Relaxed);
    }
    let sink = sink.clone();
    flight.set.spawn(async move {
        let result = sink.send(&req.outputs).await;
        (req, result)
    });
}

/// Drops the outputs of `req` past `request_ttl` (`dropped.expired`); none
/// left is `None`.
fn expire(mut req: Request, ttl: i64, c: &Counters, inflight: &mut usize) -> Option<Request> {
    let now = now_ms();
    let before = req.outputs.len();
    let mut keep = req.queued_ms.iter().map(|t| now - t < ttl);
    let mask: Vec<bool> = (0..before).map(|_| keep.next().unwrap_or(false)).collect();
    let mut i = 0;
    req.outputs.retain(|_| {
        i += 1;
        mask[i - 1]
    });
    req.queued_ms.retain(|t| now - t < ttl);
    let gone = before - req.outputs.len();
    *inflight -= gone;
    c.inflight.fetch_sub(gone as i64, Relaxed);
    Counters::add(&c.dropped_expired, gone);
    (!req.outputs.is_empty()).then_some(req)
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
