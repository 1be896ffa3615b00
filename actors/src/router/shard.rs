//! A topic shard: the one writer of one partition of the topic index.

use super::{add_route, remove_route, Partition, Subscriber};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;

/// The actor that serialises subscribe/unsubscribe for one index partition.
#[derive(Clone, Copy)]
pub struct Shard;

/// Requests to a shard.
pub enum ShardMsg {
    /// Adds a subscription; replies true if it is new.
    Subscribe {
        filter: String,
        group: Option<Arc<str>>,
        subscriber: Subscriber,
        reply: RpcReplyPort<bool>,
    },
    /// Removes a subscription; replies true if it existed.
    Unsubscribe {
        filter: String,
        group: Option<Arc<str>>,
        client_id: Arc<str>,
        reply: RpcReplyPort<bool>,
    },
}

/// The partition a shard owns.
#[derive(Clone)]
pub struct ShardArgs {
    pub partition: Arc<Partition>,
}

/// The ractor name of shard `i`, so sessions can find a restarted shard.
pub fn shard_name(i: usize) -> String {
    format!("roost/router/shard-{i}")
}

impl Actor for Shard {
    type Msg = ShardMsg;
    type State = Arc<Partition>;
    type Arguments = ShardArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ShardMsg>,
        args: ShardArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args.partition)
    }

    async fn handle(
        &self,
        _myself: ActorRef<ShardMsg>,
        msg: ShardMsg,
        partition: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ShardMsg::Subscribe {
                filter,
                group,
                subscriber,
                reply,
            } => {
                let new = add_route(&mut partition.write(), &filter, group, subscriber);
                let _ = reply.send(new);
            }
            ShardMsg::Unsubscribe {
                filter,
                group,
                client_id,
                reply,
            } => {
                let existed = remove_route(&mut partition.write(), &filter, group, &client_id);
                let _ = reply.send(existed);
            }
        }
        Ok(())
    }
}
