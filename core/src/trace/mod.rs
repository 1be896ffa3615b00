//! Log trace (EMQX's `emqx_trace`): an operator names a client id, a topic
//! filter or an IP address, and every packet and event of what it names is
//! written, one time-stamped line each, to that trace's log until the trace
//! ends.
//!
//! This module holds the registry of traces and decides which trace a packet
//! or an event belongs to; it does no I/O. Whoever creates a trace gives it a
//! [`TraceSink`] (roost-admin's writes a file through a bounded queue). The
//! runtime asks [`Tracer::on`] before anything else: one relaxed atomic load
//! when no trace runs, so the hot path pays nothing more, and nothing is
//! formatted or allocated unless a running trace matches.

mod format;

pub use format::{PacketDir, TraceEvent};

use roost_protocol::topic;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// What a trace follows (EMQX's trace `type` and its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceFilter {
    /// Every packet and event of one client id.
    ClientId(String),
    /// The messages published to, and delivered from, topics matching a filter
    /// (wildcards allowed).
    Topic(String),
    /// Every packet and event of the clients connected from one address.
    IpAddress(IpAddr),
}

impl TraceFilter {
    /// EMQX's `type`: `clientid`, `topic` or `ip_address`.
    pub fn kind(&self) -> &'static str {
        match self {
            TraceFilter::ClientId(_) => "clientid",
            TraceFilter::Topic(_) => "topic",
            TraceFilter::IpAddress(_) => "ip_address",
        }
    }

    /// The client id, filter or address, as text.
    pub fn value(&self) -> String {
        match self {
            TraceFilter::ClientId(c) => c.clone(),
            TraceFilter::Topic(t) => t.clone(),
            TraceFilter::IpAddress(ip) => ip.to_string(),
        }
    }

    fn covers(&self, who: &Who, event: &TraceEvent) -> bool {
        match self {
            TraceFilter::ClientId(c) => event.is_clients() && who.client_id == Some(c.as_str()),
            TraceFilter::IpAddress(ip) => {
                event.is_clients() && who.addr.is_some_and(|a| a.ip() == *ip)
            }
            TraceFilter::Topic(f) => event.topic().is_some_and(|t| topic::matches(f, t)),
        }
    }
}

/// How a trace writes payloads (EMQX's `payload_encode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadEncode {
    #[default]
    Text,
    Hex,
    Hidden,
}

impl PayloadEncode {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadEncode::Text => "text",
            PayloadEncode::Hex => "hex",
            PayloadEncode::Hidden => "hidden",
        }
    }
}

/// Where a trace's lines go. `write` is called from the broker's own tasks
/// (a connection, a publisher), so it must never block: a sink that cannot
/// keep up drops the line and counts it.
pub trait TraceSink: Send + Sync + 'static {
    /// One whole line, without its newline.
    fn write(&self, line: String);
    /// Lines dropped because the sink could not keep up.
    fn dropped(&self) -> u64 {
        0
    }
}

/// Who a packet or an event is about: the client id once known, and the
/// client's address.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    pub client_id: Option<&'a str>,
    pub addr: Option<SocketAddr>,
}

/// A trace as it was asked for (EMQX's `POST /api/v5/trace` body).
#[derive(Debug, Clone)]
pub struct TraceSpec {
    /// Unique; letters, digits, `-` and `_` (the log file is named after it).
    pub name: String,
    pub filter: TraceFilter,
    pub payload_encode: PayloadEncode,
    pub start_at: SystemTime,
    pub end_at: SystemTime,
    /// Where the log is written.
    pub file: PathBuf,
    /// The file was named by the operator (kept when the trace is deleted).
    pub own_file: bool,
}

/// EMQX's trace `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceStatus {
    /// Before `start_at`.
    Waiting,
    Running,
    /// After `end_at`, or stopped.
    Stopped,
}

impl TraceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Waiting => "waiting",
            TraceStatus::Running => "running",
            TraceStatus::Stopped => "stopped",
        }
    }
}

/// One trace in the registry: its spec, status and lines dropped.
#[derive(Debug, Clone)]
pub struct TraceInfo {
    pub spec: TraceSpec,
    pub status: TraceStatus,
    pub dropped: u64,
}

/// Why a trace could not be created or found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("a trace named {0} exists already")]
    AlreadyExists(String),
    #[error("a trace of the same {0} exists already ({1})")]
    DuplicateFilter(String, String),
    #[error("no trace named {0}")]
    NotFound(String),
}

struct Entry {
    spec: TraceSpec,
    /// Dropped once the trace is stopped: the sink's writer then finishes.
    sink: Option<Arc<dyn TraceSink>>,
    stopped: bool,
    dropped: u64,
}

impl Entry {
    fn status(&self, now: SystemTime) -> TraceStatus {
        if self.stopped || now >= self.spec.end_at {
            TraceStatus::Stopped
        } else if now < self.spec.start_at {
            TraceStatus::Waiting
        } else {
            TraceStatus::Running
        }
    }
}

/// A running trace as the hot path sees it.
struct Running {
    filter: TraceFilter,
    payload_encode: PayloadEncode,
    sink: Arc<dyn TraceSink>,
}

/// The registry of traces, shared by the runtime (which asks it about every
/// packet while a trace runs) and whoever manages traces (the REST API).
pub struct Tracer {
    /// Running traces: what [`Tracer::on`] reads.
    running_count: AtomicUsize,
    running: RwLock<Vec<Running>>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Where a trace's log goes when no file is named (`node.data_dir`/trace).
    dir: PathBuf,
}

