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
//!   packet id, state...). The first entry to hold a message carries the
//!   message itself (an *inline* entry: the id with its top bit set, the
//!   message's length, 4 bytes, and the message as the log stores it, then
//!   the runtime's entry): a message held by one session, the common case
//!   online, costs one item to put and one to delete, not a log item and an
//!   entry each;
//! - `messages`: the shared log, message id (8 bytes) -> the time it was
//!   stored (8 bytes) and the message ([`MessageRecord`]). A message that a
//!   second entry holds while the first (inline) one is still stored goes
//!   here, once, however many more sessions hold it; those entries refer to
//!   it by id. So a message is on disc at most twice (inline and in the log),
//!   whatever its fan-out.
//!
//! [`Refs`] counts the entries that refer to each logged message (in memory,
//! rebuilt from the entries at start-up): the first reference writes the
//! message, the last one's removal deletes it, in the same write batch as
//! the entry. A message left without references by a crash between two
//! batches is deleted when the store next loads. Messages are known by their
//! `Arc`'s address while referred to or held inline (the `Arc` is held, so
//! the address is not reused).

use crate::writer::{Op, Put, Space, Write};
use crate::Store;
use roost_core::message::MessageRecord;
use roost_core::storage::{
    unix_ms, Done, EntryMessage, SessionChanges, SessionStore, StorageError, StoredEntry,
    StoredSession,
};
use roost_core::Message;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The top bit of an entry's message id: the message is inside the entry.
const INLINE: u64 = 1 << 63;

/// The references to the shared log's messages, and the messages held inline.
#[derive(Default)]
pub struct Refs {
    /// A logged message's address -> its id.
    by_ptr: HashMap<usize, u64>,
    /// id -> the logged message and how many entries refer to it.
    by_id: HashMap<u64, (Arc<Message>, u64)>,
    /// A message held inline by one entry: its address -> that entry's id.
    inline_ptr: HashMap<usize, u64>,
    /// An inline entry's id -> its message.
    inline: HashMap<u64, Arc<Message>>,
    next_id: u64,
}

impl Refs {
    /// One more holder of `m`: its id, and the message's encoding if the
    /// entry carries it (the first holder). A later holder, while the first
    /// holds it, refers to the log (and writes the message there if it is new
    /// to the log).
    fn hold(&mut self, m: &Arc<Message>, writes: &mut Vec<Write>) -> (u64, Option<Vec<u8>>) {
        let ptr = Arc::as_ptr(m) as usize;
        if let Some(&id) = self.by_ptr.get(&ptr) {
            if let Some(e) = self.by_id.get_mut(&id) {
                e.1 += 1;
                return (id, None);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Entry::Vacant(first) = self.inline_ptr.entry(ptr) {
            first.insert(id);
            self.inline.insert(id, m.clone());
            return (id, Some(encode_message(m)));
        }
        self.by_ptr.insert(ptr, id);
        self.by_id.insert(id, (m.clone(), 1));
        writes.push((
            Space::Messages,
            id.to_be_bytes().to_vec(),
            Put::New(encode_message(m)),
        ));
        (id, None)
    }

    /// The encoding an entry that already holds `id` carries again when it
    /// is rewritten: the message if it is inline.
    fn held(&self, id: u64) -> Option<Vec<u8>> {
        self.inline.get(&id).map(|m| encode_message(m))
    }

    /// One holder fewer of `id`: an inline message goes with its entry; the
    /// last reference to a logged one deletes it.
    fn release(&mut self, id: u64, writes: &mut Vec<Write>) {
        if let Some(m) = self.inline.remove(&id) {
            let ptr = Arc::as_ptr(&m) as usize;
            if self.inline_ptr.get(&ptr) == Some(&id) {
                self.inline_ptr.remove(&ptr);
            }
            return;
        }
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

    /// Messages in the log referred to.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Messages held inline.
    #[cfg(test)]
    pub(crate) fn inline_len(&self) -> usize {
        self.inline.len()
    }
}

/// An entry's value: its message id, the message if it is inline, the
/// runtime's entry.
fn entry_value(id: u64, message: Option<&[u8]>, entry: &[u8]) -> Vec<u8> {
    match message {
        None => {
            let mut v = Vec::with_capacity(8 + entry.len());
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(entry);
            v
        }
        Some(m) => {
            let mut v = Vec::with_capacity(12 + m.len() + entry.len());
            v.extend_from_slice(&(id | INLINE).to_be_bytes());
            v.extend_from_slice(&(m.len() as u32).to_be_bytes());
            v.extend_from_slice(m);
            v.extend_from_slice(entry);
            v
        }
    }
}

/// An entry's value read back: its message id, the message's encoding if it
/// is inline, the runtime's entry.
type EntryValue<'a> = (u64, Option<&'a [u8]>, &'a [u8]);

/// Reads an entry's value ([`EntryValue`]).
fn parse_entry_value(v: &[u8]) -> Option<EntryValue<'_>> {
    let id = be_u64(v)?;
    if id & INLINE == 0 {
        return Some((id, None, &v[8..]));
    }
    let len = u32::from_be_bytes(v.get(8..12)?.try_into().ok()?) as usize;
    let m = v.get(12..12 + len)?;
    Some((id & !INLINE, Some(m), &v[12 + len..]))
}

/// A message as the log (or an inline entry) stores it: when (ms since the
/// Unix epoch, 8 bytes), then the message as a [`MessageRecord`].
pub(crate) fn encode_message(m: &Message) -> Vec<u8> {
    let props = m.properties.as_deref();
    let record = MessageRef {
        topic: &m.topic,
        payload: Raw(&m.payload),
        qos: m.qos as u8,
        retain: m.retain,
        from: &m.from,
        payload_format_indicator: props.and_then(|p| p.payload_format_indicator),
        content_type: props.and_then(|p| p.content_type.as_deref()),
        response_topic: props.and_then(|p| p.response_topic.as_deref()),
        correlation_data: props.and_then(|p| p.correlation_data.as_deref()).map(Raw),
        user_properties: props.map_or(&[][..], |p| &p.user_properties[..]),
        expires_in_ms: m.expires_at.map(|at| {
            at.saturating_duration_since(Instant::now())
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX)
        }),
    };
    let mut v = Vec::with_capacity(32 + m.topic.len() + m.payload.len() + m.from.len());
    v.extend_from_slice(&unix_ms().to_be_bytes());
    // A message is plain data: it always serialises.
    postcard::to_extend(&record, v).unwrap_or_default()
}

/// [`MessageRecord`] borrowed from a [`Message`]: the same fields in the same
/// order, so postcard writes the same bytes (a byte slice and a `Vec<u8>`
/// alike: its length, then its bytes), without copying the message into a
/// record first (the copy and its allocations were most of what storing an
/// online message cost its session). `encoded_as_a_record` checks it.
#[derive(serde::Serialize)]
struct MessageRef<'a> {
    topic: &'a str,
    payload: Raw<'a>,
    qos: u8,
    retain: bool,
    from: &'a str,
    payload_format_indicator: Option<u8>,
    content_type: Option<&'a str>,
    response_topic: Option<&'a str>,
    correlation_data: Option<Raw<'a>>,
    user_properties: &'a [(String, String)],
    expires_in_ms: Option<u64>,
}

