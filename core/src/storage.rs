//! Storage traits: where the broker keeps retained messages, sessions and the
//! objects operators create (users, ACL rules, bans...). The runtime and the
//! extensions use these traits; the stores behind them are chosen when the
//! broker is put together (src/main.rs): roost-storage's embedded store for
//! all three, or the retained messages in RAM (roost-actors' retainer) with
//! `retainer.storage_type: ram`.

use crate::message::Message;
use std::sync::Arc;

/// Why a store could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    #[error("{what}: cannot be decoded: {why}")]
    Decode { what: String, why: String },
}

/// The last retained message of every topic.
pub trait RetainedStore: Send + Sync + 'static {
    /// Applies a PUBLISH with the retain flag: an empty payload clears the
    /// topic [MQTT-3.3.1-10, MQTT-3.3.1-11]; anything else replaces it
    /// [MQTT-3.3.1-5], unless a limit of the store refuses it (counted).
    fn retain(&self, msg: &Arc<Message>);

    /// The unexpired retained messages whose topic matches `filter`, by topic.
    fn matching(&self, filter: &str) -> Vec<Arc<Message>>;

    /// Every unexpired retained message.
    fn all(&self) -> Vec<Arc<Message>>;

    /// Number of retained messages.
    fn len(&self) -> usize;

    /// Whether nothing is retained.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired messages; returns how many.
    fn purge_expired(&self) -> usize;
}

/// Called once a write is durable under the store's sync policy (or failed):
/// the session that waits on it acknowledges only then.
pub type Done = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// One stored session: the runtime's record of it (opaque to the store, which
/// only keeps it under the client id) and when that record was made, in
/// milliseconds since the Unix epoch, so the runtime can count its expiry and
/// its will delay across a restart in wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub client_id: String,
    pub made_at_ms: u64,
    pub record: Vec<u8>,
}

/// Sessions that outlive the process (`durable_sessions.enable`). Writes are
/// queued and group-committed by the store: many sessions' changes go into one
/// write batch with one sync, and each write's [`Done`] is called after the
/// batch that holds it is durable under the sync policy. A later write of the
/// same client id replaces an earlier one still queued.
pub trait SessionStore: Send + Sync + 'static {
    /// Every stored session.
    fn load_all(&self) -> Result<Vec<StoredSession>, StorageError>;

    /// Stores (or replaces) a session; `done` is called once it is durable.
    fn save(&self, session: StoredSession, done: Option<Done>);

    /// Forgets `client_id`'s session; `done` is called once that is durable.
    fn delete(&self, client_id: &str, done: Option<Done>);

    /// Calls `done` once everything queued before it is durable.
    fn flush(&self, done: Done);
}

/// Milliseconds since the Unix epoch now (0 before it).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a store shows operators (`roost ctl storage info`, `GET /api/v5/storage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StorageInfo {
    /// Where the store is kept.
    pub path: String,
    /// Bytes on disc (data and journal).
    pub disk_size: u64,
    /// `durable_storage.max_size` (0 = unlimited).
    pub max_size: u64,
    pub sessions: u64,
    pub retained_messages: u64,
    pub objects: u64,
    /// `durable_storage.sync`: batch, interval or os.
    pub sync: String,
    /// When the store last synced to disc (ms since the Unix epoch, 0 = never).
    pub last_sync_ms: u64,
    /// Write batches committed and syncs done since start.
    pub batches: u64,
    pub syncs: u64,
    /// Writes (puts and deletes) committed since start.
    pub writes: u64,
}

/// A store that can describe itself to operators.
pub trait StorageStatus: Send + Sync + 'static {
    fn info(&self) -> StorageInfo;
}

/// Named documents: the tables operators edit through the API (users, ACL
/// rules, bans), each kept whole under its name.
pub trait ObjectStore: Send + Sync + 'static {
    /// The document stored under `name`, if any.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// Stores `value` under `name`, replacing what was there; durable once
    /// this returns.
    fn put(&self, name: &str, value: &[u8]) -> Result<(), StorageError>;

    /// Where the document `name` is kept, as an operator would look for it (a
    /// file's path): the reader of a document that does not decode names it
    /// with this, since only the store knows where it is.
    fn location(&self, name: &str) -> String {
        name.to_string()
    }
}
