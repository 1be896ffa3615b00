//! What a durable session has in the store, so that a write carries only what
//! changed: its record (subscriptions, will, expiry; not its messages) when
//! that changed, and one entry per message it holds (queued or in flight),
//! put when the message comes, rewritten when its state changes (queued ->
//! in flight -> PUBREL sent), removed when it goes. The message itself is in
//! the first entry that holds it, and in the store's shared log, once, for
//! every other session that holds it (see
//! roost-storage's `sessions.rs`): a message queued for an offline session
//! costs one small entry, not a rewrite of the queue around it.
//!
//! [`Mirror`] is the session's view of what it stored. The session's messages
//! in order (its inflight window, then its queue) only ever lose members and
//! gain new ones at the end: a message moves from the queue's front to the
//! window's end, which keeps its place. So [`Mirror::diff`] walks both lists
//! once, matching by message (the `Arc`, held by the mirror so its address
//! is not reused). Whatever it finds, the mirror equals the session after a
//! diff (a list that breaks the rule costs more writes, never a wrong entry).

use super::data::{SessionData, SessionRecord};
use super::queue::InflightState;
use super::Delivery;
use roost_core::delivery::{SharedKey, SubscriptionIds};
use roost_core::storage::{EntryMessage, EntryPut, SessionChanges, StoredEntry};
use roost_core::Message;
use roost_protocol::QoS;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// The runtime's part of a stored entry (the store keeps the message id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub qos: u8,
    pub retain_as_published: bool,
    pub subscription_ids: Vec<u32>,
    /// `(group, filter)` if it came through a shared subscription.
    pub shared: Option<(String, String)>,
    pub from_retained: bool,
    /// In the inflight window: its packet id and state; `None` if queued.
    pub inflight: Option<(u16, InflightState)>,
}

impl EntryRecord {
    fn of(d: &Delivery, inflight: Option<(u16, InflightState)>) -> EntryRecord {
        EntryRecord {
            qos: d.qos as u8,
            retain_as_published: d.retain_as_published,
            subscription_ids: d.subscription_ids.as_slice().to_vec(),
            shared: d
                .shared
                .as_ref()
                .map(|k| (k.group.to_string(), k.filter.to_string())),
            from_retained: d.from_retained,
            inflight,
        }
    }

    /// The delivery of `message` this entry describes.
    pub fn delivery(&self, message: Arc<Message>) -> Delivery {
        Delivery {
            message,
            qos: QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce),
            retain_as_published: self.retain_as_published,
            subscription_ids: SubscriptionIds::from_ids(self.subscription_ids.iter().copied()),
            shared: self.shared.as_ref().map(|(group, filter)| {
                Arc::new(SharedKey {
                    group: group.as_str().into(),
                    filter: filter.as_str().into(),
                })
            }),
            from_retained: self.from_retained,
        }
    }
}

/// One stored entry, as the mirror remembers it.
#[derive(Debug)]
pub struct Mirrored {
    seq: u64,
    message_id: u64,
    message: Arc<Message>,
    qos: QoS,
    flags: (bool, bool),
    subscription_ids: SubscriptionIds,
    shared: Option<Arc<SharedKey>>,
    inflight: Option<(u16, InflightState)>,
}

impl Mirrored {
    fn of(seq: u64, d: &Delivery, inflight: Option<(u16, InflightState)>) -> Mirrored {
        Mirrored {
            seq,
            message_id: 0,
            message: d.message.clone(),
            qos: d.qos,
            flags: (d.retain_as_published, d.from_retained),
            subscription_ids: d.subscription_ids.clone(),
            shared: d.shared.clone(),
            inflight,
        }
    }

    /// Whether this entry still says what `d` in that place says.
    fn same(&self, d: &Delivery, inflight: Option<(u16, InflightState)>) -> bool {
        self.inflight == inflight
            && self.qos == d.qos
            && self.flags == (d.retain_as_published, d.from_retained)
            && self.subscription_ids == d.subscription_ids
            && self.shared == d.shared
    }
}

/// What a session has in the store.
#[derive(Debug, Default)]
pub struct Mirror {
    entries: VecDeque<Mirrored>,
    next_seq: u64,
    /// The record last written (its times left out) and the wall-clock time
    /// of its detach; `None` before the first write.
    record: Option<(SessionRecord, Option<u64>)>,
    /// The detach instant the wall-clock time above was counted for.
    detached: Option<(Instant, u64)>,
}

