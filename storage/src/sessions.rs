//! Durable sessions and the shared message log.
//!
//! Three keyspaces:
//! - `sessions`: client id -> the runtime's session record (subscriptions,
//!   will, expiry...; not its messages), prefixed by the record's time of
//!   making (8 bytes, ms since the Unix epoch, big-endian);
//! - `entries`: one key per message a session holds (queued or in flight):
//!   the client id's length (2 bytes), the client id and the entry's sequence
//!   number (8 bytes), all big-endian, so a session's entries sort in queue
//!   order -> the message id (8 bytes) and the runtime's entry (its QoS,
//!   packet id, state...);
//! - `messages`: the shared log, message id (8 bytes) -> the time it was
//!   stored (8 bytes) and the message ([`MessageRecord`]). A message is stored
//!   once, however many sessions hold it.
//!
//! [`Refs`] counts the entries that refer to each message (in memory, rebuilt
//! from the entries at start-up): the first reference writes the message, the
//! last one's removal deletes it, in the same write batch as the entry. A
//! message left without references by a crash between two batches is deleted
//! when the store next loads. Messages are known by their `Arc`'s address
//! while referred to (the `Arc` is held, so the address is not reused).

use crate::writer::{Op, Put, Space, Write};
use crate::Store;
use roost_core::message::MessageRecord;
use roost_core::storage::{
    unix_ms, Done, EntryMessage, SessionChanges, SessionStore, StorageError, StoredEntry,
    StoredSession,
};
use roost_core::Message;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The references to the shared log's messages.
#[derive(Default)]
pub struct Refs {
    /// A referred-to message's address -> its id.
    by_ptr: HashMap<usize, u64>,
    /// id -> the message and how many entries refer to it.
    by_id: HashMap<u64, (Arc<Message>, u64)>,
    next_id: u64,
}

