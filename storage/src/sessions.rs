//! Durable sessions: the runtime's session records under their client ids,
//! each value the record's time of making (8 bytes, ms since the Unix epoch,
//! big-endian) followed by the record.

use crate::writer::Space;
use crate::Store;
use roost_core::storage::{Done, SessionStore, StorageError, StoredSession};

impl SessionStore for Store {
    fn load_all(&self) -> Result<Vec<StoredSession>, StorageError> {
        let mut out = Vec::new();
        for (k, v) in self.scan(Space::Sessions)? {
            let client_id = String::from_utf8_lossy(&k).into_owned();
            if v.len() < 8 {
                return Err(StorageError::Decode {
                    what: format!("stored session {client_id:?}"),
                    why: "shorter than its timestamp".into(),
                });
            }
            let (at, record) = v.split_at(8);
            out.push(StoredSession {
                client_id,
                made_at_ms: u64::from_be_bytes(at.try_into().expect("8 bytes")),
                record: record.to_vec(),
            });
        }
        Ok(out)
    }

    fn save(&self, s: StoredSession, done: Option<Done>) {
        let mut value = Vec::with_capacity(8 + s.record.len());
        value.extend_from_slice(&s.made_at_ms.to_be_bytes());
        value.extend_from_slice(&s.record);
        self.write(Space::Sessions, s.client_id.into_bytes(), Some(value), done);
    }

    fn delete(&self, client_id: &str, done: Option<Done>) {
        self.write(Space::Sessions, client_id.as_bytes().to_vec(), None, done);
    }

    fn flush(&self, done: Done) {
        self.send(crate::writer::Op::Flush(done));
    }
}
