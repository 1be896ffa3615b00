//! Retained messages in memory: the store (written by publishers in their own
//! context, read by sessions at subscribe time) behind core's
//! [`RetainedStore`], and the retainer actor that purges expired ones.

use crate::config::RetainerConfig;
use parking_lot::RwLock;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::retained::{refused, RetainedMap};
use roost_core::storage::RetainedStore;
use roost_core::Message;
use roost_core::Metrics;
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
        self.messages.read().matching(filter, Instant::now())
    }

    /// Number of retained messages.
    fn len(&self) -> usize {
        self.messages.read().len()
    }

    /// Every stored message that has not expired (a cluster peer's resync).
    fn all(&self) -> Vec<Arc<Message>> {
        self.messages.read().unexpired(Instant::now())
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
        map.retain(|m| !m.is_expired(now));
        before - map.len()
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