impl Tracer {
    /// An empty registry; `dir` is where logs go by default.
    pub fn new(dir: PathBuf) -> Tracer {
        Tracer {
            running_count: AtomicUsize::new(0),
            running: RwLock::new(Vec::new()),
            entries: Mutex::new(BTreeMap::new()),
            dir,
        }
    }

    /// Where a trace's log goes when no file is named.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Whether any trace runs: the one check the hot path makes.
    #[inline]
    pub fn on(&self) -> bool {
        self.running_count.load(Ordering::Relaxed) != 0
    }

    /// Writes `event` to every running trace that covers it. Call it only
    /// when [`Self::on`]; formats nothing unless a trace matches.
    pub fn trace(&self, who: Who<'_>, event: TraceEvent<'_>) {
        let running = self.running.read().unwrap_or_else(|e| e.into_inner());
        let mut stamp: Option<String> = None;
        for t in running.iter() {
            if !t.filter.covers(&who, &event) {
                continue;
            }
            let stamp = stamp.get_or_insert_with(|| format::timestamp(SystemTime::now()));
            t.sink
                .write(format::line(stamp, &who, &event, t.payload_encode));
        }
    }

    /// Whether a running client id or address trace covers `who`: asked
    /// before gathering what an event needs (a SUBSCRIBE's filters), so no
    /// client a trace does not follow pays for it.
    pub fn follows(&self, who: Who<'_>) -> bool {
        let running = self.running.read().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .any(|t| t.filter.covers(&who, &TraceEvent::Connected))
    }

    /// Adds a trace with its sink. A name or a filter (type and value) already
    /// in the registry is refused, as EMQX does. Call [`Self::refresh`] at
    /// `start_at` and `end_at` (the registry keeps no timers).
    pub fn create(&self, spec: TraceSpec, sink: Arc<dyn TraceSink>) -> Result<(), TraceError> {
        let mut entries = self.lock();
        if entries.contains_key(&spec.name) {
            return Err(TraceError::AlreadyExists(spec.name));
        }
        if let Some(e) = entries.values().find(|e| e.spec.filter == spec.filter) {
            return Err(TraceError::DuplicateFilter(
                spec.filter.kind().into(),
                e.spec.name.clone(),
            ));
        }
        entries.insert(
            spec.name.clone(),
            Entry {
                spec,
                sink: Some(sink),
                stopped: false,
                dropped: 0,
            },
        );
        self.publish(&mut entries, SystemTime::now());
        Ok(())
    }

    /// Stops a trace (it stays listed, `stopped`).
    pub fn stop(&self, name: &str) -> Result<TraceInfo, TraceError> {
        let mut entries = self.lock();
        let e = entries
            .get_mut(name)
            .ok_or_else(|| TraceError::NotFound(name.into()))?;
        e.stopped = true;
        self.publish(&mut entries, SystemTime::now());
        Ok(info(&entries[name], SystemTime::now()))
    }

    /// Removes a trace (stopping it); what it was.
    pub fn remove(&self, name: &str) -> Result<TraceInfo, TraceError> {
        let mut entries = self.lock();
        let mut e = entries
            .remove(name)
            .ok_or_else(|| TraceError::NotFound(name.into()))?;
        e.stopped = true;
        self.publish(&mut entries, SystemTime::now());
        Ok(info(&e, SystemTime::now()))
    }

    /// Removes every trace; what they were.
    pub fn clear(&self) -> Vec<TraceInfo> {
        let mut entries = self.lock();
        let all = std::mem::take(&mut *entries);
        self.publish(&mut entries, SystemTime::now());
        let now = SystemTime::now();
        all.values().map(|e| info(e, now)).collect()
    }

    /// Every trace, by name, with its status now.
    pub fn list(&self) -> Vec<TraceInfo> {
        let mut entries = self.lock();
        let now = SystemTime::now();
        self.publish(&mut entries, now);
        entries.values().map(|e| info(e, now)).collect()
    }

    /// One trace.
    pub fn get(&self, name: &str) -> Option<TraceInfo> {
        self.list().into_iter().find(|t| t.spec.name == name)
    }

    /// Starts the traces whose `start_at` has come and ends those whose
    /// `end_at` has: whoever creates traces calls this at those times.
    pub fn refresh(&self) {
        let mut entries = self.lock();
        self.publish(&mut entries, SystemTime::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rebuilds the running list from the entries' status at `now`; a
    /// stopped trace lets its sink go (so its writer finishes).
    fn publish(&self, entries: &mut BTreeMap<String, Entry>, now: SystemTime) {
        let mut running = Vec::new();
        for e in entries.values_mut() {
            if let Some(sink) = &e.sink {
                e.dropped = sink.dropped();
            }
            match e.status(now) {
                TraceStatus::Running => {
                    if let Some(sink) = &e.sink {
                        running.push(Running {
                            filter: e.spec.filter.clone(),
                            payload_encode: e.spec.payload_encode,
                            sink: sink.clone(),
                        });
                    }
                }
                TraceStatus::Stopped => e.sink = None,
                TraceStatus::Waiting => {}
            }
        }
        let mut guard = self.running.write().unwrap_or_else(|e| e.into_inner());
        self.running_count.store(running.len(), Ordering::Relaxed);
        *guard = running;
    }
}

fn info(e: &Entry, now: SystemTime) -> TraceInfo {
    TraceInfo {
        spec: e.spec.clone(),
        status: e.status(now),
        dropped: e.sink.as_ref().map_or(e.dropped, |s| s.dropped()),
    }
}

#[cfg(test)]
mod tests;
