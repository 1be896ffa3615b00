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
/// its will delay across a restart in wall-clock time. Its messages (queue
/// and inflight window) are not in the record: each is an [`StoredEntry`] of
/// its own that refers to a message stored once for every session that holds
/// it (the shared message log).
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub client_id: String,
    pub made_at_ms: u64,
    pub record: Vec<u8>,
    /// The session's entries, by sequence number (filled by `load_all`).
    pub entries: Vec<StoredEntry>,
}

/// One message a stored session holds (queued or in flight), as loaded.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry's place in its session (ascending in queue order).
    pub seq: u64,
    /// The message's id in the store (in the shared log, or of the entry that
    /// holds it inline).
    pub message_id: u64,
    /// The message, shared by every entry that refers to it; its expiry
    /// already counted down by the time since it was stored.
    pub message: Arc<Message>,
    /// What the runtime keeps of the entry (opaque to the store).
    pub entry: Vec<u8>,
}

/// The message of an entry being written.
#[derive(Debug, Clone)]
pub enum EntryMessage {
    /// A message the session did not hold yet: the store finds it in its log
    /// or adds it (one more reference either way).
    New(Arc<Message>),
    /// The message the entry already refers to (the entry changed, e.g. it
    /// went from the queue into the inflight window).
    Held(u64),
}

/// One entry put by [`SessionChanges`].
#[derive(Debug, Clone)]
pub struct EntryPut {
    pub seq: u64,
    pub message: EntryMessage,
    pub entry: Vec<u8>,
}

/// What changed in a session since its last write: its record (if it
/// changed: when it was made, and the record) and the entries put and
/// removed (`(seq, message_id)`). Removing the last entry that refers to a
/// message deletes the message.
#[derive(Debug, Clone, Default)]
pub struct SessionChanges {
    pub record: Option<(u64, Vec<u8>)>,
    pub put: Vec<EntryPut>,
    pub remove: Vec<(u64, u64)>,
}

impl SessionChanges {
    pub fn is_empty(&self) -> bool {
        self.record.is_none() && self.put.is_empty() && self.remove.is_empty()
    }
}

/// Sessions that outlive the process (`durable_sessions.enable`). Writes are
/// queued and group-committed by the store: many sessions' changes go into one
/// write batch with one sync, and each write's [`Done`] is called after the
/// batch that holds it is durable under the sync policy. A message is stored
/// once, however many sessions hold it: sessions keep references.
pub trait SessionStore: Send + Sync + 'static {
    /// Every stored session, with its entries.
    fn load_all(&self) -> Result<Vec<StoredSession>, StorageError>;

    /// Writes what changed in `client_id`'s session; `done` is called once
    /// it is durable. Returns the message id of each put, in order.
    fn write(&self, client_id: &str, changes: SessionChanges, done: Option<Done>) -> Vec<u64>;

    /// Forgets `client_id`'s session and its entries (`(seq, message_id)`);
    /// `done` is called once that is durable.
    fn delete(&self, client_id: &str, entries: Vec<(u64, u64)>, done: Option<Done>);

    /// Calls `done` once everything queued before it is durable.
    fn flush(&self, done: Done);

    /// The store has reached `durable_storage.max_size`: new messages for
    /// offline sessions are refused (dropped and counted by the runtime).
    fn is_full(&self) -> bool {
        false
    }
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
    /// Messages in the shared log (each once, however many sessions hold it;
    /// a message only one session holds is inside its entry, not here).
    pub messages: u64,
    /// Queue and inflight entries of the stored sessions (references).
    pub session_entries: u64,
    /// Whether the store is at `durable_storage.max_size` (new messages for
    /// offline sessions are refused).
    pub full: bool,
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
