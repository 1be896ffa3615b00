//! Delivery, the same for every type (EMQX's `emqx_resource` buffer
//! workers): each action has `worker_pool_size` buffer workers, each with its
//! own bounded [`queue`] (memory, then segment files under
//! `<node.data_dir>/bridges/buffer/<type>:<name>/<worker>/`), sending
//! batches of up to `batch_size` outputs through the action's [`Sink`] with
//! up to `inflight_window` requests in flight. Retriable errors are retried
//! until `request_ttl`; health checks set the action's status.
//!
//! The rule only calls [`Buffer::push`]: a lock on one worker's queue,
//! memory only, never waiting on the sink. A slow or dead sink fills its own
//! buffer, then drops its oldest outputs.
//!
//! When an action is rebuilt (it or its connector changed), its buffer hands
//! what it holds to the new one ([`Buffer::hand_over`]): the queued outputs
//! (from disk too) and, once answered, those in flight that must be sent
//! again. Nothing queued is lost; a request in flight at that moment is
//! finished by the old buffer.
//!
//! - [`opts`]: `resource_opts`; [`metrics`]: the counters;
//! - [`queue`]: one worker's queue; [`codec`]: outputs in segment files;
//! - [`worker`]: the buffer worker's loop, and the health checks.

pub mod codec;
pub mod metrics;
pub mod opts;
pub mod queue;
pub mod worker;

pub use metrics::Counters;
pub use opts::{BufferMode, ResourceOpts};

use crate::driver::Connector;
use crate::manage::Status;
use crate::Sink;
use parking_lot::{Mutex, RwLock};
use queue::{Item, Queue};
use roost_rules::{Map, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// An action's status and why it is not connected.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub status: Status,
    pub reason: Option<String>,
}

/// What a buffer worker shares with the producers.
pub(crate) struct Lane {
    pub queue: Mutex<Queue>,
    pub wake: Notify,
    /// Set when the action is rebuilt: the worker sends nothing new,
    /// finishes the requests in flight, hands every output it still holds
    /// to this buffer, and ends.
    pub successor: Mutex<Option<Arc<Buffer>>>,
    /// Its segment files' directory, removed once handed over.
    pub dir: Option<PathBuf>,
}

/// Each buffer's segments go to a directory of their own
/// (`<type>:<name>/<n>/<worker>/`), so a rebuilt action's new buffer never
/// meets the files its old one still reads.
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// One action's buffer and its workers; dropping it stops them and removes
/// its segment files.
pub struct Buffer {
    lanes: Vec<Arc<Lane>>,
    pub counters: Arc<Counters>,
    health: Arc<RwLock<Health>>,
    tasks: Vec<JoinHandle<()>>,
    next: AtomicUsize,
    dir: Option<PathBuf>,
    /// `batch_size`: a worker is woken when a batch is full, not per output.
    batch_size: usize,
    /// The buffer it handed over to ([`Buffer::hand_over`]).
    successor: Mutex<Option<Arc<Buffer>>>,
    /// For [`Sink::order_key`]: outputs that must stay in order share a
    /// worker.
    sink: Arc<dyn Sink>,
}

impl Buffer {
    /// Starts the workers of action `id` (inside a tokio runtime). `dir` is
    /// where its segments go (`.../bridges/buffer/<type>:<name>`), used with
    /// `buffer_mode: volatile_offload`. `counters` are kept across restarts
    /// of the action (an update keeps its metrics).
    pub fn start(
        id: &str,
        opts: &ResourceOpts,
        sink: Arc<dyn Sink>,
        connector: Arc<dyn Connector>,
        dir: Option<PathBuf>,
        counters: Arc<Counters>,
    ) -> Buffer {
        let dir = match opts.buffer_mode {
            BufferMode::VolatileOffload => {
                dir.map(|d| d.join(GENERATION.fetch_add(1, Relaxed).to_string()))
            }
            BufferMode::MemoryOnly => None,
        };
        let n = opts.worker_pool_size;
        let max = (opts.max_buffer_bytes as usize / n).max(1);
        let seg = (opts.buffer_seg_bytes as usize).min(max);
        let health = Arc::new(RwLock::new(Health {
            status: Status::Connecting,
            reason: None,
        }));
        let mut lanes = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..n {
            let lane_dir = dir.as_ref().map(|d| d.join(i.to_string()));
            let lane = Arc::new(Lane {
                queue: Mutex::new(Queue::new(lane_dir.clone(), seg, max)),
                wake: Notify::new(),
                successor: Mutex::new(None),
                dir: lane_dir,
            });
            tasks.push(tokio::spawn(worker::run(
                lane.clone(),
                sink.clone(),
                opts.clone(),
                counters.clone(),
            )));
            lanes.push(lane);
        }
        tasks.push(tokio::spawn(worker::monitor(
            id.to_string(),
            connector,
            opts.clone(),
            counters.clone(),
            health.clone(),
        )));
        Buffer {
            lanes,
            counters,
            health,
            tasks,
            next: AtomicUsize::new(0),
            dir,
            batch_size: opts.batch_size.max(1),
            successor: Mutex::new(None),
            sink,
        }
    }

