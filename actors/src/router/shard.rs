//! A topic shard: serialises a session's own writes to one partition of the
//! topic index (subscriptions made through the broker API, those of a session
//! restored from another node, the removals when a session ends or starts
//! clean). A client's SUBSCRIBE and UNSUBSCRIBE are written by its connection
//! itself ([`super::Router::subscribe`]), so they are in force when the SUBACK
//! leaves, with no actor hop; both go through the partition's write lock.

use super::{subscribe_in, unsubscribe_in, Partition, Subscriber};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_core::cluster::ClusterLink;
use std::sync::Arc;

/// The actor that serialises the session's writes to one index partition.
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

ractor_message!(ShardMsg);

/// The partition a shard owns.
#[derive(Clone)]
pub struct ShardArgs {
    pub partition: Arc<Partition>,
    /// A filter's first and last subscription are news for the other nodes.
    pub cluster: Option<Arc<dyn ClusterLink>>,
}

/// The ractor name of shard `i`, so sessions can find a restarted shard.
pub fn shard_name(i: usize) -> String {
    format!("roost/router/shard-{i}")
}

impl Actor for Shard {
    type Msg = ShardMsg;
    type State = ShardArgs;
    type Arguments = ShardArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ShardMsg>,
        args: ShardArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<ShardMsg>,
        msg: ShardMsg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cluster = st.cluster.as_ref();
        match msg {
            ShardMsg::Subscribe {
                filter,
                group,
                subscriber,
                reply,
            } => {
                let new = subscribe_in(&st.partition, cluster, &filter, group, subscriber);
                let _ = reply.send(new);
            }
            ShardMsg::Unsubscribe {
                filter,
                group,
                client_id,
                reply,
            } => {
                let existed = unsubscribe_in(&st.partition, cluster, &filter, group, &client_id);
                let _ = reply.send(existed);
            }
        }
        Ok(())
    }
}
