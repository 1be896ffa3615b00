//! roost-cluster: Roost nodes as one cluster, on ractor_cluster.
//!
//! Each node runs, under the supervisor `roost/cluster`:
//! - `node_server`: ractor_cluster's NodeServer (transport, cookie auth, and the
//!   process groups that make actors of one node reachable from the others);
//! - `link`: the node's one remote-capable actor, in the cluster-wide process
//!   group [`GROUP`]. Every frame from another node lands here: hellos,
//!   heartbeats, routes, forwarded publishes, retained messages, takeovers;
//! - `forwarder`: batches this node's publishes per peer and sends each batch to
//!   the peer's link in one frame;
//! - `membership`: dials the seeds (static list or DNS) with backoff, sends
//!   heartbeats and declares a silent peer down after `heartbeat_timeout`.
//!
//! Sessions and connections stay local-only actors: only the links are known to
//! other nodes (each remote-capable actor costs memory on every peer).
//!
//! The broker reaches the cluster through [`roost_core::cluster::ClusterLink`],
//! implemented by [`Cluster`]; the cluster reaches the broker only through
//! [`roost_core::api::BrokerApi`] (it sends no actor message of the runtime, and
//! does not depend on it). The binary builds the [`Cluster`] with
//! [`Cluster::new`], gives it to the broker, and starts its actors with
//! [`Cluster::start`] once the broker's API exists.

mod flow;
mod forwarder;
mod gate;
mod guard;
mod heal;
mod link;
mod locker;
mod membership;
mod retained;
mod routes;
pub mod wire;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use ractor::{Actor, ActorCell, ActorRef};
use roost_core::api::BrokerApi;
use roost_core::cluster::{
    ClientLock, ClusterLink, ClusterStatus, MemberStatus, RemoteMatches, TableSink,
};
use roost_core::config::{ClusterConfig, NodeConfig, SupervisionConfig};
use roost_core::session::SessionSnapshot;
use roost_core::BoxFuture;
use roost_core::Message;
use roost_core::SharedKey;
use roost_supervisor::{ChildSpec, Intensity, Restart, Strategy, Supervisor, SupervisorArgs};
use routes::RemoteRoutes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use wire::{Envelope, WireRoute};

pub use link::{ClusterMsg, Link};

/// The process group every node's link joins.
pub const GROUP: &str = "roost/cluster";
/// The ractor name of this node's cluster supervisor.
pub const SUPERVISOR_NAME: &str = "roost/cluster";
const NODE_SERVER_NAME: &str = "roost/cluster/node_server";
const FORWARDER_NAME: &str = "roost/cluster/forwarder";
const MEMBERSHIP_NAME: &str = "roost/cluster/membership";

/// The ractor name of `node`'s link (the same on every node, since process
/// groups carry names across).
pub fn link_name(node: &str) -> String {
    format!("roost/cluster/link/{node}")
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster.bind: cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
}

/// Another node as this node sees it.
pub(crate) struct Peer {
    /// Its link (a remote actor here).
    pub link: ActorRef<ClusterMsg>,
    /// Its cluster address, once it said hello.
    pub address: Option<String>,
    /// `address` resolved, to tell which seeds are connected.
    pub resolved: Option<SocketAddr>,
    pub last_seen: Instant,
}

