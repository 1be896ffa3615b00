//! Data integration, EMQX 5's model and names: a *connector* holds the
//! connection pool to an external system (`http`, `mqtt`, `kafka_producer`,
//! `pgsql`, `redis`); an *action* (sink) says what a rule's output becomes on
//! that system, through `${...}` templates; a *source* brings messages in,
//! which rules read as `FROM "$bridges/<type>:<name>"`.
//!
//! - [`driver`]: the traits each type implements ([`Driver`], [`Connector`],
//!   [`Sink`], [`Ingress`]), and the errors they return.
//! - [`manage`]: what the REST API, `roost ctl` and the dashboard see
//!   ([`BridgesManage`]).

pub mod driver;
pub mod fields;
pub mod http;
pub mod kafka;
pub mod manage;
pub mod mqtt;
pub mod registry;
pub mod resource;
pub mod ssl;

// --- issue 16: pgsql and redis ---
pub mod auth;
pub mod pgsql;
pub mod redis;
// --- end issue 16: pgsql and redis ---

pub use driver::{
    BoxFuture, ConfigError, Connector, ConnectorContext, Driver, Ingress, SendError, Sink,
    SourceHandle,
};
pub use manage::{BridgesManage, Kind, ManageError, Status};
pub use registry::{Bridges, BridgesContext, StartError};

use std::sync::Arc;

/// Every type this build has, one [`Driver`] each, registered by [`Driver::kind`].
pub fn drivers() -> Vec<Arc<dyn Driver>> {
    vec![
        Arc::new(http::HttpDriver),
        Arc::new(mqtt::MqttDriver),
        Arc::new(kafka::KafkaDriver),
        Arc::new(pgsql::PgsqlDriver),
        Arc::new(redis::RedisDriver),
    ]
}
