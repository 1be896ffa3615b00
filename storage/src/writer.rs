//! The writer: one thread that group-commits every write queued since its last
//! batch into one fjall write batch, makes it durable under the sync policy
//! (one sync per batch, not per write), then calls each write's completion.
//! Writes to the same key still queued are coalesced: the last one wins.

use crate::config::SyncPolicy;
use fjall::{Database, Keyspace, PersistMode};
use roost_core::storage::{unix_ms, Done, StorageError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which keyspace a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    Sessions,
    Retained,
    Objects,
    /// A session's queue and inflight entries (references to messages).
    Entries,
    /// The shared message log: each message held by more than one entry, once,
    /// by id.
    Messages,
}

/// One write of a key.
pub type Write = (Space, Vec<u8>, Put);

/// A key in one of the store's spaces.
type Key = (Space, Vec<u8>);

/// What a [`Write`] does to its key.
pub enum Put {
    /// Creates a key that does not exist (a new message id, a new entry's
    /// sequence number): deleted again in the same batch, it is never written.
    New(Vec<u8>),
    /// Sets a key that may exist.
    Set(Vec<u8>),
    Delete,
}

/// One queued write.
pub enum Op {
    /// Put (`Some`) or delete (`None`) a key.
    Write {
        space: Space,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        done: Option<Done>,
    },
    /// Several writes that go into the same batch (one session's changes,
    /// the message bodies they add or release).
    Many {
        writes: Vec<Write>,
        done: Option<Done>,
    },
    /// Called once everything queued before it is durable.
    Flush(Done),
    /// Stop after the writes queued before it (the store is closing).
    Stop(Done),
}

/// Counters the writer keeps for operators.
#[derive(Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
    pub writes: AtomicU64,
    pub last_sync_ms: AtomicU64,
}

/// Most writes taken into one batch.
const MAX_BATCH: usize = 8192;

pub struct Writer {
    pub db: Database,
    pub sessions: Keyspace,
    pub retained: Keyspace,
    pub objects: Keyspace,
    pub entries: Keyspace,
    pub messages: Keyspace,
    pub policy: SyncPolicy,
    pub interval: Duration,
    pub stats: Arc<WriterStats>,
    /// `durable_storage.max_size` (0 = none) and whether the store is at it.
    pub max_size: u64,
    pub full: Arc<AtomicBool>,
}

/// How often the writer looks at the store's size (with a `max_size`).
const SIZE_CHECK: Duration = Duration::from_millis(200);

impl Writer {
    fn space(&self, s: Space) -> &Keyspace {
        match s {
            Space::Sessions => &self.sessions,
            Space::Retained => &self.retained,
            Space::Objects => &self.objects,
            Space::Entries => &self.entries,
            Space::Messages => &self.messages,
        }
    }

    /// Runs until a `Stop` or until every sender is gone.
    pub fn run(self, rx: Receiver<Op>) {
        let mut last_sync = Instant::now();
        let mut last_size = Instant::now();
        let mut unsynced = false;
        loop {
            let first = if self.policy == SyncPolicy::Interval && unsynced {
                let wait = self.interval.saturating_sub(last_sync.elapsed());
                match rx.recv_timeout(wait) {
                    Ok(op) => Some(op),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return self.final_sync(),
                }
            } else {
                match rx.recv() {
                    Ok(op) => Some(op),
                    Err(_) => return self.final_sync(),
                }
            };
            let mut ops: Vec<Op> = first.into_iter().collect();
            while ops.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            let (stop, result) = self.commit(ops, &mut unsynced);
            if self.max_size != 0 && last_size.elapsed() >= SIZE_CHECK {
                self.check_size();
                last_size = Instant::now();
            }
            if self.policy == SyncPolicy::Interval
                && unsynced
                && last_sync.elapsed() >= self.interval
            {
                self.sync();
                unsynced = false;
                last_sync = Instant::now();
            }
            if let Some(done) = stop {
                self.final_sync();
                self.flush_memtables();
                done(result);
                return;
            }
        }
    }