/// Bytes written as postcard writes a `Vec<u8>`, in one copy.
struct Raw<'a>(&'a [u8]);

impl serde::Serialize for Raw<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
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
        let mut inline: HashMap<u64, Arc<Message>> = HashMap::new();
        for (k, v) in self.scan(Space::Entries)? {
            let parsed = parse_entry_key(&k).zip(parse_entry_value(&v));
            let Some(((client_id, seq), (message_id, body, entry))) = parsed else {
                cleanup.push((Space::Entries, k, Put::Delete));
                continue;
            };
            max_id = max_id.max(message_id + 1);
            let message = match body {
                Some(body) => match decode_message(body, now_ms, now) {
                    Ok(m) => {
                        let m = Arc::new(m);
                        inline.insert(message_id, m.clone());
                        m
                    }
                    Err(why) => {
                        tracing::warn!(%client_id, seq, %why, "stored_message_undecodable");
                        cleanup.push((Space::Entries, k, Put::Delete));
                        continue;
                    }
                },
                None => {
                    let Some(message) = messages.get(&message_id) else {
                        tracing::warn!(%client_id, seq, message_id, "stored_entry_without_message");
                        cleanup.push((Space::Entries, k, Put::Delete));
                        continue;
                    };
                    *counts.entry(message_id).or_default() += 1;
                    message.clone()
                }
            };
            entries.entry(client_id).or_default().push(StoredEntry {
                seq,
                message_id,
                message,
                entry: entry.to_vec(),
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
                if inline.remove(&e.message_id).is_none() {
                    if let Some(c) = counts.get_mut(&e.message_id) {
                        *c -= 1;
                    }
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
        for (id, m) in inline {
            refs.inline_ptr.insert(Arc::as_ptr(&m) as usize, id);
            refs.inline.insert(id, m);
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
            let (id, body, new) = match p.message {
                EntryMessage::New(m) => {
                    let (id, body) = refs.hold(&m, &mut writes);
                    (id, body, true)
                }
                EntryMessage::Held(id) => (id, refs.held(id), false),
            };
            let value = entry_value(id, body.as_deref(), &p.entry);
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