impl Refs {
    /// One more reference to `m`: its id, and its write if it is new to the log.
    fn hold(&mut self, m: &Arc<Message>, writes: &mut Vec<Write>) -> u64 {
        let ptr = Arc::as_ptr(m) as usize;
        if let Some(&id) = self.by_ptr.get(&ptr) {
            if let Some(e) = self.by_id.get_mut(&id) {
                e.1 += 1;
                return id;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_ptr.insert(ptr, id);
        self.by_id.insert(id, (m.clone(), 1));
        writes.push((
            Space::Messages,
            id.to_be_bytes().to_vec(),
            Put::New(encode_message(m)),
        ));
        id
    }

    /// One reference fewer to `id`: the last one deletes the message.
    fn release(&mut self, id: u64, writes: &mut Vec<Write>) {
        let Some(e) = self.by_id.get_mut(&id) else {
            return;
        };
        e.1 = e.1.saturating_sub(1);
        if e.1 == 0 {
            let (m, _) = self.by_id.remove(&id).expect("present");
            self.by_ptr.remove(&(Arc::as_ptr(&m) as usize));
            writes.push((Space::Messages, id.to_be_bytes().to_vec(), Put::Delete));
        }
    }

    /// Messages referred to.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// A message as the log stores it: when, then the message.
fn encode_message(m: &Message) -> Vec<u8> {
    let record = MessageRecord::of(m, Instant::now());
    let mut v = unix_ms().to_be_bytes().to_vec();
    // A message is plain data: it always serialises.
    v.extend(postcard::to_stdvec(&record).unwrap_or_default());
    v
}

/// A message from the log, its expiry counted down by the time since it was
/// stored.
fn decode_message(v: &[u8], now_ms: u64, now: Instant) -> Result<Message, String> {
    if v.len() < 8 {
        return Err("shorter than its timestamp".into());
    }
    let (at, rest) = v.split_at(8);
    let at = u64::from_be_bytes(at.try_into().expect("8 bytes"));
    let mut record: MessageRecord = postcard::from_bytes(rest).map_err(|e| e.to_string())?;
    if let Some(left) = &mut record.expires_in_ms {
        *left = left.saturating_sub(now_ms.saturating_sub(at));
    }
    Ok(record.into_message(now))
}

/// An entry's key: client id's length, client id, sequence number.
fn entry_key(client_id: &str, seq: u64) -> Vec<u8> {
    let id = client_id.as_bytes();
    let mut k = Vec::with_capacity(2 + id.len() + 8);
    k.extend_from_slice(&(id.len() as u16).to_be_bytes());
    k.extend_from_slice(id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The client id and sequence number of an entry's key.
fn parse_entry_key(k: &[u8]) -> Option<(String, u64)> {
    let len = u16::from_be_bytes(k.get(..2)?.try_into().ok()?) as usize;
    let id = k.get(2..2 + len)?;
    let seq = u64::from_be_bytes(k.get(2 + len..2 + len + 8)?.try_into().ok()?);
    Some((String::from_utf8_lossy(id).into_owned(), seq))
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

impl Store {
    /// Queues `writes` as one operation (so they land in one batch), under
    /// the references' lock the caller holds (so the log's writes and deletes
    /// reach the writer in the order the references changed).
    fn send_many(&self, writes: Vec<Write>, done: Option<Done>) {
        self.send(Op::Many { writes, done });
    }
}

impl SessionStore for Store {
    fn load_all(&self) -> Result<Vec<StoredSession>, StorageError> {
        let now_ms = unix_ms();
        let now = Instant::now();
        let mut cleanup: Vec<Write> = Vec::new();
        let mut max_id = 0u64;
        // The log.
        let mut messages: HashMap<u64, Arc<Message>> = HashMap::new();
        for (k, v) in self.scan(Space::Messages)? {
            let Some(id) = be_u64(&k) else {
                cleanup.push((Space::Messages, k, Put::Delete));
                continue;
            };
            max_id = max_id.max(id + 1);
            match decode_message(&v, now_ms, now) {
                Ok(m) => {
                    messages.insert(id, Arc::new(m));
                }
                Err(why) => {
                    tracing::warn!(message_id = id, %why, "stored_message_undecodable");
                    cleanup.push((Space::Messages, k, Put::Delete));
                }
            }
        }
        // The entries, each session's in order.
        let mut entries: HashMap<String, Vec<StoredEntry>> = HashMap::new();
        let mut counts: HashMap<u64, u64> = HashMap::new();
        for (k, v) in self.scan(Space::Entries)? {
            let parsed = parse_entry_key(&k).zip(be_u64(&v));
            let Some(((client_id, seq), message_id)) = parsed else {
                cleanup.push((Space::Entries, k, Put::Delete));
                continue;
            };
            let Some(message) = messages.get(&message_id) else {
                tracing::warn!(%client_id, seq, message_id, "stored_entry_without_message");
                cleanup.push((Space::Entries, k, Put::Delete));
                continue;
            };
            *counts.entry(message_id).or_default() += 1;
            entries.entry(client_id).or_default().push(StoredEntry {
                seq,
                message_id,
                message: message.clone(),
                entry: v[8..].to_vec(),
            });
        }
        // The sessions.
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
                made_at_ms: u64::from_be_bytes(at.try_into().expect("8 bytes")),
                record: record.to_vec(),
                entries: entries.remove(&client_id).unwrap_or_default(),
                client_id,
            });
        }
        // Entries of no session (their session's removal was cut short).
        for (client_id, list) in entries {
            for e in list {
                cleanup.push((Space::Entries, entry_key(&client_id, e.seq), Put::Delete));
                if let Some(c) = counts.get_mut(&e.message_id) {
                    *c -= 1;
                }
            }
        }
        let mut refs = Refs {
            next_id: max_id,
            ..Refs::default()
        };
        for (id, m) in messages {
            match counts.get(&id).copied().unwrap_or(0) {
                0 => cleanup.push((Space::Messages, id.to_be_bytes().to_vec(), Put::Delete)),
                n => {
                    refs.by_ptr.insert(Arc::as_ptr(&m) as usize, id);
                    refs.by_id.insert(id, (m, n));
                }
            }
        }
        let mut held = self.refs.lock();
        *held = refs;
        if !cleanup.is_empty() {
            tracing::info!(writes = cleanup.len(), "stored_orphans_removed");
            self.send_many(cleanup, None);
        }
        Ok(out)
    }

    fn write(&self, client_id: &str, changes: SessionChanges, done: Option<Done>) -> Vec<u64> {
        let mut writes: Vec<Write> =
            Vec::with_capacity(changes.put.len() * 2 + changes.remove.len() * 2 + 1);
        if let Some((at, record)) = changes.record {
            let mut value = Vec::with_capacity(8 + record.len());
            value.extend_from_slice(&at.to_be_bytes());
            value.extend_from_slice(&record);
            writes.push((
                Space::Sessions,
                client_id.as_bytes().to_vec(),
                Put::Set(value),
            ));
        }
        let mut ids = Vec::with_capacity(changes.put.len());
        let mut refs = self.refs.lock();
        for p in changes.put {
            let (id, new) = match p.message {
                EntryMessage::New(m) => (refs.hold(&m, &mut writes), true),
                EntryMessage::Held(id) => (id, false),
            };
            let mut value = Vec::with_capacity(8 + p.entry.len());
            value.extend_from_slice(&id.to_be_bytes());
            value.extend_from_slice(&p.entry);
            // A new entry has a sequence number its session never used.
            let put = if new {
                Put::New(value)
            } else {
                Put::Set(value)
            };
            writes.push((Space::Entries, entry_key(client_id, p.seq), put));
            ids.push(id);
        }
        for (seq, id) in changes.remove {
            writes.push((Space::Entries, entry_key(client_id, seq), Put::Delete));
            refs.release(id, &mut writes);
        }
        if writes.is_empty() {
            drop(refs);
            if let Some(done) = done {
                self.send(Op::Flush(done));
            }
        } else {
            self.send_many(writes, done);
        }
        ids
    }

    fn delete(&self, client_id: &str, entries: Vec<(u64, u64)>, done: Option<Done>) {
        let mut writes: Vec<Write> =
            vec![(Space::Sessions, client_id.as_bytes().to_vec(), Put::Delete)];
        let mut refs = self.refs.lock();
        for (seq, id) in entries {
            writes.push((Space::Entries, entry_key(client_id, seq), Put::Delete));
            refs.release(id, &mut writes);
        }
        self.send_many(writes, done);
    }

    fn flush(&self, done: Done) {
        self.send(Op::Flush(done));
    }

    fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }
}