/// This node's part of the cluster: shared by the broker (through
/// [`ClusterLink`]) and the cluster's actors.
pub struct Cluster {
    /// The broker, once [`Cluster::start`] gave it. Weak: the broker holds the
    /// cluster (its router routes through it), so a strong reference back would
    /// keep both alive forever.
    api: RwLock<Option<Weak<dyn BrokerApi>>>,
    pub(crate) node: Arc<str>,
    /// `cluster.bind`, parsed (the NodeServer listens there).
    bind: SocketAddr,
    /// Restart intensity of the `roost/cluster` supervisor (`supervision.*`).
    intensity: Intensity,
    /// `host:port` the other nodes reach this node at (the host of `node.name`,
    /// the port of `cluster.bind`).
    pub(crate) address: String,
    pub(crate) config: ClusterConfig,
    pub(crate) routes: RemoteRoutes,
    pub(crate) peers: DashMap<Arc<str>, Peer>,
    /// Nodes seen before and gone now, with their last address (for status).
    pub(crate) gone: DashMap<Arc<str>, (Option<String>, Instant)>,
    /// Route changes not yet sent, in order: `(added, route)`.
    pub(crate) deltas: Mutex<Vec<(bool, WireRoute)>>,
    /// Publishes not yet sent, and the credits, per node (both directions).
    pub(crate) flow: flow::Flow,
    /// This cluster itself, for the holds it hands out.
    pub(crate) me: Weak<Cluster>,
    /// Addresses added by `ctl cluster join` (dialled like seeds).
    pub(crate) joined: Mutex<Vec<String>>,
    /// Set by a join: membership resolves its targets again at once.
    pub(crate) targets_changed: AtomicBool,
    /// Set by `ctl cluster leave`: no dialling, no peers, until the next join.
    pub(crate) left: AtomicBool,
    pub(crate) link_ref: Mutex<Option<ActorRef<ClusterMsg>>>,
    pub(crate) forwarder_ref: Mutex<Option<ActorRef<forwarder::ForwarderMsg>>>,
    pub(crate) node_server: Mutex<Option<ActorRef<ractor_cluster::NodeServerMessage>>>,
    /// The replicated tables' local copies, by table name.
    pub(crate) tables: DashMap<String, Arc<dyn TableSink>>,
    /// The client id locks this node owns ([`locker`]).
    pub(crate) locks: Arc<locker::Locks>,
    /// The versions and tombstones of the retained topics ([`retained`]).
    pub(crate) retained: retained::RetainedVersions,
}

