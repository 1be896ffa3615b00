//! The seam between the single-node broker and the cluster (crate
//! roost-cluster): what the runtime asks of the cluster. The runtime is given a
//! [`ClusterLink`] when it is built; without one it routes locally only. What
//! the cluster asks of the broker goes through [`crate::api::BrokerApi`].

use crate::delivery::SharedKey;
use crate::message::Message;
use crate::session::SessionSnapshot;
use crate::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the broker tells the cluster and asks of it.
pub trait ClusterLink: Send + Sync + 'static {
    /// The first local subscription at `filter` (in share `group`, if any)
    /// appeared (`present`), or the last one went away. Called by the shard that
    /// owns the filter, in order per filter.
    fn route_changed(&self, filter: &str, group: Option<&Arc<str>>, present: bool);

    /// The other nodes with a subscription matching `topic`: nodes with plain
    /// subscriptions, and for each shared group, the nodes with members.
    fn remote_matches(&self, topic: &str, out: &mut RemoteMatches);

    /// Sends `msg` to `node`: to its plain subscriptions if `plain`, and to one
    /// local member of each group in `groups`. Never re-forwarded by `node`.
    /// The message is always queued; `Some` when its publisher should hold
    /// back (the link to `node` is out of credit, or `node` said a session
    /// that this publisher's messages reach is congested): the publisher
    /// waits for that [`Hold`] as for a congested local session.
    fn forward(
        &self,
        node: &Arc<str>,
        msg: &Arc<Message>,
        plain: bool,
        groups: Vec<Arc<SharedKey>>,
    ) -> Option<Arc<dyn Hold>>;

    /// A client stored or cleared a retained message on this node.
    fn retained(&self, msg: &Arc<Message>);

    /// The cluster as this node sees it, for `GET /api/v5/cluster` and `ctl`.
    fn status(&self) -> ClusterStatus;

    /// `ctl cluster join`: dial the node at `address` (`host:port`) from now on.
    fn join(&self, address: String);

    /// `ctl cluster leave`: tell every peer this node leaves, drop them, and
    /// stop dialling until the next join.
    fn leave(&self);

    /// Asks every other node to end `client_id`'s connection (0x8E) and give up
    /// its session; returns the session if one was found and `resume`.
    fn takeover(
        &self,
        client_id: Arc<str>,
        resume: bool,
    ) -> BoxFuture<'static, Option<SessionSnapshot>>;

    /// Replicates document `doc` of table `table` (the rules...) at `version`
    /// to every other node; each applies it if it is newer than its own copy
    /// (last writer wins). Without a cluster, nothing.
    fn replicate(&self, table: &str, version: u64, doc: Vec<u8>) {
        let _ = (table, version, doc);
    }

    /// Registers the local copy of `table`: the copies other nodes send go to
    /// `sink`, and its current copy is sent to every node that (re)connects.
    fn register_table(&self, table: &str, sink: Arc<dyn TableSink>) {
        let _ = (table, sink);
    }
}

/// A publisher held back by something congested (a local session, or a peer
/// node out of credit), resumed when it drains: backpressure runs from
/// subscribers to publishers, across nodes too.
pub trait Waiter: Send + Sync + 'static {
    /// Its identity, so it is registered once.
    fn id(&self) -> u64;

    /// What it waited for has drained: handle its client's packets again.
    fn resume(&self);
}

/// Something congested that a publisher can wait for: a local session at its
/// high watermark, or (across nodes) a peer out of credit.
pub trait Hold: Send + Sync + 'static {
    /// Registers `waiter` to be resumed once this has drained. False, and
    /// nothing registered, if it already has.
    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool;
}

/// This node's copy of a replicated table (a document with a version).
pub trait TableSink: Send + Sync + 'static {
    /// The current version and document, if there is one to share.
    fn current(&self) -> Option<(u64, Vec<u8>)>;

    /// Another node's copy: taken if `version` is newer than the local one.
    fn apply(&self, version: u64, doc: &[u8]);
}

/// Remote matches of one topic.
#[derive(Debug, Default)]
pub struct RemoteMatches {
    /// Nodes with at least one plain subscription matching the topic.
    pub plain: Vec<Arc<str>>,
    /// Shared groups matching the topic with the nodes holding members.
    pub groups: Vec<(Arc<SharedKey>, Vec<Arc<str>>)>,
}

impl RemoteMatches {
    pub fn clear(&mut self) {
        self.plain.clear();
        self.groups.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.groups.is_empty()
    }
}

/// One member of the cluster as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberStatus {
    pub node: String,
    /// `self`, `up` (connected, heartbeats arriving), `suspect` (connected but
    /// silent past half the timeout) or `down`.
    pub state: String,
    /// The cluster address (`host:port`) if known.
    pub address: Option<String>,
    /// Milliseconds since the last frame from the node (none for self).
    pub last_heartbeat_ms_ago: Option<u64>,
    /// Routes (filters) the node holds.
    pub routes: usize,
}

/// The cluster as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub enabled: bool,
    pub node: String,
    pub members: Vec<MemberStatus>,
}
