//! Retained messages on disc (`retainer.storage_type: disc`): every retained
//! message in memory for reads (subscribes match against it at once, as with
//! `ram`) and written through to the store, from which they are all loaded
//! when the broker starts, so they are served at once after a restart.
//!
//! Each value is the message's [`MessageRecord`] with the time it was stored
//! (ms since the Unix epoch), so its Message Expiry Interval keeps counting
//! while the broker is down.

use crate::writer::Space;
use crate::Store;
use parking_lot::RwLock;
use roost_core::message::MessageRecord;
use roost_core::retained::{refused, RetainedMap};
use roost_core::storage::{unix_ms, RetainedStore, StorageError};
use roost_core::{Message, Metrics};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `retainer.*` limits the store applies.
#[derive(Debug, Clone)]
pub struct RetainLimits {
    /// 0 = unlimited.
    pub max_retained_messages: usize,
    /// Topic and payload bytes of all retained messages; 0 = unlimited.
    pub max_retained_bytes: usize,
    pub max_payload_size: usize,
    /// Expiry of messages without Message Expiry Interval (zero = never).
    pub msg_expiry_interval: Duration,
}

/// A retained message as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    stored_at_ms: u64,
    message: MessageRecord,
}

/// Retained messages in memory, written through to the store.
pub struct DiscRetainer {
    store: Arc<Store>,
    messages: RwLock<RetainedMap>,
    limits: RetainLimits,
    metrics: Arc<Metrics>,
}

impl DiscRetainer {
    /// Loads every stored retained message that has not expired (expired ones
    /// are deleted from the store).
    pub fn open(
        store: Arc<Store>,
        limits: RetainLimits,
        metrics: Arc<Metrics>,
    ) -> Result<DiscRetainer, StorageError> {
        let now_ms = unix_ms();
        let now = Instant::now();
        let mut messages = Vec::new();
        for (key, value) in store.scan(Space::Retained)? {
            let stored: Stored = match postcard::from_bytes(&value) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(topic = %String::from_utf8_lossy(&key), error = %e, "retained_message_undecodable");
                    store.write_one(Space::Retained, key, None, None);
                    continue;
                }
            };
            let mut record = stored.message;
            let elapsed = now_ms.saturating_sub(stored.stored_at_ms);
            if let Some(left) = record.expires_in_ms {
                if left <= elapsed {
                    store.write_one(Space::Retained, key, None, None);
                    continue;
                }
                record.expires_in_ms = Some(left - elapsed);
            }
            let m = record.into_message(now);
            messages.push(Arc::new(m));
        }
        Ok(DiscRetainer {
            store,
            messages: RwLock::new(RetainedMap::from_messages(messages)),
            limits,
            metrics,
        })
    }

    fn persist(&self, m: &Message) {
        let stored = Stored {
            stored_at_ms: unix_ms(),
            message: MessageRecord::of(m, Instant::now()),
        };
        match postcard::to_stdvec(&stored) {
            Ok(v) => {
                self.store
                    .write_one(Space::Retained, m.topic.as_bytes().to_vec(), Some(v), None)
            }
            Err(e) => tracing::warn!(topic = %m.topic, error = %e, "retained_message_not_stored"),
        }
    }

    fn forget(&self, topic: &str) {
        self.store
            .write_one(Space::Retained, topic.as_bytes().to_vec(), None, None);
    }
}

impl RetainedStore for DiscRetainer {
    /// An empty payload clears the topic [MQTT-3.3.1-10, MQTT-3.3.1-11];
    /// anything else replaces it [MQTT-3.3.1-5]. Written through to disc
    /// under the sync policy (the publisher does not wait for it).
    fn retain(&self, msg: &Arc<Message>) {
        if msg.payload.is_empty() {
            if self.messages.write().remove(&msg.topic).is_some() {
                self.forget(&msg.topic);
            }
            return;
        }
        if msg.payload.len() > self.limits.max_payload_size {
            self.metrics.messages_retained_dropped.inc();
            return;
        }
        let mut stored = (**msg).clone();
        if stored.expires_at.is_none() && !self.limits.msg_expiry_interval.is_zero() {
            stored.expires_at = Some(Instant::now() + self.limits.msg_expiry_interval);
        }
        let mut map = self.messages.write();
        let l = &self.limits;
        if !map.fits(&stored, l.max_retained_messages, l.max_retained_bytes) {
            drop(map);
            refused(&self.metrics, msg);
            return;
        }
        // Queued under the map's lock, so two publishes to one topic reach
        // the disc in the order they reached the map.
        self.persist(&stored);
        map.insert(Arc::new(stored));
    }

    fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        self.messages.read().matching(filter, Instant::now())
    }

    fn all(&self) -> Vec<Arc<Message>> {
        self.messages.read().unexpired(Instant::now())
    }

    fn len(&self) -> usize {
        self.messages.read().len()
    }

    fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut map = self.messages.write();
        let before = map.len();
        map.retain(|m| {
            let keep = !m.is_expired(now);
            if !keep {
                self.forget(&m.topic);
            }
            keep
        });
        before - map.len()
    }
}
