//! Listeners: for each enabled listener (`tcp`, `tls`, `ws`, `wss`), an acceptor
//! actor that accepts sockets, counts them against the listener's
//! `max_connections`, establishes their transport (PROXY header, TLS, WebSocket:
//! in a task per client, see [`crate::transport`]) and starts one connection
//! actor per client under the listener's connections supervisor.

use crate::connection::{ConnArgs, ConnContext, ConnHandle, ConnStart, NewConn, PeerCertIdentity};
use crate::transport::{Accepted, ConnSlot, ListenerTransport, Transport};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::client::PeerInfo;
use roost_supervisor::DynamicSupervisorMsg;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::task::{JoinHandle, JoinSet};

/// Accepts sockets of one listener.
#[derive(Clone, Copy)]
pub struct Acceptor;

/// Start-up arguments of an acceptor.
#[derive(Clone)]
pub struct AcceptorArgs {
    pub ctx: Arc<ConnContext>,
    /// Listener name, e.g. `tcp`.
    pub name: String,
    /// The socket bound by `Broker::start` (so a taken port fails start-up with a
    /// clear error); cloned on every (re)start of the acceptor.
    pub socket: Arc<std::net::TcpListener>,
    /// How this listener's clients are established (TLS, WebSocket, PROXY).
    pub transport: Arc<ListenerTransport>,
    /// This listener's live connections (handshaking ones included), checked
    /// against `max_connections` at accept; kept across acceptor restarts.
    pub live: Arc<AtomicUsize>,
    pub max_connections: usize,
    /// The ractor name of the dynamic supervisor of this listener's connections.
    pub connections: Arc<str>,
}

/// The ractor name of a listener's acceptor.
pub fn acceptor_name(listener: &str) -> String {
    format!("roost/listeners/{listener}/acceptor")
}

/// The ractor name of a listener's connections supervisor.
pub fn connections_name(listener: &str) -> String {
    format!("roost/listeners/{listener}/connections")
}

impl Actor for Acceptor {
    type Msg = ();
    type State = JoinHandle<()>;
    type Arguments = AcceptorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        args: AcceptorArgs,
    ) -> Result<JoinHandle<()>, ActorProcessingErr> {
        let std_listener = args.socket.try_clone()?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        tracing::info!(listener = %args.name, addr = %addr, "listener_ready");
        Ok(tokio::spawn(accept_loop(listener, args)))
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<()>,
        task: &mut JoinHandle<()>,
    ) -> Result<(), ActorProcessingErr> {
        task.abort();
        Ok(())
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, args: AcceptorArgs) {
    // Handshakes (PROXY header, TLS, WebSocket upgrade) run in their own tasks so
    // a slow client never stalls accepts; they end with the acceptor (the set
    // aborts them when dropped).
    let mut handshakes = JoinSet::new();
    let rates = args
        .ctx
        .config
        .listeners
        .all()
        .into_iter()
        .find(|l| l.name == args.name)
        .map(|l| l.rates);
    let client_rates = rates.as_ref().map(|r| r.client()).unwrap_or_default();
    // `max_conn_rate`: accepting pauses while the bucket is in debt.
    let mut conn_rate = rates
        .as_ref()
        .and_then(|r| crate::config::ListenerRates::per_second(&r.max_conn_rate))
        .map(crate::limiter::Bucket::new);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => continue,
        };
        let (stream, addr) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(listener = %args.name, error = %e, "accept_failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = ConnSlot::take(&args.live, args.max_connections) else {
            tracing::warn!(listener = %args.name, peer = %addr, "max_connections_reached");
            drop(stream);
            continue;
        };
        if let Some(bucket) = &mut conn_rate {
            let wait = bucket.take(1.0);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let _ = stream.set_nodelay(true);
        if args.transport.is_plain() {
            let peer = PeerInfo {
                listener: args.transport.name.clone(),
                addr,
                cert: None,
            };
            start_connection(&args, Transport::Tcp(stream), peer, slot, client_rates).await;
        } else {
            let args = args.clone();
            handshakes.spawn(async move {
                match args.transport.establish(stream, addr).await {
                    Ok((transport, peer)) => {
                        start_connection(&args, transport, peer, slot, client_rates).await
                    }
                    Err(e) => {
                        tracing::info!(listener = %args.name, peer = %addr, error = %e, "handshake_failed")
                    }
                }
            });
        }
    }
}

/// Starts the connection actor `conn:<peer address>` under the listener's
/// connections supervisor.
async fn start_connection(
    args: &AcceptorArgs,
    transport: Transport,
    peer: PeerInfo,
    slot: ConnSlot,
    rates: crate::limiter::ClientRates,
) {
    let Some(sup) = ractor::registry::where_is(&args.connections) else {
        tracing::error!(listener = %args.name, "connections_supervisor_missing");
        return;
    };
    let sup: ActorRef<DynamicSupervisorMsg> = sup.into();
    let handle = ConnHandle::new(
        args.ctx.next_conn_id.fetch_add(1, Ordering::Relaxed),
        args.connections.clone(),
        peer.addr,
        crate::connection::outbound::OutboundLimits::from_config(&args.ctx.config.force_shutdown),
    );
    let id = handle.child_id();
    let new = NewConn {
        ctx: args.ctx.clone(),
        accepted: Accepted { transport, slot },
        peer,
        peer_cert_as: PeerCertIdentity {
            username: args.transport.peer_cert_as_username,
            clientid: args.transport.peer_cert_as_clientid,
        },
        handle,
        rates,
    };
    let start = ConnArgs {
        start: Arc::new(parking_lot::Mutex::new(Some(ConnStart::New(Box::new(new))))),
    };
    if let Err(e) = crate::connection::start_actor(&sup, id.clone(), start).await {
        tracing::warn!(listener = %args.name, %id, error = %e, "connection_start_failed");
    }
}
