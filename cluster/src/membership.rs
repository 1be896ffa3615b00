//! Membership: finds the other nodes (static seeds, `ctl cluster join`, or DNS),
//! dials the ones not connected with exponential backoff, sends heartbeats, and
//! declares a peer down when it has been silent for `heartbeat_timeout`, which
//! also closes its transport so the next dial starts afresh. ractor_cluster
//! does none of this by itself: it neither reconnects nor notices a silent
//! partition.

use crate::link::ClusterMsg;
use crate::wire::Envelope;
use crate::Cluster;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::config::Discovery;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(200);
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long resolved seeds / DNS records are used before they are looked up
/// again (the dial check runs every TICK; the names change far less often).
const TARGETS_TTL: Duration = Duration::from_secs(1);
/// How often expired retained tombstones are dropped.
const GC_EVERY: Duration = Duration::from_secs(10);

/// Messages of the membership actor.
pub enum MembershipMsg {
    Tick,
    /// A dial of `addr` ended.
    Dialled {
        addr: SocketAddr,
        ok: bool,
    },
}

impl ractor::Message for MembershipMsg {}

/// The membership actor.
pub struct Membership;

pub struct State {
    cluster: Arc<Cluster>,
    /// Per target: when it may be dialled next, and the current backoff.
    backoff: HashMap<SocketAddr, (Instant, Duration)>,
    dialling: std::collections::HashSet<SocketAddr>,
    last_heartbeat: Instant,
    /// The resolved targets and when they were resolved.
    targets: Option<(Instant, Vec<SocketAddr>)>,
    /// This node's own cluster addresses (a node may list itself as a seed).
    own: Vec<SocketAddr>,
    /// When the retained versions were last collected.
    last_gc: Instant,
}

impl Actor for Membership {
    type Msg = MembershipMsg;
    type State = State;
    type Arguments = Arc<Cluster>;