impl Cluster {
    /// This node's part of the cluster, not started yet: `node` is `node.name`
    /// (`name@host`). Fails if `cluster.bind` is taken: it is bound once here so
    /// a taken port stops start-up with a clear message, before the broker
    /// starts; the NodeServer binds it again when it starts.
    pub fn new(
        node: &NodeConfig,
        config: &ClusterConfig,
        supervision: &SupervisionConfig,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let bind_error = |e| ClusterError::Bind(config.bind.clone(), e);
        drop(std::net::TcpListener::bind(&config.bind).map_err(bind_error)?);
        // Validated at load; an unparsable address here is reported as the bind
        // error it would be.
        let bind: SocketAddr = config
            .bind
            .parse()
            .map_err(|e| bind_error(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let node: Arc<str> = node.name.as_str().into();
        Ok(Arc::new_cyclic(|me| Cluster {
            me: me.clone(),
            api: RwLock::new(None),
            address: format!("{}:{}", host_of(&node), bind.port()),
            node,
            bind,
            intensity: Intensity {
                max_restarts: supervision.intensity,
                period: supervision.period,
            },
            config: config.clone(),
            routes: RemoteRoutes::default(),
            peers: DashMap::new(),
            gone: DashMap::new(),
            deltas: Mutex::new(Vec::new()),
            flow: flow::Flow::default(),
            joined: Mutex::new(Vec::new()),
            targets_changed: AtomicBool::new(false),
            left: AtomicBool::new(false),
            link_ref: Mutex::new(None),
            forwarder_ref: Mutex::new(None),
            node_server: Mutex::new(None),
            tables: DashMap::new(),
            locks: Arc::default(),
            retained: Default::default(),
        }))
    }

    /// Starts clustering for the broker whose API is `api` (the broker was
    /// built with this cluster as its [`ClusterLink`]): returns the cluster's
    /// supervisor `roost/cluster`, for the root supervisor to start (before the
    /// listeners). Keeps only a weak reference to `api`.
    pub fn start(self: &Arc<Self>, api: &Arc<dyn BrokerApi>) -> ChildSpec {
        *self.api.write() = Some(Arc::downgrade(api));
        supervisor_spec(self.clone())
    }

    /// The broker, while it runs (`None` before [`Cluster::start`] and once the
    /// broker is gone).
    pub(crate) fn api(&self) -> Option<Arc<dyn BrokerApi>> {
        self.api.read().as_ref().and_then(Weak::upgrade)
    }

    /// Sends `env` to `node`'s link. False if the node is not a peer now.
    pub(crate) fn send(&self, node: &str, env: &Envelope) -> bool {
        let Some(link) = self.peers.get(node).map(|p| p.link.clone()) else {
            return false;
        };
        link.cast(ClusterMsg::Frame(wire::encode(env))).is_ok()
    }

    /// Asks the forwarder to send what is queued (the caller set
    /// `Outbound::scheduled`).
    pub(crate) fn wake_forwarder(&self) {
        match self.forwarder_ref.lock().as_ref() {
            Some(f) => {
                let _ = f.cast(forwarder::ForwarderMsg::Flush);
            }
            // No forwarder (restarting): the next one flushes when it starts.
            None => self.flow.outbound.lock().scheduled = false,
        }
    }

    /// A peer is gone (left its group, left the cluster, or went silent): its
    /// routes go with it.
    pub(crate) fn peer_down(&self, node: &str, why: &str) {
        if let Some((node, peer)) = self.peers.remove(node) {
            let routes = self.routes.remove_node(&node);
            self.locks.release_node(&node);
            // Its queued messages have no subscriber any more.
            let queued = self.flow.peer_gone(&node);
            if let Some(api) = self.api() {
                for _ in 0..queued {
                    api.metrics()
                        .message_dropped(&roost_core::hooks::DropReason::NoSubscribers);
                }
            }
            tracing::warn!(peer = %node, reason = why, routes, queued, "cluster_peer_down");
            self.gone.insert(node, (peer.address, Instant::now()));
        }
    }

    /// `ctl cluster join`: dial `address` from now on (like a seed).
    pub fn join_address(&self, address: String) {
        self.left.store(false, Ordering::SeqCst);
        let mut joined = self.joined.lock();
        if !joined.contains(&address) {
            joined.push(address);
        }
        self.targets_changed.store(true, Ordering::SeqCst);
    }

    /// `ctl cluster leave`: tell every peer, drop them, stop dialling.
    pub fn leave_cluster(&self) {
        self.left.store(true, Ordering::SeqCst);
        self.joined.lock().clear();
        let bye = Envelope::Leave {
            node: self.node.to_string(),
        };
        let peers: Vec<Arc<str>> = self.peers.iter().map(|p| p.key().clone()).collect();
        for p in &peers {
            self.send(p, &bye);
        }
        for p in &peers {
            self.peer_down(p, "left");
        }
        membership::disconnect_all(self);
    }
}

/// The name part of a node name `name@host`.
pub(crate) fn name_of(node: &str) -> &str {
    node.split_once('@').map_or(node, |(n, _)| n)
}

/// The host part of a node name `name@host`.
pub(crate) fn host_of(node: &str) -> &str {
    node.split_once('@').map_or(node, |(_, h)| h)
}

impl ClusterLink for Cluster {
    fn route_changed(&self, filter: &str, group: Option<&Arc<str>>, present: bool) {
        let route = (filter.to_string(), group.map(|g| g.to_string()));
        let first = {
            let mut d = self.deltas.lock();
            d.push((present, route));
            d.len() == 1
        };
        if first {
            if let Some(link) = self.link_ref.lock().as_ref() {
                let _ = link.cast(ClusterMsg::FlushRoutes(()));
            }
        }
    }

    fn remote_matches(&self, topic: &str, out: &mut RemoteMatches) {
        if !self.peers.is_empty() {
            self.routes.matches(topic, out);
        }
    }

    fn forward(
        &self,
        node: &Arc<str>,
        msg: &Arc<Message>,
        plain: bool,
        groups: Vec<Arc<SharedKey>>,
    ) -> Option<Arc<dyn roost_core::cluster::Hold>> {
        flow::enqueue(self, node, msg, plain, groups)
    }

    fn retained(&self, msg: &Arc<Message>) {
        let (stamp, node) = self.retained.local(&self.node, msg);
        let env = Envelope::Retained {
            node: self.node.to_string(),
            messages: vec![wire::VersionedRetained {
                message: wire::WireMessage::of(msg, std::time::Instant::now()),
                stamp,
                node: node.to_string(),
            }],
        };
        let frame = wire::encode(&env);
        for p in self.peers.iter() {
            let _ = p.link.cast(ClusterMsg::Frame(frame.clone()));
        }
    }

    fn status(&self) -> ClusterStatus {
        let mut members = vec![MemberStatus {
            node: self.node.to_string(),
            state: "self".into(),
            address: Some(self.address.clone()),
            last_heartbeat_ms_ago: None,
            routes: self.api().map_or(0, |a| a.local_routes().len()),
        }];
        let suspect_after = self.config.heartbeat_timeout / 2;
        for p in self.peers.iter() {
            let ago = p.last_seen.elapsed();
            members.push(MemberStatus {
                node: p.key().to_string(),
                state: if ago > suspect_after { "suspect" } else { "up" }.into(),
                address: p.address.clone(),
                last_heartbeat_ms_ago: Some(ago.as_millis() as u64),
                routes: self.routes.count(p.key()),
            });
        }
        for g in self.gone.iter() {
            if self.peers.contains_key(g.key()) {
                continue;
            }
            members.push(MemberStatus {
                node: g.key().to_string(),
                state: "down".into(),
                address: g.value().0.clone(),
                last_heartbeat_ms_ago: Some(g.value().1.elapsed().as_millis() as u64),
                routes: 0,
            });
        }
        members[1..].sort_by(|a, b| a.node.cmp(&b.node));
        ClusterStatus {
            enabled: true,
            node: self.node.to_string(),
            members,
        }
    }

    fn join(&self, address: String) {
        self.join_address(address);
    }

    fn leave(&self) {
        self.leave_cluster();
    }

    fn takeover(
        &self,
        client_id: Arc<str>,
        resume: bool,
    ) -> BoxFuture<'static, Option<SessionSnapshot>> {
        let links: Vec<(Arc<str>, ActorRef<ClusterMsg>)> = self
            .peers
            .iter()
            .map(|p| (p.key().clone(), p.link.clone()))
            .collect();
        Box::pin(link::takeover(links, client_id, resume, self.node.clone()))
    }

    fn relay(&self, node: &str, client_id: &str, deliveries: Vec<roost_core::Delivery>) {
        let n = deliveries.len();
        let sent = self.send(
            node,
            &Envelope::Relay {
                node: self.node.to_string(),
                client_id: client_id.to_string(),
                deliveries,
            },
        );
        if !sent {
            tracing::warn!(%client_id, peer = %node, lost = n, "takeover_relay_peer_gone");
            if let Some(api) = self.api() {
                for _ in 0..n {
                    api.metrics()
                        .message_dropped(&roost_core::hooks::DropReason::NoSession);
                }
            }
        }
    }

    fn relay_ready(&self, node: &str, client_id: &str) {
        self.send(
            node,
            &Envelope::RelayReady {
                node: self.node.to_string(),
                client_id: client_id.to_string(),
            },
        );
    }

    fn relay_end(&self, node: &str, client_id: &str) {
        self.send(
            node,
            &Envelope::RelayEnd {
                node: self.node.to_string(),
                client_id: client_id.to_string(),
            },
        );
    }

    fn takeover_linger(&self) -> Duration {
        self.config.takeover_linger
    }

    fn lock_client(&self, client_id: Arc<str>) -> BoxFuture<'static, Option<ClientLock>> {
        Box::pin(locker::lock_client(self.me.clone(), client_id))
    }

