//! roost-actors: the Roost runtime, every part an actor.

pub mod broker;
pub mod config;

pub use broker::{Broker, BrokerError};
pub use config::Config;
