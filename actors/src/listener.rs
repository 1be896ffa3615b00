//! Listeners: for each configured transport, an acceptor actor that accepts
//! sockets and starts one connection actor per client under the listener's
//! connections supervisor.

use crate::connection::{ConnArgs, Connection, PeerInfo};
use crate::context::BrokerContext;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_supervisor::{ChildSpec, DynamicSupervisor, DynamicSupervisorMsg, Restart};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Accepts sockets of one listener.
#[derive(Clone, Copy)]
pub struct Acceptor;

/// Start-up arguments of an acceptor.
#[derive(Clone)]
pub struct AcceptorArgs {
    pub ctx: Arc<BrokerContext>,
    /// Listener name, e.g. `tcp`.
    pub name: String,
    /// The socket bound by `Broker::start` (so a taken port fails start-up with a
    /// clear error); cloned on every (re)start of the acceptor.
    pub socket: Arc<std::net::TcpListener>,
    pub max_connections: usize,
    /// The ractor name of the dynamic supervisor of this listener's connections.
    pub connections: String,
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
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(listener = %args.name, error = %e, "accept_failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if args.ctx.connections.load(Ordering::Relaxed) >= args.max_connections {
            tracing::warn!(listener = %args.name, %peer, "max_connections_reached");
            drop(stream);
            continue;
        }
        let Some(sup) = ractor::registry::where_is(args.connections.clone()) else {
            tracing::error!(listener = %args.name, "connections_supervisor_missing");
            continue;
        };
        let sup: ActorRef<DynamicSupervisorMsg> = sup.into();
        let conn_args = ConnArgs {
            ctx: args.ctx.clone(),
            stream: Arc::new(parking_lot::Mutex::new(Some(stream))),
            peer: PeerInfo::tcp(&args.name, peer),
        };
        let spec = ChildSpec::new(
            format!("conn:{peer}"),
            "connection",
            Restart::Temporary,
            move |sup| {
                let a = conn_args.clone();
                async move {
                    Actor::spawn_linked(None, Connection, a, sup)
                        .await
                        .map(|(r, _)| r.get_cell())
                }
            },
        );
        if let Err(e) = DynamicSupervisor::start_child(&sup, spec).await {
            tracing::warn!(listener = %args.name, %peer, error = %e, "connection_start_failed");
        }
    }
}
