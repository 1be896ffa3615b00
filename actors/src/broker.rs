//! The running broker: starts the root supervisor and its tree, and stops it.

use crate::config::Config;
use std::net::SocketAddr;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("listener {listener}: cannot bind {addr}: {source}")]
    Bind { listener: String, addr: String, source: std::io::Error },
    #[error("starting the actor tree failed: {0}")]
    Spawn(String),
}

/// A running broker. Dropping it does not stop it; call [`Broker::shutdown`].
pub struct Broker {
    listeners: Vec<(String, SocketAddr)>,
}

impl Broker {
    /// Starts every actor and listener. Each listener logs `listener_ready` with its
    /// name and bound address once it accepts connections.
    pub async fn start(config: Config) -> Result<Broker, BrokerError> {
        let _ = config;
        unimplemented!()
    }

    /// The bound address of each listener (useful with port 0).
    pub fn listener_addrs(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// Graceful stop: stops accepting, publishes the wills of connected clients as
    /// the spec requires, sends DISCONNECT 0x8B (Server shutting down) to 5.0
    /// clients, closes every connection, and stops the actor tree.
    pub async fn shutdown(self) {
        unimplemented!()
    }
}
