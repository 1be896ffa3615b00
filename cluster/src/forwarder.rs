//! The forwarder: publishers queue messages for other nodes (in their own
//! context, no actor hop, see [`crate::flow::enqueue`]); the forwarder sends
//! each node's queue to that node's link in frames of up to
//! [`MAX_BATCH`] messages, as far as the node's credit goes (see
//! [`crate::flow`]). The more publishes arrive while a frame is being sent,
//! the larger the next batch.

use crate::flow::{Pending, MAX_BATCH};
use crate::link::ClusterMsg;
use crate::wire::{self, Envelope, Forwarded, WireMessage};
use crate::Cluster;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

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
        cluster.flow.outbound.lock().scheduled = true;
        let _ = myself.cast(ForwarderMsg::Flush);
        Ok(cluster)
    }

    async fn handle(
        &self,
        myself: ActorRef<ForwarderMsg>,
        _msg: ForwarderMsg,
        cluster: &mut Arc<Cluster>,
    ) -> Result<(), ActorProcessingErr> {
        // One batch per node with credit, taken under the lock; sent without it.
        let batches: Vec<(Arc<str>, Vec<Pending>)> = {
            let mut out = cluster.flow.outbound.lock();
            out.scheduled = false;
            out.peers
                .iter_mut()
                .filter(|(_, p)| p.credit > 0 && !p.pending.is_empty())
                .map(|(node, p)| {
                    let n = p.pending.len().min(p.credit).min(MAX_BATCH);
                    p.credit -= n;
                    (node.clone(), p.pending.drain(..n).collect())
                })
                .collect()
        };
        let now = std::time::Instant::now();
        for (node, batch) in batches {
            let Some(link) = cluster.peers.get(&node).map(|p| p.link.clone()) else {
                // The node went away: its messages have no subscriber any more.
                if let Some(api) = cluster.api() {
                    for _ in &batch {
                        api.metrics()
                            .message_dropped(&roost_core::hooks::DropReason::NoSubscribers);
                    }
                }
                continue;
            };
            let batch = batch
                .into_iter()
                .map(|p| Forwarded {
                    message: WireMessage::of(&p.message, now),
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
            let _ = link.cast(ClusterMsg::Frame(frame));
        }
        let more = {
            let mut out = cluster.flow.outbound.lock();
            let more = !out.scheduled
                && out
                    .peers
                    .values()
                    .any(|p| p.credit > 0 && !p.pending.is_empty());
            if more {
                out.scheduled = true;
            }
            more
        };
        if more {
            let _ = myself.cast(ForwarderMsg::Flush);
        }
        Ok(())
    }
}
