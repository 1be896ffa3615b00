//! The forwarder: publishers queue messages for other nodes here (in their own
//! context, no actor hop); the forwarder sends each node's queue to that node's
//! link as one frame. The more publishes arrive while a frame is being sent,
//! the larger the next batch.

use crate::link::ClusterMsg;
use crate::wire::{self, Envelope, Forwarded, WireMessage};
use crate::Cluster;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::Message;
use roost_core::SharedKey;
use std::sync::Arc;

/// Publishes in a batch at most (one frame); the rest waits for the next.
const MAX_BATCH: usize = 512;

/// A publish waiting for its node's next batch.
pub(crate) struct Pending {
    message: Arc<Message>,
    plain: bool,
    groups: Vec<Arc<SharedKey>>,
}

/// Queues `msg` for `node`; wakes the forwarder if the queue was empty.
pub(crate) fn enqueue(
    cluster: &Cluster,
    node: &Arc<str>,
    msg: &Arc<Message>,
    plain: bool,
    groups: Vec<Arc<SharedKey>>,
) {
    let wake = {
        let mut outbound = cluster.outbound.lock();
        let was_empty = outbound.is_empty();
        outbound.entry(node.clone()).or_default().push(Pending {
            message: msg.clone(),
            plain,
            groups,
        });
        was_empty
    };
    if wake {
        if let Some(f) = cluster.forwarder_ref.lock().as_ref() {
            let _ = f.cast(ForwarderMsg::Flush);
        }
    }
}

/// Messages of the forwarder.
pub enum ForwarderMsg {
    /// Queues are waiting.
    Flush,
}

impl ractor::Message for ForwarderMsg {}

/// The forwarder actor.
pub struct Forwarder;

impl Actor for Forwarder {
    type Msg = ForwarderMsg;
    type State = Arc<Cluster>;
    type Arguments = Arc<Cluster>;

    async fn pre_start(
        &self,
        myself: ActorRef<ForwarderMsg>,
        cluster: Arc<Cluster>,
    ) -> Result<Arc<Cluster>, ActorProcessingErr> {
        *cluster.forwarder_ref.lock() = Some(myself.clone());
        // Queued while a previous forwarder was down.
        let _ = myself.cast(ForwarderMsg::Flush);
        Ok(cluster)
    }

    async fn handle(
        &self,
        myself: ActorRef<ForwarderMsg>,
        _msg: ForwarderMsg,
        cluster: &mut Arc<Cluster>,
    ) -> Result<(), ActorProcessingErr> {
        let queues = std::mem::take(&mut *cluster.outbound.lock());
        let mut more = false;
        for (node, mut pending) in queues {
            let Some(link) = cluster.peers.get(&node).map(|p| p.link.clone()) else {
                // The node went away: its messages have no subscriber any more.
                if let Some(api) = cluster.api() {
                    for _ in &pending {
                        api.metrics()
                            .message_dropped(&roost_core::hooks::DropReason::NoSubscribers);
                    }
                }
                continue;
            };
            while !pending.is_empty() {
                let rest = if pending.len() > MAX_BATCH {
                    pending.split_off(MAX_BATCH)
                } else {
                    Vec::new()
                };
                let batch = pending
                    .drain(..)
                    .map(|p| Forwarded {
                        message: WireMessage::of(&p.message, std::time::Instant::now()),
                        plain: p.plain,
                        groups: p
                            .groups
                            .iter()
                            .map(|k| (k.group.to_string(), k.filter.to_string()))
                            .collect(),
                    })
                    .collect();
                let frame = wire::encode(&Envelope::Forward {
                    node: cluster.node.to_string(),
                    batch,
                });
                if link.cast(ClusterMsg::Frame(frame)).is_err() {
                    more = false;
                    break;
                }
                pending = rest;
            }
        }
        if !cluster.outbound.lock().is_empty() {
            more = true;
        }
        if more {
            let _ = myself.cast(ForwarderMsg::Flush);
        }
        Ok(())
    }
}
