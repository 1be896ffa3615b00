//! The seam between the single-node broker and the cluster (crate
//! roost-cluster): what the runtime asks of the cluster. The runtime is given a
//! [`ClusterLink`] when it is built; without one it routes locally only. What
//! the cluster asks of the broker goes through [`crate::api::BrokerApi`].

use crate::delivery::{Delivery, SharedKey};
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

    /// Takes the cluster-wide lock of `client_id` (EMQX's `emqx_cm_locker`):
    /// every node asks the same owner node (the client id hashed onto the
    /// current members), so two CONNECTs of one client id on two nodes open
    /// their sessions one after the other, never at once. `None` if the lock
    /// could not be had in time (the CONNECT is refused). The lock is released
    /// when the returned guard is dropped. Without a cluster, always granted.
    fn lock_client(&self, client_id: Arc<str>) -> BoxFuture<'static, Option<ClientLock>> {
        let _ = client_id;
        Box::pin(async { Some(ClientLock::free()) })
    }

    /// Lossless takeover, on the node a session moved from: `deliveries`
    /// reached `client_id`'s old session here after it moved to `node`; they
    /// go there, in order.
    fn relay(&self, node: &str, client_id: &str, deliveries: Vec<Delivery>) {
        let _ = (node, client_id, deliveries);
    }

    /// Lossless takeover, on the node a session moved to: `client_id`'s
    /// session is restored here, so `node` (where it was) may relay now.
    fn relay_ready(&self, node: &str, client_id: &str) {
        let _ = (node, client_id);
    }

    /// Lossless takeover, on the node a session moved from: the old session
    /// has relayed everything to `node` and is gone.
    fn relay_end(&self, node: &str, client_id: &str) {
        let _ = (node, client_id);
    }

    /// How long a session that moved to another node keeps its routes here
    /// and relays what still reaches it (`cluster.takeover_linger`).
    fn takeover_linger(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

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

/// A held cluster-wide client id lock ([`ClusterLink::lock_client`]):
/// dropping it releases the lock.
pub struct ClientLock(Option<Box<dyn FnOnce() + Send>>);

impl ClientLock {
    /// A lock whose release runs `release`.
    pub fn new(release: impl FnOnce() + Send + 'static) -> ClientLock {
        ClientLock(Some(Box::new(release)))
    }

    /// A lock with nothing to release (no cluster).
    pub fn free() -> ClientLock {
        ClientLock(None)
    }
}

impl Drop for ClientLock {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
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