    async fn pre_start(
        &self,
        myself: ActorRef<MembershipMsg>,
        cluster: Arc<Cluster>,
    ) -> Result<State, ActorProcessingErr> {
        let mut own: Vec<SocketAddr> = tokio::net::lookup_host(cluster.address.as_str())
            .await
            .map(|a| a.collect())
            .unwrap_or_default();
        if let Ok(bind) = cluster.config.bind.parse::<SocketAddr>() {
            own.push(bind);
        }
        myself.send_interval(TICK, || MembershipMsg::Tick);
        tracing::info!(node = %cluster.node, address = %cluster.address, "cluster_started");
        Ok(State {
            cluster,
            backoff: HashMap::new(),
            dialling: Default::default(),
            last_heartbeat: Instant::now(),
            targets: None,
            own,
            last_gc: Instant::now(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<MembershipMsg>,
        msg: MembershipMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MembershipMsg::Tick => {
                st.heartbeats();
                st.expire_silent().await;
                st.collect_retained_versions();
                if !st.cluster.deltas.lock().is_empty() {
                    if let Some(link) = st.cluster.link_ref.lock().as_ref() {
                        let _ = link.cast(ClusterMsg::FlushRoutes(()));
                    }
                }
                if st.cluster.left.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let changed = st.cluster.targets_changed.swap(false, Ordering::SeqCst);
                let fresh = !changed
                    && st
                        .targets
                        .as_ref()
                        .is_some_and(|(at, _)| at.elapsed() < TARGETS_TTL);
                if !fresh {
                    st.targets = Some((Instant::now(), st.targets().await));
                }
                let targets = st
                    .targets
                    .as_ref()
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default();
                st.dial(&myself, targets);
            }
            MembershipMsg::Dialled { addr, ok } => {
                st.dialling.remove(&addr);
                let entry = st
                    .backoff
                    .entry(addr)
                    .or_insert((Instant::now(), MIN_BACKOFF));
                if ok {
                    // Give the new session time to authenticate and say hello
                    // before this address counts as unconnected again.
                    *entry = (Instant::now() + Duration::from_secs(2), MIN_BACKOFF);
                } else {
                    let next =
                        (entry.1 * 2).min(st.cluster.config.reconnect_max_backoff.max(MIN_BACKOFF));
                    *entry = (Instant::now() + entry.1, next);
                }
            }
        }
        Ok(())
    }
}

impl State {
    /// Every [`GC_EVERY`], drops the expired retained tombstones.
    fn collect_retained_versions(&mut self) {
        if self.last_gc.elapsed() < GC_EVERY {
            return;
        }
        self.last_gc = Instant::now();
        let Some(api) = self.cluster.api() else {
            return;
        };
        let ttl = self.cluster.config.retained_tombstone_ttl;
        let gone = self
            .cluster
            .retained
            .gc(ttl, |topic| api.retained_message(topic).is_some());
        if gone > 0 {
            tracing::debug!(gone, "retained_versions_collected");
        }
    }

    fn heartbeats(&mut self) {
        if self.last_heartbeat.elapsed() < self.cluster.config.heartbeat_interval {
            return;
        }
        self.last_heartbeat = Instant::now();
        let beat = Envelope::Heartbeat {
            node: self.cluster.node.to_string(),
        };
        let frame = crate::wire::encode(&beat);
        for p in self.cluster.peers.iter() {
            let _ = p.link.cast(ClusterMsg::Frame(frame.clone()));
        }
    }

    /// Peers silent past the timeout are down: routes dropped, transport closed.
    async fn expire_silent(&mut self) {
        let timeout = self.cluster.config.heartbeat_timeout;
        let silent: Vec<Arc<str>> = self
            .cluster
            .peers
            .iter()
            .filter(|p| p.last_seen.elapsed() > timeout)
            .map(|p| p.key().clone())
            .collect();
        for node in silent {
            self.cluster.peer_down(&node, "heartbeat_timeout");
            close_sessions(&self.cluster, Some(&node)).await;
        }
    }

    /// The addresses to be connected to: seeds or DNS records, and joins.
    async fn targets(&self) -> Vec<SocketAddr> {
        let config = &self.cluster.config;
        let mut names: Vec<String> = match config.discovery {
            Discovery::Static => config.seeds.clone(),
            Discovery::Dns => vec![format!("{}:{}", config.dns.name, config.dns.port)],
        };
        names.extend(self.cluster.joined.lock().iter().cloned());
        let mut out = Vec::new();
        for name in names {
            if let Ok(addrs) = tokio::net::lookup_host(name.as_str()).await {
                for a in addrs {
                    if !self.own.contains(&a) && !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    fn dial(&mut self, myself: &ActorRef<MembershipMsg>, targets: Vec<SocketAddr>) {
        let connected: Vec<SocketAddr> = self
            .cluster
            .peers
            .iter()
            .filter_map(|p| p.resolved)
            .collect();
        let Some(server) = self.cluster.node_server.lock().clone() else {
            return;
        };
        let now = Instant::now();
        for addr in targets {
            if connected.contains(&addr) || self.dialling.contains(&addr) {
                continue;
            }
            if self.backoff.get(&addr).is_some_and(|(at, _)| *at > now) {
                continue;
            }
            self.dialling.insert(addr);
            let server = server.clone();
            let me = myself.clone();
            tokio::spawn(async move {
                let r = tokio::time::timeout(
                    DIAL_TIMEOUT,
                    ractor_cluster::client_connect(&server, addr),
                )
                .await;
                let ok = matches!(r, Ok(Ok(())));
                if !ok {
                    tracing::debug!(%addr, "cluster_dial_failed");
                }
                let _ = me.cast(MembershipMsg::Dialled { addr, ok });
            });
        }
    }
}

/// Closes the transport sessions to `node` (all of them if `None`).
pub(crate) async fn close_sessions(cluster: &Cluster, node: Option<&str>) {
    let Some(server) = cluster.node_server.lock().clone() else {
        return;
    };
    close_server_sessions(server, node).await;
}

async fn close_server_sessions(
    server: ActorRef<ractor_cluster::NodeServerMessage>,
    node: Option<&str>,
) {
    let Ok(sessions) =
        ractor::call_t!(server, ractor_cluster::NodeServerMessage::GetSessions, 2000)
    else {
        return;
    };
    for (_, s) in sessions {
        let name = s.peer_name.as_ref().map(|n| n.name.clone());
        if node.is_none() || name.as_deref() == node {
            s.actor.stop(Some("roost_cluster_close".into()));
        }
    }
}

/// `leave`: closes every transport session, in the background.
pub(crate) fn disconnect_all(cluster: &Cluster) {
    if let Some(server) = cluster.node_server.lock().clone() {
        tokio::spawn(async move { close_server_sessions(server, None).await });
    }
}
