//! What one type of external system implements. The delivery machinery
//! (buffers, batching, inflight window, retries, health checks, metrics:
//! EMQX's `resource_opts`) is the same for every type and lives above these
//! traits; a type only opens connections, checks them, and sends a batch.

use roost_rules::Map;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so the traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A configuration field that is wrong: the key (dotted path from the
/// connector's or action's object, `parameters.sql`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct ConfigError {
    pub field: String,
    pub why: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, why: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            why: why.into(),
        }
    }
}

/// Why a batch was not delivered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again (connection refused or lost, timeout, HTTP 5xx,
    /// Kafka leader not available): retried until `request_ttl`.
    #[error("{0}")]
    Retriable(String),
    /// Trying again would fail the same way (HTTP 4xx, an SQL error, a
    /// template that renders an invalid value): counted as `failed`.
    #[error("{0}")]
    Fatal(String),
    /// A batch whose outputs go one request each (`http`) went in part:
    /// the first `sent` outputs were answered, `failed` of them refused for
    /// good (counted `failed`, the others `success`), and the rest were not
    /// sent because of `why`, a retriable error: only they are sent again,
    /// so a retry never repeats a request that was answered. `sent` may be
    /// the whole batch, when only refusals happened (`why` is the last).
    #[error("{why}")]
    Partial {
        sent: usize,
        failed: usize,
        why: String,
    },
    /// A batch that went in several requests (`kafka_producer`, one per
    /// partition) went in part: the outputs at `unsent` (indices into the
    /// batch, ascending) were not taken because of `why`, a retriable
    /// error, and only they are sent again; the others were taken. So a
    /// retry does not write a partition's records twice (which a consumer
    /// would see as older records after newer ones).
    #[error("{why}")]
    Unsent { unsent: Vec<usize>, why: String },
}

/// What a connector is given besides its own fields.
#[derive(Debug, Clone)]
pub struct ConnectorContext {
    /// The connector's name (`my_pg`), for client ids and logs.
    pub name: String,
    /// The node's name (`roost@127.0.0.1`).
    pub node: String,
    /// `node.data_dir`, for anything a type keeps on disk.
    pub data_dir: PathBuf,
}

/// One type of external system, registered once under its EMQX type name.
pub trait Driver: Send + Sync + 'static {
    /// EMQX's type name: `http`, `mqtt`, `kafka_producer`, `pgsql`, `redis`.
    fn kind(&self) -> &'static str;

    /// Builds a connector from its fields (the connector's JSON object without
    /// `type`, `name`, `enable`, `description` and `resource_opts`). Bad fields
    /// are a [`ConfigError`] naming the field; a server that is down is not an
    /// error here: the connector starts, and its health check says
    /// `disconnected` until the server answers. Runs inside a tokio runtime.
    fn connector(
        &self,
        ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError>;
}

/// An open connector: a pool of connections to one external system.
pub trait Connector: Send + Sync + 'static {
    /// Whether the system answers (EMQX's `on_get_status`): `Ok` is
    /// `connected`, `Err(reason)` is `disconnected` with the reason shown.
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Compiles an action's `parameters` (templates parsed once, SQL
    /// prepared lazily) into something that sends batches on this connector.
    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError>;

    /// Starts a source (ingress) with its `parameters`; each message goes to
    /// `ingress`. Dropping the handle stops it. Types without sources keep
    /// this default.
    fn source(
        &self,
        parameters: &serde_json::Value,
        ingress: Arc<dyn Ingress>,
    ) -> Result<Box<dyn SourceHandle>, ConfigError> {
        let _ = (parameters, ingress);
        Err(ConfigError::new("type", "this type has no sources"))
    }

    /// Closes the pool (the connector was deleted or its config replaced).
    fn stop(&self) -> BoxFuture<'_, ()>;
}

/// An action's sending half, for one connector.
pub trait Sink: Send + Sync + 'static {
    /// Sends one batch of rule outputs (1 to `batch_size` of them, in order).
    /// `Ok` means the external system took every one.
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>>;

    /// For a type that keeps order (`kafka_producer` with `key_dispatch`):
    /// the output's ordering key, a hash of what must stay in order (the
    /// topic and the record's key). Outputs with the same key go to the
    /// same buffer worker, and that worker never has two requests holding
    /// one key in flight (or one waiting to be retried while a later one
    /// goes), whatever `inflight_window` is. `None`, the default: no order
    /// beyond one client's outputs going to one worker.
    fn order_key(&self, output: &Map) -> Option<u64> {
        let _ = output;
        None
    }
}

/// Where a source's messages go (the rule engine, as `$bridges/<type>:<name>`
/// events). Must not block.
pub trait Ingress: Send + Sync + 'static {
    /// One message, as EMQX's source columns: `topic`, `qos`, `retain`,
    /// `dup`, `payload`, `pub_props`, `server`, `message_received_at`.
    fn deliver(&self, message: Map);
}

/// A running source; dropping it stops the source.
pub trait SourceHandle: Send + 'static {}
