//! Retained messages in memory: the store (written by publishers in their own
//! context, read by sessions at subscribe time) behind core's
//! [`RetainedStore`], and the retainer actor that purges expired ones.

use crate::config::RetainerConfig;
use parking_lot::RwLock;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::retained::RetainedMap;
use roost_core::storage::RetainedStore;
use roost_core::Message;
use roost_core::Metrics;
use roost_protocol::topic;
use std::sync::Arc;
use std::time::Instant;

/// The last retained message of every topic, in memory (`retainer.*` limits).
pub struct MemoryRetainer {
    messages: RwLock<RetainedMap>,
    config: RetainerConfig,
    metrics: Arc<Metrics>,
}

impl MemoryRetainer {
    pub fn new(config: RetainerConfig, metrics: Arc<Metrics>) -> MemoryRetainer {
        MemoryRetainer {
            messages: RwLock::new(RetainedMap::default()),
            config,
            metrics,
        }
    }
}

impl RetainedStore for MemoryRetainer {
    /// Applies a PUBLISH with the retain flag: an empty payload clears the topic
    /// [MQTT-3.3.1-10, MQTT-3.3.1-11]; anything else replaces it [MQTT-3.3.1-5].
    fn retain(&self, msg: &Arc<Message>) {
        if msg.payload.is_empty() {
            self.messages.write().remove(&msg.topic);
            return;
        }
        if msg.payload.len() > self.config.max_payload_size {
            self.metrics.messages_retained_dropped.inc();
            return;
        }
        let mut stored = (**msg).clone();
        if stored.expires_at.is_none() && !self.config.msg_expiry_interval.is_zero() {
            stored.expires_at = Some(Instant::now() + self.config.msg_expiry_interval);
        }
        let mut map = self.messages.write();
        let c = &self.config;
        if !map.fits(&stored, c.max_retained_messages, c.retained_bytes()) {
            drop(map);
            refused(&self.metrics, msg);
            return;
        }
        map.insert(Arc::new(stored));
    }

    /// The unexpired retained messages whose topic matches `filter`.
    fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let now = Instant::now();
        let map = self.messages.read();
        let wildcard = filter.contains(['+', '#']);
        if !wildcard {
            return map
                .get(filter)
                .filter(|m| !m.is_expired(now))
                .cloned()
                .into_iter()
                .collect();
        }
        let mut out: Vec<Arc<Message>> = map
            .values()
            .filter(|m| !m.is_expired(now) && topic::matches(filter, &m.topic))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Number of retained messages.
    fn len(&self) -> usize {
        self.messages.read().len()
    }

    /// Every stored message that has not expired (a cluster peer's resync).
    fn all(&self) -> Vec<Arc<Message>> {
        let now = Instant::now();
        self.messages
            .read()
            .values()
            .filter(|m| !m.is_expired(now))
            .cloned()
            .collect()
    }

    /// Whether nothing is retained.
    fn is_empty(&self) -> bool {
        self.messages.read().is_empty()
    }

    /// Drops expired messages; returns how many.
    fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut map = self.messages.write();
        let before = map.len();
        map.retain(|_, m| !m.is_expired(now));
        before - map.len()
    }
}

/// A retained message refused at `retainer.max_retained_messages` or
/// `max_retained_bytes` (EMQX refuses the new one and logs): counted in
/// `messages.retained.dropped`, logged on the 1st, 2nd, 4th, 8th... refusal
/// so a flood of them does not flood the log. The message is still delivered.
pub fn refused(metrics: &Metrics, msg: &Message) {
    metrics.messages_retained_dropped.inc();
    let dropped = metrics.messages_retained_dropped.get();
    if dropped.is_power_of_two() {
        tracing::warn!(topic = ?msg.topic, dropped_total = dropped, "retained_message_dropped: retainer full");
    }
}

/// Periodically purges expired retained messages.
#[derive(Clone, Copy)]
pub struct Retainer;

/// The retainer's store, and how often it purges (0 = never).
#[derive(Clone)]
pub struct RetainerArgs {
    pub store: Arc<dyn RetainedStore>,
    pub every: std::time::Duration,
}

/// Message of the retainer's own timer.
pub enum RetainerMsg {
    Purge,
}

ractor_message!(RetainerMsg);

impl Actor for Retainer {
    type Msg = RetainerMsg;
    type State = Arc<dyn RetainedStore>;
    type Arguments = RetainerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RetainerMsg>,
        args: RetainerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        if !args.every.is_zero() {
            myself.send_interval(args.every, || RetainerMsg::Purge);
        }
        Ok(args.store)
    }

    async fn handle(
        &self,
        _myself: ActorRef<RetainerMsg>,
        msg: RetainerMsg,
        store: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RetainerMsg::Purge => {
                let n = store.purge_expired();
                if n > 0 {
                    tracing::debug!(purged = n, "retained_expired_purged");
                }
            }
        }
        Ok(())
    }
}
