//! What the REST API, `roost ctl` and the dashboard see of data integration
//! (EMQX 5's shapes). Connectors, actions and sources are JSON objects with
//! `type`, `name`, `enable` and their type's fields; each is addressed as
//! `<type>:<name>` (EMQX's bridge id). Implemented by the registry that owns
//! them; admin/ talks only to this trait.

use serde::{Deserialize, Serialize};

/// Which of the three kinds of object a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Connector,
    Action,
    Source,
}

/// A connector's, action's or source's status (EMQX's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Connected,
    Connecting,
    Disconnected,
    /// `enable: false`.
    Stopped,
}

/// Why a management call failed; admin maps these to HTTP answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManageError {
    /// 400 BAD_REQUEST: a field is wrong (the message names it).
    #[error("{0}")]
    BadRequest(String),
    /// 404 NOT_FOUND.
    #[error("{0} not found")]
    NotFound(String),
    /// 400 ALREADY_EXISTS (POST of a name in use).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// 400 DEPENDENCY_EXISTS: a connector still used by an action or source,
    /// or an action still referenced by a rule.
    #[error("{0}")]
    InUse(String),
}

/// EMQX 5's management of connectors, actions and sources. `conf` objects
/// carry `type` and `name` on create; on update they are the new fields of
/// an existing `<type>:<name>`. Answers are the stored object plus `status`,
/// `status_reason` (when not connected) and, for actions and sources,
/// `connector`.
pub trait BridgesManage: Send + Sync + 'static {
    fn list(&self, kind: Kind) -> Vec<serde_json::Value>;
    fn get(&self, kind: Kind, id: &str) -> Result<serde_json::Value, ManageError>;
    fn create(&self, kind: Kind, conf: serde_json::Value)
        -> Result<serde_json::Value, ManageError>;
    fn update(
        &self,
        kind: Kind,
        id: &str,
        conf: serde_json::Value,
    ) -> Result<serde_json::Value, ManageError>;
    fn delete(&self, kind: Kind, id: &str) -> Result<(), ManageError>;
    /// `/enable/{true|false}`.
    fn enable(&self, kind: Kind, id: &str, enable: bool) -> Result<(), ManageError>;
    /// EMQX's metrics object of an action or source: `{"metrics": {matched,
    /// success, failed, dropped, dropped.queue_full, dropped.expired,
    /// dropped.other, queuing, inflight, retried, rate...}, "node_metrics":
    /// [...]}`.
    fn metrics(&self, kind: Kind, id: &str) -> Result<serde_json::Value, ManageError>;
    fn reset_metrics(&self, kind: Kind, id: &str) -> Result<(), ManageError>;
}
