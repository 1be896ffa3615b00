//! The link: this node's one remote-capable actor. It is in the cluster-wide
//! process group [`crate::GROUP`], so every node sees every other node's link
//! (as a remote actor) and talks to the node through it.

use crate::locker::{Asker, WAIT};
use crate::wire::{self, Envelope, LockReply, Request, TakeoverReply};
use crate::{link_name, Cluster, Peer, GROUP, TAKEOVER_TIMEOUT};
use ractor::pg::GroupChangeMessage;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_cluster::RactorClusterMessage;
use roost_core::session::SessionSnapshot;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The messages a link takes, from its own node or from other nodes' links.
#[derive(RactorClusterMessage)]
pub enum ClusterMsg {
    /// One postcard-encoded [`Envelope`].
    Frame(Vec<u8>),
    /// Local: route changes are waiting in [`Cluster::deltas`].
    FlushRoutes(()),
    /// One postcard-encoded [`Request`]; the reply is encoded too.
    #[rpc]
    Call(Vec<u8>, RpcReplyPort<Vec<u8>>),
}

/// The link actor.
pub struct Link;

impl Actor for Link {
    type Msg = ClusterMsg;
    type State = Arc<Cluster>;
    type Arguments = Arc<Cluster>;

    async fn pre_start(
        &self,
        myself: ActorRef<ClusterMsg>,
        cluster: Arc<Cluster>,
    ) -> Result<Arc<Cluster>, ActorProcessingErr> {
        *cluster.link_ref.lock() = Some(myself.clone());
        ractor::pg::monitor(GROUP.into(), myself.get_cell());
        ractor::pg::join(GROUP.into(), vec![myself.get_cell()]);
        // Links already known (a restarted link): greet them again.
        for cell in ractor::pg::get_members(&GROUP.to_string()) {
            peer_up(&cluster, cell);
        }
        Ok(cluster)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<ClusterMsg>,
        _cluster: &mut Arc<Cluster>,
    ) -> Result<(), ActorProcessingErr> {
        ractor::pg::demonitor(GROUP.into(), myself.get_id());
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<ClusterMsg>,
        msg: ClusterMsg,
        cluster: &mut Arc<Cluster>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ClusterMsg::Frame(bytes) => match wire::decode::<Envelope>(&bytes) {
                Ok(env) => on_frame(cluster, env).await,
                Err(e) => tracing::warn!(error = %e, "cluster_frame_undecodable"),
            },
            ClusterMsg::FlushRoutes(()) => flush_routes(cluster),
            ClusterMsg::Call(bytes, reply) => {
                let cluster = cluster.clone();
                // Answered off the link's mailbox: a takeover waits for a session.
                tokio::spawn(async move {
                    let answer = match wire::decode::<Request>(&bytes) {
                        Ok(Request::Takeover {
                            client_id,
                            resume,
                            node,
                        }) => wire::encode(
                            &hand_over(&cluster, client_id.into(), resume, node.into()).await,
                        ),
                        Ok(Request::Lock {
                            client_id,
                            node,
                            token,
                        }) => {
                            let asker = Asker {
                                node: node.into(),
                                token,
                            };
                            let granted =
                                cluster.locks.acquire(client_id.into(), asker, WAIT).await;
                            wire::encode(&LockReply { granted })
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cluster_request_undecodable");
                            wire::encode(&TakeoverReply {
                                found: false,
                                session: None,
                            })
                        }
                    };
                    let _ = reply.send(answer);
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<ClusterMsg>,
        evt: SupervisionEvent,
        cluster: &mut Arc<Cluster>,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ProcessGroupChanged(change) = evt {
            match change {
                GroupChangeMessage::Join(_, group, cells) if group == GROUP => {
                    for cell in cells {
                        peer_up(cluster, cell);
                    }
                }
                GroupChangeMessage::Leave(_, group, cells) if group == GROUP => {
                    for cell in cells {
                        let Some(node) = node_of(&cell) else { continue };
                        let same = cluster
                            .peers
                            .get(node.as_str())
                            .is_some_and(|p| p.link.get_id() == cell.get_id());
                        if same {
                            cluster.peer_down(&node, "link_gone");
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The node a link cell belongs to, from its name.
fn node_of(cell: &ActorCell) -> Option<String> {
    let name = cell.get_name()?;
    name.strip_prefix(&link_name("")).map(String::from)
}

/// Another node's link appeared: it is a peer now. It gets our hello, our
/// routes, our retained messages and our replicated tables (full resync on
/// every (re)connect).
fn peer_up(cluster: &Arc<Cluster>, cell: ActorCell) {
    if cell.get_id().is_local() {
        return;
    }
    let Some(node) = node_of(&cell) else { return };
    if cluster.left.load(Ordering::SeqCst) || *node == *cluster.node {
        return;
    }
    let node: Arc<str> = node.into();
    let link: ActorRef<ClusterMsg> = cell.into();
    let old = cluster.peers.insert(
        node.clone(),
        Peer {
            link,
            address: None,
            resolved: None,
            last_seen: Instant::now(),
        },
    );
    cluster.gone.remove(&node);
    cluster.flow.reset(&node);
    if old.is_none() {
        tracing::info!(peer = %node, "cluster_peer_up");
    }
    let Some(api) = cluster.api() else { return };
    let me = cluster.node.to_string();
    cluster.send(
        &node,
        &Envelope::Hello {
            node: me.clone(),
            address: cluster.address.clone(),
        },
    );
    let routes = api
        .local_routes()
        .into_iter()
        .map(|(f, g)| (f, g.map(|g| g.to_string())))
        .collect();
    cluster.send(
        &node,
        &Envelope::RoutesFull {
            node: me.clone(),
            routes,
        },
    );
    let retained = cluster
        .retained
        .resync(&api.retained_messages(), Instant::now());
    if !retained.is_empty() {
        cluster.send(
            &node,
            &Envelope::Retained {
                node: me.clone(),
                messages: retained,
            },
        );
    }
    cluster.send(
        &node,
        &Envelope::Connected {
            node: me.clone(),
            clients: crate::heal::connected(cluster),
        },
    );
    let tables: Vec<(String, Arc<dyn roost_core::cluster::TableSink>)> = cluster
        .tables
        .iter()
        .map(|t| (t.key().clone(), t.value().clone()))
        .collect();
    for (table, sink) in tables {
        if let Some((version, doc)) = sink.current() {
            cluster.send(
                &node,
                &Envelope::Table {
                    node: me.clone(),
                    table,
                    version,
                    doc,
                },
            );
        }
    }
}

async fn on_frame(cluster: &Arc<Cluster>, env: Envelope) {
    let from: &str = match &env {
        Envelope::Hello { node, .. }
        | Envelope::Heartbeat { node }
        | Envelope::RoutesFull { node, .. }
        | Envelope::RoutesDelta { node, .. }
        | Envelope::Forward { node, .. }
        | Envelope::Retained { node, .. }
        | Envelope::Leave { node }
        | Envelope::Table { node, .. }
        | Envelope::Credit { node, .. }
        | Envelope::Drained { node, .. }
        | Envelope::Unlock { node, .. }
        | Envelope::Relay { node, .. }
        | Envelope::RelayReady { node, .. }
        | Envelope::RelayEnd { node, .. }
        | Envelope::Connected { node, .. } => node,
    };
    if let Envelope::Unlock {
        node,
        client_id,
        token,
    } = &env
    {
        // Even from a node no longer a peer: its lock goes either way.
        let asker = Asker {
            node: node.as_str().into(),
            token: *token,
        };
        cluster.locks.release(client_id, &asker);
        return;
    }
    let Some(node) = cluster.peers.get_mut(from).map(|mut p| {
        p.last_seen = Instant::now();
        p.key().clone()
    }) else {
        // Not (or no longer) a peer: a frame from a node we declared down, or
        // one that arrived before its link's group join. Dropped; the next
        // (re)connect resyncs everything.
        return;
    };
    let Some(api) = cluster.api() else { return };
    match env {
        Envelope::Hello { address, .. } => {
            // The peer (re)discovered us: what it had not acknowledged may be
            // gone with its old state.
            cluster.flow.reset(&node);
            let resolved = tokio::net::lookup_host(address.as_str())
                .await
                .ok()
                .and_then(|mut a| a.next());
            if let Some(mut p) = cluster.peers.get_mut(&node) {
                p.address = Some(address);
                p.resolved = resolved;
            }
        }
        Envelope::Heartbeat { .. } => {}
        Envelope::RoutesFull { routes, .. } => cluster.routes.replace(&node, routes),
        Envelope::RoutesDelta { add, del, .. } => cluster.routes.apply(&node, add, del),
        Envelope::Forward { batch, .. } => {
            let now = Instant::now();
            let count = batch.len() as u32;
            let mut told = Vec::new();
            let mut congested = Vec::new();
            for f in batch {
                let msg = Arc::new(f.message.into_message(now));
                let groups: Vec<Arc<roost_core::SharedKey>> = f
                    .groups
                    .into_iter()
                    .map(|(group, filter)| {
                        Arc::new(roost_core::SharedKey {
                            group: group.into(),
                            filter: filter.into(),
                        })
                    })
                    .collect();
                api.deliver_forwarded(msg.clone(), f.plain, &groups, &mut congested);
                for hold in congested.drain(..) {
                    told.extend(cluster.flow.watch(cluster, &node, hold, &msg.from));
                }
            }
            // The batch is in the sessions' queues: its credit goes back, with
            // the sessions that turned congested.
            cluster.send(
                &node,
                &Envelope::Credit {
                    node: cluster.node.to_string(),
                    count,
                    congested: told,
                },
            );
        }
        Envelope::Credit {
            count, congested, ..
        } => {
            if cluster.flow.credit(&node, count as usize, congested) {
                cluster.wake_forwarder();
            }
        }
        Envelope::Drained { token, .. } => cluster.flow.drained(&node, token),
        Envelope::Retained { messages, .. } => {
            // Stored only where `mqtt.retain_available` (the API checks), and
            // only if newer than the version held here (a resync from a node
            // that missed a clear brings nothing back).
            let now = Instant::now();
            for m in messages {
                let msg = m.message.into_message(now);
                if cluster.retained.newer(&msg, (m.stamp, m.node.into())) {
                    api.retain_forwarded(Arc::new(msg));
                } else {
                    tracing::debug!(topic = %msg.topic, peer = %node, "retained_older_ignored");
                }
            }
        }
        Envelope::Leave { .. } => cluster.peer_down(&node, "left"),
        Envelope::Unlock { .. } => {}
        Envelope::Relay {
            client_id,
            deliveries,
            ..
        } => api.relayed(&client_id, &node, deliveries),
        Envelope::RelayReady { client_id, .. } => api.relay_ready(&client_id, &node),
        Envelope::RelayEnd { client_id, .. } => api.relay_end(&client_id, &node),
        Envelope::Connected { clients, .. } => crate::heal::resolve(cluster, &node, clients),
        Envelope::Table {
            table,
            version,
            doc,
            ..
        } => {
            let sink = cluster.tables.get(&table).map(|s| s.value().clone());
            match sink {
                Some(sink) => sink.apply(version, &doc),
                None => tracing::debug!(%table, peer = %node, "cluster_table_unknown"),
            }
        }
    }
}

/// Sends the waiting route changes to every peer, in order.
fn flush_routes(cluster: &Arc<Cluster>) {
    let changes = std::mem::take(&mut *cluster.deltas.lock());
    if changes.is_empty() || cluster.peers.is_empty() {
        return;
    }
    // Coalesce per route: only the last change of a route counts.
    let mut add = Vec::new();
    let mut del = Vec::new();
    let mut last: std::collections::HashMap<&crate::wire::WireRoute, bool> =
        std::collections::HashMap::new();
    for (added, route) in &changes {
        last.insert(route, *added);
    }
    for (route, added) in last {
        if added {
            add.push(route.clone());
        } else {
            del.push(route.clone());
        }
    }
    let frame = wire::encode(&Envelope::RoutesDelta {
        node: cluster.node.to_string(),
        add,
        del,
    });
    for p in cluster.peers.iter() {
        let _ = p.link.cast(ClusterMsg::Frame(frame.clone()));
    }
}

/// A peer asks for `client_id`: if its session lives here, close its
/// connection (0x8E) and end it, handing it over when `resume`. The broker
/// logs the outcome (`session_handed_over`, `session_hand_over_failed`).
async fn hand_over(
    cluster: &Arc<Cluster>,
    client_id: Arc<str>,
    resume: bool,
    to: Arc<str>,
) -> TakeoverReply {
    let handed = match cluster.api() {
        Some(api) => api.hand_over(client_id, resume, to).await,
        None => None,
    };
    match handed {
        Some(session) => TakeoverReply {
            found: true,
            session,
        },
        None => TakeoverReply {
            found: false,
            session: None,
        },
    }
}

/// Asks every peer for `client_id`'s session (see [`hand_over`]).
pub(crate) async fn takeover(
    links: Vec<(Arc<str>, ActorRef<ClusterMsg>)>,
    client_id: Arc<str>,
    resume: bool,
    me: Arc<str>,
) -> Option<SessionSnapshot> {
    if links.is_empty() {
        return None;
    }
    let request = wire::encode(&Request::Takeover {
        client_id: client_id.to_string(),
        resume,
        node: me.to_string(),
    });
    let mut calls = tokio::task::JoinSet::new();
    for (node, link) in links {
        let request = request.clone();
        calls.spawn(async move {
            let r = link
                .call(
                    |reply| ClusterMsg::Call(request, reply),
                    Some(TAKEOVER_TIMEOUT),
                )
                .await;
            (node, r)
        });
    }
    let mut session = None;
    while let Some(done) = calls.join_next().await {
        let Ok((node, r)) = done else { continue };
        match r {
            Ok(ractor::rpc::CallResult::Success(bytes)) => {
                if let Ok(reply) = wire::decode::<TakeoverReply>(&bytes) {
                    if reply.found {
                        tracing::info!(%client_id, from = %node, "session_taken_over_from_peer");
                        session = reply.session.map(|mut s| {
                            s.moved_from = Some(node.to_string());
                            s
                        });
                    }
                }
            }
            other => {
                tracing::warn!(%client_id, peer = %node, result = ?other.map(|_| ()), "takeover_no_answer")
            }
        }
    }
    session
}
