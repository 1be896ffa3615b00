//! A topic shard: the one writer of one partition of the topic index.

use super::{add_route, remove_route, Partition, Route, RouteKey, Subscriber};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_core::cluster::ClusterLink;
use roost_core::trie::TopicTrie;
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
        let hook = st.cluster.as_ref();
        match msg {
            ShardMsg::Subscribe {
                filter,
                group,
                subscriber,
                reply,
            } => {
                let mut trie = st.partition.write();
                let before = present(&trie, &filter, group.as_ref());
                let new = add_route(&mut trie, &filter, group.clone(), subscriber);
                if let (Some(hook), false) = (hook, before) {
                    hook.route_changed(&filter, group.as_ref(), true);
                }
                drop(trie);
                let _ = reply.send(new);
            }
            ShardMsg::Unsubscribe {
                filter,
                group,
                client_id,
                reply,
            } => {
                let mut trie = st.partition.write();
                let existed = remove_route(&mut trie, &filter, group.clone(), &client_id);
                if let (Some(hook), true) = (hook, existed) {
                    if !present(&trie, &filter, group.as_ref()) {
                        hook.route_changed(&filter, group.as_ref(), false);
                    }
                }
                drop(trie);
                let _ = reply.send(existed);
            }
        }
        Ok(())
    }
}

/// Whether `filter` holds a plain subscription (`group` none) or members of
/// `group`: what the other nodes of a cluster know of this node.
fn present(trie: &TopicTrie<RouteKey, Route>, filter: &str, group: Option<&Arc<str>>) -> bool {
    trie.get(filter).is_some_and(|entries| match group {
        None => entries.keys().any(|k| matches!(k, RouteKey::Client(_))),
        Some(g) => entries.contains_key(&RouteKey::Group(g.clone())),
    })
}
