//! roost-actors: the Roost runtime. Every connection, session and topic shard is
//! a ractor actor under an OTP-style supervisor (see `broker.rs` for the tree and
//! `docs/architecture.md` for the path of one publish).

/// Message types need an explicit `ractor::Message` impl when ractor's `cluster`
/// feature is on (it removes the blanket impl); they stay local-only.
macro_rules! ractor_message {
    ($t:ty) => {
        #[cfg(feature = "cluster")]
        impl ractor::Message for $t {}
    };
}

pub mod api;
pub mod broker;
pub mod config;
pub mod connection;
pub mod context;
pub mod dropped;
pub mod durable;
pub mod gauges;
pub mod idle;
pub mod limiter;
pub mod listener;
pub mod listing;
pub mod protection;
pub mod registry;
pub mod retainer;
pub mod router;
pub mod session;
pub mod stats;
pub mod sys;
pub mod sysmon;
pub mod transport;
pub mod tree;

pub use broker::{Broker, BrokerError};
pub use config::BrokerConfig;
