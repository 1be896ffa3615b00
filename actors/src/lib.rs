//! roost-actors: the Roost runtime. Every connection, session and topic shard is
//! a ractor actor under an OTP-style supervisor (see `broker.rs` for the tree and
//! `docs/architecture.md` for the path of one publish).

pub mod access;
pub mod broker;
pub mod config;
pub mod connection;
pub mod context;
pub mod http;
pub mod listener;
pub mod message;
pub mod metrics;
pub mod registry;
pub mod retainer;
pub mod router;
pub mod session;
pub mod sys;
pub mod transport;
pub mod tree;

pub use broker::{Broker, BrokerError};
pub use config::Config;