    /// Queues one rule output (a copy of it; see [`Self::push_owned`]).
    pub fn push(&self, output: &Map) {
        self.push_owned(output.clone())
    }

    /// Queues one rule output. Never waits: a full buffer drops its oldest
    /// (`dropped.queue_full`). Outputs with an ordering key
    /// ([`Sink::order_key`]) go to the worker of that key; others with a
    /// `clientid` to the worker of that client (one client's outputs stay in
    /// order), the rest round-robin.
    /// The worker is woken only when it has something new to do: the first
    /// output of an empty queue (it then times `batch_time`), a full batch,
    /// or memory to spill; otherwise it is awake already or its timer runs.
    pub fn push_owned(&self, output: Map) {
        let c = &self.counters;
        Counters::add(&c.matched, 1);
        let lane = &self.lanes[self.lane_of(&output)];
        let item = Item::new(output, worker::now_ms());
        let (dropped, len, spill) = {
            let mut q = lane.queue.lock();
            let dropped = q.push(item);
            (dropped, q.len(), q.should_spill())
        };
        c.queuing.fetch_add(1 - dropped as i64, Relaxed);
        Counters::add(&c.dropped_queue_full, dropped);
        if len == 1 || len % self.batch_size == 0 || spill {
            lane.wake.notify_one();
        }
    }

    /// Puts outputs an older buffer of the same action held (oldest first)
    /// before what is queued here, each on its client's worker; counted in
    /// `queuing` (they left the old buffer's), or `dropped.queue_full` past
    /// the bound. Follows the chain when this buffer was replaced too.
    pub(crate) fn requeue(&self, items: Vec<queue::Item>) {
        if let Some(next) = self.successor.lock().clone() {
            return next.requeue(items);
        }
        let mut per_lane: Vec<Vec<queue::Item>> = self.lanes.iter().map(|_| Vec::new()).collect();
        for item in items {
            per_lane[self.lane_of(&item.output)].push(item);
        }
        let c = &self.counters;
        for (lane, items) in self.lanes.iter().zip(per_lane) {
            if items.is_empty() {
                continue;
            }
            let n = items.len();
            let dropped = lane.queue.lock().requeue_front(items);
            c.queuing.fetch_add((n - dropped) as i64, Relaxed);
            Counters::add(&c.dropped_queue_full, dropped);
            lane.wake.notify_one();
        }
    }

    /// The action was rebuilt and `next` is its new buffer: this one's
    /// workers send nothing more, finish what is in flight, hand every
    /// output they still hold to `next` (queued ones, from disk too, and
    /// those to send again), remove their segment files and end. Dropping
    /// this buffer then leaves them to it.
    pub fn hand_over(&self, next: &Arc<Buffer>) {
        *self.successor.lock() = Some(next.clone());
        for lane in &self.lanes {
            *lane.successor.lock() = Some(next.clone());
            lane.wake.notify_one();
        }
    }

    /// The worker an output goes to (see [`Self::push_owned`]).
    fn lane_of(&self, output: &Map) -> usize {
        let h = match self.sink.order_key(output) {
            Some(key) => key as usize,
            None => match output.get("clientid") {
                Some(Value::Str(id)) => fnv(id) as usize,
                _ => self.next.fetch_add(1, Relaxed),
            },
        };
        h % self.lanes.len()
    }

    pub fn health(&self) -> Health {
        self.health.read().clone()
    }

    /// Bytes queued, all workers (memory and disk).
    pub fn queued_bytes(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.lock().bytes()).sum()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.successor.lock().is_some() {
            // The workers end by themselves once they handed over; only
            // the health checks stop now (the last task).
            if let Some(monitor) = self.tasks.last() {
                monitor.abort();
            }
            return;
        }
        for t in &self.tasks {
            t.abort();
        }
        // What was queued is gone with the action.
        let queued: usize = self.lanes.iter().map(|l| l.queue.lock().len()).sum();
        self.counters.queuing.fetch_sub(queued as i64, Relaxed);
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
            // The action's directory too, when no other buffer uses it.
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// FNV-1a, to spread client ids over the workers.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests;