    /// Writes one batch and syncs it as the policy says; calls the
    /// completions. Returns a `Stop`'s completion if one came.
    fn commit(
        &self,
        ops: Vec<Op>,
        unsynced: &mut bool,
    ) -> (Option<Done>, Result<(), StorageError>) {
        // Each key's last value in this batch, and whether the batch created
        // it (then a delete writes nothing: a message acknowledged before its
        // batch commits costs no write at all).
        let mut latest: HashMap<Key, (Option<Vec<u8>>, bool)> = HashMap::new();
        let mut dones: Vec<Done> = Vec::new();
        let mut stop = None;
        for op in ops {
            match op {
                Op::Write {
                    space,
                    key,
                    value,
                    done,
                } => {
                    latest.insert((space, key), (value, false));
                    dones.extend(done);
                }
                Op::Many { writes, done } => {
                    for (space, key, put) in writes {
                        let k = (space, key);
                        let fresh = latest.get(&k).map(|(_, fresh)| *fresh);
                        match put {
                            Put::New(v) => {
                                latest.insert(k, (Some(v), fresh.unwrap_or(true)));
                            }
                            Put::Set(v) => {
                                latest.insert(k, (Some(v), fresh.unwrap_or(false)));
                            }
                            Put::Delete if fresh == Some(true) => {
                                latest.remove(&k);
                            }
                            Put::Delete => {
                                latest.insert(k, (None, false));
                            }
                        }
                    }
                    dones.extend(done);
                }
                Op::Flush(done) => dones.push(done),
                Op::Stop(done) => stop = Some(done),
            }
        }
        let result = if latest.is_empty() {
            Ok(())
        } else {
            let n = latest.len() as u64;
            let mode = match self.policy {
                SyncPolicy::Batch => PersistMode::SyncData,
                SyncPolicy::Interval | SyncPolicy::Os => PersistMode::Buffer,
            };
            let mut batch = self.db.batch().durability(Some(mode));
            for ((space, key), (value, _)) in latest {
                match value {
                    Some(v) => batch.insert(self.space(space), key, v),
                    None => batch.remove(self.space(space), key),
                }
            }
            let r = batch.commit();
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats.writes.fetch_add(n, Ordering::Relaxed);
            match self.policy {
                SyncPolicy::Batch => self.synced(),
                _ => *unsynced = true,
            }
            r.map_err(|e| io_error("write batch", e))
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "storage_write_failed");
        }
        for done in dones {
            done(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StorageError::Decode {
                    what: "store".into(),
                    why: e.to_string(),
                }),
            });
        }
        (stop, result)
    }

    fn check_size(&self) {
        update_full(&self.full, self.db.disk_space().unwrap_or(0), self.max_size);
    }

    fn synced(&self) {
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.stats.last_sync_ms.store(unix_ms(), Ordering::Relaxed);
    }

    fn sync(&self) {
        match self.db.persist(PersistMode::SyncData) {
            Ok(()) => self.synced(),
            Err(e) => tracing::error!(error = %e, "storage_sync_failed"),
        }
    }

    fn final_sync(&self) {
        self.sync();
    }

    /// At a clean close, after the final sync: writes every keyspace's
    /// memtable out as a table and waits for it (at most [`FLUSH_PATIENCE`]).
    /// The next open then finds those writes already persisted and skips
    /// them in the journal, instead of inserting each one into a memtable
    /// again (a million small entries took seconds: the profile of
    /// `benches/store_paths.rs restart` is the memtable's skiplist). After a
    /// crash the journal is replayed as before; nothing here is needed for
    /// durability (the journal is synced).
    fn flush_memtables(&self) {
        let spaces = [
            &self.sessions,
            &self.retained,
            &self.objects,
            &self.entries,
            &self.messages,
        ];
        for ks in spaces {
            if let Err(e) = ks.rotate_memtable() {
                tracing::warn!(error = %e, "storage_flush_failed");
            }
        }
        let deadline = Instant::now() + FLUSH_PATIENCE;
        while spaces.iter().any(|ks| ks.sealed_memtable_count() > 0) {
            if Instant::now() >= deadline {
                tracing::warn!("storage_flush_unfinished: the next start replays the journal");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How long a clean close waits for the memtables to be written out.
const FLUSH_PATIENCE: Duration = Duration::from_secs(30);

/// A fjall error as core's storage error.
pub fn io_error(what: &str, e: fjall::Error) -> StorageError {
    StorageError::Io {
        what: what.to_string(),
        error: std::io::Error::other(e.to_string()),
    }
}

/// Sets `full` once the store's `size` reaches `max_size`, and clears it below
/// 95% of it (so a store at the edge does not flap at every write); logs each
/// change.
pub fn update_full(full: &AtomicBool, size: u64, max_size: u64) {
    if max_size == 0 {
        return;
    }
    let was = full.load(Ordering::Relaxed);
    let now = if was {
        size.saturating_mul(20) >= max_size.saturating_mul(19)
    } else {
        size >= max_size
    };
    if now != was {
        full.store(now, Ordering::Relaxed);
        if now {
            tracing::warn!(
                disk_size = size,
                max_size,
                "storage_full: new messages for offline sessions are dropped"
            );
        } else {
            tracing::info!(disk_size = size, max_size, "storage_not_full");
        }
    }
}
