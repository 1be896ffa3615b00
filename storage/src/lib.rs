//! roost-storage: the broker's durable store, on [fjall] (an LSM tree; why
//! fjall and not redb: docs/benchmarks.md, "Choosing the store").
//!
//! One database under `<node.data_dir>/store` with five keyspaces: the
//! durable sessions (client id -> the runtime's session record), their
//! entries (client id + sequence number -> message id + the runtime's entry:
//! one per queued or inflight message; the first entry to hold a message
//! carries the message itself), the shared message log (message id ->
//! message, for the other holders, stored once however many they are; see
//! [`sessions`]), the
//! retained messages (topic -> message) and the objects the API creates
//! (name -> document). Every write goes through one writer thread ([`writer`]) that
//! group-commits what was queued since its last batch: one write batch and
//! one sync per batch under `durable_storage.sync`, then each write's
//! completion is called (a session waits on it before it acknowledges).
//! fjall compacts in the background on its own worker threads.
//!
//! The store implements core's traits: [`roost_core::storage::SessionStore`]
//! ([`sessions`]), [`roost_core::storage::RetainedStore`] ([`retained`]) and
//! [`roost_core::storage::ObjectStore`] ([`objects`]), and
//! [`roost_core::storage::StorageStatus`] for operators. It knows nothing of
//! the runtime: src/main.rs hands it to the broker.

pub mod config;
pub mod objects;
pub mod retained;
pub mod sessions;
mod writer;

pub use config::{DurableSessionsConfig, DurableStorageConfig, SyncPolicy};
pub use retained::{DiscRetainer, RetainLimits};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use parking_lot::Mutex;
use roost_core::storage::{Done, StorageError, StorageInfo, StorageStatus};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
/// A key and its value, as stored.
type KeyValue = (Vec<u8>, Vec<u8>);

use writer::{io_error, Op, Space, Writer, WriterStats};

/// The durable store. Cheap to share (`Arc<Store>`); closed by [`Store::close`]
/// (or when the process ends: what was synced is kept).
pub struct Store {
    path: PathBuf,
    db: Database,
    sessions: Keyspace,
    retained: Keyspace,
    objects: Keyspace,
    entries: Keyspace,
    messages: Keyspace,
    tx: Mutex<Sender<Op>>,
    /// The shared log's references (see [`sessions`]).
    refs: Mutex<sessions::Refs>,
    full: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
    config: DurableStorageConfig,
}

impl Store {
    /// Opens (or creates) the store in `dir`: fjall replays its journal, so a
    /// store left by a crash opens with every synced batch.
    pub fn open(
        dir: impl AsRef<Path>,
        config: &DurableStorageConfig,
    ) -> Result<Arc<Store>, StorageError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|error| StorageError::Io {
            what: path.display().to_string(),
            error,
        })?;
        let what = path.display().to_string();
        let db = Database::builder(&path)
            // The writer decides when to sync, never fjall on its own.
            .manual_journal_persist(true)
            .open()
            .map_err(|e| io_error(&what, e))?;
        let ks = |name: &str| {
            db.keyspace(name, KeyspaceCreateOptions::default)
                .map_err(|e| io_error(&format!("{what}: keyspace {name}"), e))
        };
        let (sessions, retained, objects) = (ks("sessions")?, ks("retained")?, ks("objects")?);
        let (entries, messages) = (ks("entries")?, ks("messages")?);
        let full = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = channel();
        let writer = Writer {
            db: db.clone(),
            sessions: sessions.clone(),
            retained: retained.clone(),
            objects: objects.clone(),
            entries: entries.clone(),
            messages: messages.clone(),
            policy: config.sync,
            interval: config.sync_interval,
            stats: stats.clone(),
            max_size: config.max_size,
            full: full.clone(),
        };
        std::thread::Builder::new()
            .name("roost-storage".into())
            .spawn(move || writer.run(rx))
            .map_err(|error| StorageError::Io {
                what: "storage writer thread".into(),
                error,
            })?;
        Ok(Arc::new(Store {
            path,
            db,
            sessions,
            retained,
            objects,
            entries,
            messages,
            tx: Mutex::new(tx),
            refs: Mutex::new(sessions::Refs::default()),
            full,
            stats,
            config: config.clone(),
        }))
    }

    fn send(&self, op: Op) {
        if let Err(std::sync::mpsc::SendError(op)) = self.tx.lock().send(op) {
            // The writer is gone (closed): the write is refused.
            let done = match op {
                Op::Write { done, .. } | Op::Many { done, .. } => done,
                Op::Flush(d) | Op::Stop(d) => Some(d),
            };
            if let Some(done) = done {
                done(Err(StorageError::Io {
                    what: "store".into(),
                    error: std::io::Error::other("the store is closed"),
                }));
            }
        }
    }

    pub(crate) fn write_one(
        &self,
        space: Space,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        done: Option<Done>,
    ) {
        self.send(Op::Write {
            space,
            key,
            value,
            done,
        });
    }

    /// Writes and syncs what is queued, then stops the writer; later writes
    /// are refused. Blocks until done.
    pub fn close(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Op::Stop(Box::new(move |_| {
            let _ = tx.send(());
        })));
        let _ = rx.recv();
    }

    /// Blocks until everything queued so far is durable.
    pub fn flush_blocking(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Op::Flush(Box::new(move |_| {
            let _ = tx.send(());
        })));
        let _ = rx.recv();
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Sessions => &self.sessions,
            Space::Retained => &self.retained,
            Space::Objects => &self.objects,
            Space::Entries => &self.entries,
            Space::Messages => &self.messages,
        }
    }

    /// Every key and value of a keyspace.
    pub(crate) fn scan(&self, space: Space) -> Result<Vec<KeyValue>, StorageError> {
        let mut out = Vec::new();
        for kv in self.keyspace(space).iter() {
            let (k, v) = kv
                .into_inner()
                .map_err(|e| io_error(&self.path.display().to_string(), e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disc.
    pub fn disk_size(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }
}

impl StorageStatus for Store {
    fn info(&self) -> StorageInfo {
        let disk_size = self.disk_size();
        writer::update_full(&self.full, disk_size, self.config.max_size);
        StorageInfo {
            path: self.path.display().to_string(),
            disk_size,
            max_size: self.config.max_size,
            sessions: self.sessions.approximate_len() as u64,
            messages: self.messages.approximate_len() as u64,
            session_entries: self.entries.approximate_len() as u64,
            full: self.full.load(Ordering::Relaxed),
            retained_messages: self.retained.approximate_len() as u64,
            objects: self.objects.approximate_len() as u64,
            sync: self.config.sync.as_str().into(),
            last_sync_ms: self.stats.last_sync_ms.load(Ordering::Relaxed),
            batches: self.stats.batches.load(Ordering::Relaxed),
            syncs: self.stats.syncs.load(Ordering::Relaxed),
            writes: self.stats.writes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests;