impl Mirror {
    /// The record to write, if it changed since the last one: stamped with
    /// `now_ms` (ms since the Unix epoch), its detach counted back from it.
    pub fn record_change(
        &mut self,
        data: &SessionData,
        now: Instant,
        now_ms: u64,
    ) -> Option<SessionRecord> {
        let meta = SessionRecord::meta(data);
        let detached_wall = data.detached_at.map(|at| match self.detached {
            Some((i, wall)) if i == at => wall,
            _ => {
                let wall = now_ms.saturating_sub(
                    now.saturating_duration_since(at)
                        .as_millis()
                        .try_into()
                        .unwrap_or(u64::MAX),
                );
                self.detached = Some((at, wall));
                wall
            }
        });
        if self
            .record
            .as_ref()
            .is_some_and(|(r, w)| *r == meta && *w == detached_wall)
        {
            return None;
        }
        let mut record = meta.clone();
        record.detached_ms_ago = detached_wall.map(|w| now_ms.saturating_sub(w));
        self.record = Some((meta, detached_wall));
        Some(record)
    }

    /// Puts into `changes` the entries to write and remove so the store holds
    /// `data`'s messages; makes the mirror say so. Returns, for each put, the
    /// index of its entry (to learn its message id, see [`Self::assign`]).
    pub fn diff(&mut self, data: &SessionData, changes: &mut SessionChanges) -> Vec<usize> {
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut now: VecDeque<Mirrored> = VecDeque::with_capacity(old.len() + 1);
        let mut slots = Vec::new();
        let current = data
            .inflight
            .iter()
            .map(|e| (&e.delivery, Some((e.packet_id, e.state))))
            .chain(data.mqueue.iter().map(|d| (d, None)));
        for (d, inflight) in current {
            loop {
                match old.peek() {
                    Some(o) if Arc::ptr_eq(&o.message, &d.message) => {
                        let mut o = old.next().expect("peeked");
                        if !o.same(d, inflight) {
                            let id = o.message_id;
                            o = Mirrored {
                                message_id: id,
                                ..Mirrored::of(o.seq, d, inflight)
                            };
                            slots.push(now.len());
                            changes.put.push(EntryPut {
                                seq: o.seq,
                                message: EntryMessage::Held(id),
                                entry: encode(d, inflight),
                            });
                        }
                        now.push_back(o);
                        break;
                    }
                    Some(_) => {
                        let o = old.next().expect("peeked");
                        changes.remove.push((o.seq, o.message_id));
                    }
                    None => {
                        let seq = self.next_seq;
                        self.next_seq += 1;
                        slots.push(now.len());
                        changes.put.push(EntryPut {
                            seq,
                            message: EntryMessage::New(d.message.clone()),
                            entry: encode(d, inflight),
                        });
                        now.push_back(Mirrored::of(seq, d, inflight));
                        break;
                    }
                }
            }
        }
        for o in old {
            changes.remove.push((o.seq, o.message_id));
        }
        self.entries = now;
        slots
    }

    /// Records the message ids the store gave the puts of the last diff.
    pub fn assign(&mut self, slots: Vec<usize>, ids: Vec<u64>) {
        for (i, id) in slots.into_iter().zip(ids) {
            if let Some(e) = self.entries.get_mut(i) {
                e.message_id = id;
            }
        }
    }

    /// Every stored entry (`(seq, message_id)`), the mirror emptied (the
    /// session's removal).
    pub fn take_all(&mut self) -> Vec<(u64, u64)> {
        let all = self
            .entries
            .drain(..)
            .map(|e| (e.seq, e.message_id))
            .collect();
        // Sequence numbers are never reused (the store takes a new entry's key
        // for one that does not exist).
        *self = Mirror {
            next_seq: self.next_seq,
            ..Mirror::default()
        };
        all
    }

    /// A mirror of the entries loaded at start-up, and the deliveries they
    /// hold (with their inflight packet id and state). An entry that does not
    /// decode is kept in the mirror under a state no delivery has, so the
    /// next write removes or rewrites it.
    #[allow(clippy::type_complexity)]
    pub fn restored(
        entries: &[StoredEntry],
    ) -> (Mirror, Vec<(Delivery, Option<(u16, InflightState)>)>) {
        let mut m = Mirror::default();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            m.next_seq = m.next_seq.max(e.seq + 1);
            let mut mirrored = match postcard::from_bytes::<EntryRecord>(&e.entry) {
                Ok(r) => {
                    let d = r.delivery(e.message.clone());
                    let m = Mirrored::of(e.seq, &d, r.inflight);
                    out.push((d, r.inflight));
                    m
                }
                Err(error) => {
                    tracing::warn!(seq = e.seq, %error, "stored_entry_undecodable");
                    Mirrored {
                        seq: e.seq,
                        message_id: 0,
                        message: e.message.clone(),
                        qos: QoS::AtMostOnce,
                        flags: (false, false),
                        subscription_ids: SubscriptionIds::None,
                        shared: None,
                        inflight: Some((0, InflightState::AwaitComp)),
                    }
                }
            };
            mirrored.message_id = e.message_id;
            m.entries.push_back(mirrored);
        }
        (m, out)
    }
}

fn encode(d: &Delivery, inflight: Option<(u16, InflightState)>) -> Vec<u8> {
    // Plain data: it always serialises.
    postcard::to_stdvec(&EntryRecord::of(d, inflight)).unwrap_or_default()
}