    fn replicate(&self, table: &str, version: u64, doc: Vec<u8>) {
        let frame = wire::encode(&Envelope::Table {
            node: self.node.to_string(),
            table: table.to_string(),
            version,
            doc,
        });
        for p in self.peers.iter() {
            let _ = p.link.cast(ClusterMsg::Frame(frame.clone()));
        }
    }

    fn register_table(&self, table: &str, sink: Arc<dyn TableSink>) {
        self.tables.insert(table.to_string(), sink);
    }
}

/// The `roost/cluster` supervisor and its four children.
fn supervisor_spec(c: Arc<Cluster>) -> ChildSpec {
    let intensity = c.intensity;
    let bind = c.bind;
    let node_server = ChildSpec::new("node_server", "node_server", Restart::Permanent, {
        let c = c.clone();
        move |sup: ActorCell| {
            let c = c.clone();
            async move {
                // The NodeServer's own listener goes on loopback at a port
                // the system picks; `cluster.bind` is the gate's (see
                // `gate`), and the port other nodes are told.
                let server = ractor_cluster::NodeServer::new(
                    0,
                    c.config.cookie.clone(),
                    // ractor_cluster names the node `name@host`: our node.name.
                    name_of(&c.node).to_string(),
                    host_of(&c.node).to_string(),
                    None,
                    Some(ractor_cluster::node::NodeConnectionMode::Transitive),
                )
                .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into())
                .with_max_inbound_frame_size(c.config.max_frame_size);
                let (r, _) =
                    Actor::spawn_linked(Some(NODE_SERVER_NAME.into()), server, (), sup).await?;
                // After the listener's own PortChanged (sent while the
                // NodeServer started): the connection string says bind's port.
                let _ =
                    r.cast(ractor_cluster::NodeServerMessage::PortChanged { port: bind.port() });
                let pending = Arc::new(gate::Pending::default());
                let guard = guard::HandshakeGuard::new(
                    c.config.handshake_timeout,
                    c.config.max_pending_handshakes,
                    pending.clone(),
                );
                let _ = r.cast(ractor_cluster::NodeServerMessage::SubscribeToEvents {
                    id: guard::SUBSCRIPTION_ID.into(),
                    subscription: Box::new(guard),
                });
                let args = gate::GateArgs {
                    bind,
                    node_server: r.clone(),
                    pending,
                    max_handshake_frame: c.config.max_handshake_frame_size,
                    max_frame: c.config.max_frame_size,
                    handshake_timeout: c.config.handshake_timeout,
                };
                if let Err(e) = Actor::spawn_linked(None, gate::Gate, args, r.get_cell()).await {
                    r.stop(Some("cluster_bind_failed".into()));
                    return Err(e);
                }
                *c.node_server.lock() = Some(r.clone());
                Ok(r.get_cell())
            }
        }
    });
    let link = ChildSpec::new("link", "cluster_link", Restart::Permanent, {
        let c = c.clone();
        move |sup: ActorCell| {
            let c = c.clone();
            async move {
                let name = link_name(&c.node);
                let (r, _) = Actor::spawn_linked(Some(name), Link, c, sup).await?;
                Ok(r.get_cell())
            }
        }
    });
    let forwarder = ChildSpec::new("forwarder", "cluster_forwarder", Restart::Permanent, {
        let c = c.clone();
        move |sup: ActorCell| {
            let c = c.clone();
            async move {
                let (r, _) =
                    Actor::spawn_linked(Some(FORWARDER_NAME.into()), forwarder::Forwarder, c, sup)
                        .await?;
                Ok(r.get_cell())
            }
        }
    });
    let membership = ChildSpec::new("membership", "cluster_membership", Restart::Permanent, {
        let c = c.clone();
        move |sup: ActorCell| {
            let c = c.clone();
            async move {
                let (r, _) = Actor::spawn_linked(
                    Some(MEMBERSHIP_NAME.into()),
                    membership::Membership,
                    c,
                    sup,
                )
                .await?;
                Ok(r.get_cell())
            }
        }
    });
    // rest_for_one: a new node server means new sessions to every peer, so the
    // actors after it start over with it; a crashed link or forwarder alone
    // restarts alone... and the membership after it.
    let children = vec![node_server, link, forwarder, membership];
    ChildSpec::supervisor("cluster", Restart::Permanent, move |sup: ActorCell| {
        let args = SupervisorArgs {
            strategy: Strategy::RestForOne,
            intensity,
            children: children.clone(),
        };
        async move {
            let (r, _) =
                Actor::spawn_linked(Some(SUPERVISOR_NAME.into()), Supervisor, args, sup).await?;
            Ok(r.get_cell())
        }
    })
}

/// How long to wait for each peer's answer to a takeover.
pub(crate) const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);
