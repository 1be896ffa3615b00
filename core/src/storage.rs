//! Storage traits: where the broker keeps retained messages, sessions and the
//! objects operators create (users, ACL rules, bans...). The runtime and the
//! extensions use these traits; the stores behind them are chosen when the
//! broker is put together: the retained messages in RAM (roost-actors'
//! retainer) and the objects in JSON files (roost-access) today, a durable
//! store later.

use crate::message::Message;
use crate::session::SessionSnapshot;
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

/// Sessions that outlive the process: saved as they change, loaded at start.
pub trait SessionStore: Send + Sync + 'static {
    /// Every stored session, by client id.
    fn load_all(&self) -> Result<Vec<(String, SessionSnapshot)>, StorageError>;

    /// Stores (or replaces) `client_id`'s session.
    fn save(&self, client_id: &str, session: &SessionSnapshot) -> Result<(), StorageError>;

    /// Forgets `client_id`'s session.
    fn delete(&self, client_id: &str) -> Result<(), StorageError>;
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
