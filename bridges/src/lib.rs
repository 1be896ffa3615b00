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
pub mod http;
pub mod manage;
pub mod registry;
pub mod resource;

pub use driver::{
    BoxFuture, ConfigError, Connector, ConnectorContext, Driver, Ingress, SendError, Sink,
    SourceHandle,
};
pub use manage::{BridgesManage, Kind, ManageError, Status};
pub use registry::{Bridges, BridgesContext, StartError};

/// Every type this build knows, one line per driver.
pub fn drivers() -> Vec<std::sync::Arc<dyn Driver>> {
    vec![
        // One line per type (issue 16's helpers add theirs below).
        std::sync::Arc::new(http::HttpDriver),
    ]
}
