//! The objects the API creates (users, ACL rules, bans, API keys, dashboard
//! users, rules): named documents, each written whole and synced before
//! `put` returns, whatever the sync policy (they change rarely and an
//! operator expects a change to stick).

use crate::writer::Space;
use crate::Store;
use roost_core::storage::{ObjectStore, StorageError};

impl ObjectStore for Store {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.objects
            .get(name)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| crate::writer::io_error(&self.location(name), e))
    }

    fn put(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.write_one(
            Space::Objects,
            name.as_bytes().to_vec(),
            Some(value.to_vec()),
            Some(Box::new(move |r| {
                let _ = tx.send(r);
            })),
        );
        // Objects are few and rare: this one waits for its batch and a sync.
        let r = rx.recv().unwrap_or_else(|_| {
            Err(StorageError::Io {
                what: self.location(name),
                error: std::io::Error::other("the store is closed"),
            })
        });
        if r.is_ok() && self.config.sync != crate::SyncPolicy::Batch {
            let _ = self.db.persist(fjall::PersistMode::SyncData);
        }
        r
    }

    fn location(&self, name: &str) -> String {
        format!("{} (object {name:?})", self.path.display())
    }
}
