//! Data integration's REST API, EMQX 5's paths, codes and shapes
//! (`emqx_connector_api`, `emqx_bridge_v2_api`):
//!
//! - `GET` (a JSON array, unpaged, as EMQX) and `POST` (201)
//!   `/api/v5/{connectors,actions,sources}`;
//! - `GET`, `PUT` and `DELETE` (204) `/api/v5/{kind}/{type}:{name}`;
//! - `PUT /api/v5/{kind}/{id}/enable/{true|false}` (204);
//! - `GET /api/v5/{actions,sources}/{id}/metrics` and
//!   `PUT .../metrics/reset` (204).
//!
//! Errors: 400 `BAD_REQUEST` (a wrong field or id), `ALREADY_EXISTS` (a name
//! in use) and `DEPENDENCY_EXISTS` (a connector still used, an action still
//! referenced by a rule); 404 `NOT_FOUND`. The objects themselves live in the
//! registry behind [`BridgesManage`]; this module only speaks HTTP for it and
//! checks what it can without it (the id's form, the body's `type` and
//! `name`). A broker built without the registry answers the reads as if
//! nothing were configured and `POST` with 503 `SERVICE_UNAVAILABLE`.
//!
//! The handlers take the [`Bridges`] state (reached from the `Admin` by
//! `FromRef`), so that the tests run the routes over a test registry alone.

mod kinds;
#[cfg(test)]
mod tests;

use crate::api::{ApiError, Failure};
use crate::Admin;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_bridges::{BridgesManage, Kind, ManageError};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The ids of the rules that name an action (`"type:name"`) among their
/// actions.
pub(crate) type RulesUsing = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// What the handlers reach: the registry, if the broker runs one, and which
/// rules use an action (the registry does not know the rules; EMQX refuses
/// to delete an action a rule still names).
#[derive(Clone)]
pub(crate) struct Bridges {
    pub manage: Option<Arc<dyn BridgesManage>>,
    pub rules_using: RulesUsing,
}

impl FromRef<Arc<Admin>> for Bridges {
    fn from_ref(admin: &Arc<Admin>) -> Bridges {
        let rules = admin.rules.clone();
        Bridges {
            manage: admin.bridges.clone(),
            rules_using: Arc::new(move |id| {
                rules
                    .list()
                    .into_iter()
                    .filter(|r| {
                        r.actions
                            .iter()
                            .any(|a| matches!(a, roost_rules::ActionSpec::Reference(x) if x == id))
                    })
                    .map(|r| r.id)
                    .collect()
            }),
        }
    }
}

/// The routes of the three kinds, on any state the [`Bridges`] come from.
pub(crate) fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Bridges: FromRef<S>,
{
    kinds::connectors::routes()
        .merge(kinds::actions::routes())
        .merge(kinds::sources::routes())
}

// ---- shapes (for the OpenAPI document; the handlers pass JSON through) ----

/// A connector, as EMQX answers it: its type's fields (`url`, `server`,
/// `bootstrap_hosts`, `pool_size`...) beside these.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "http", "name": "my_webhook", "enable": true,
    "url": "http://127.0.0.1:8080", "pool_size": 8, "connect_timeout": "15s",
    "headers": {"content-type": "application/json"},
    "status": "connected"}))]
pub struct ConnectorView {
    /// `http`, `mqtt`, `kafka_producer`, `pgsql` or `redis`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub enable: bool,
    /// `connected`, `connecting`, `disconnected`, or `stopped` (`enable: false`).
    pub status: String,
    /// The last error, when the status is not `connected`.
    pub status_reason: Option<String>,
}

/// An action (a sink), as EMQX answers it; rules name it `"type:name"`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "http", "name": "to_webhook", "enable": true,
    "connector": "my_webhook",
    "parameters": {"method": "post", "path": "/ingest", "body": "${.}"},
    "resource_opts": {"batch_size": 1, "request_ttl": "45s"},
    "status": "connected"}))]
pub struct ActionView {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub enable: bool,
    /// The name of a connector of the same type.
    pub connector: String,
    /// The type's fields: `method`/`path`/`body`, `topic`/`qos`/`payload`,
    /// `sql`, `command_template`...
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// Delivery: `batch_size`, `batch_time`, `inflight_window`,
    /// `max_buffer_bytes`, `request_ttl`, `health_check_interval`...
    #[schema(value_type = Object)]
    pub resource_opts: Value,
    /// `connected`, `connecting`, `disconnected`, or `stopped` (`enable: false`).
    pub status: String,
    pub status_reason: Option<String>,
}

/// A source, as EMQX answers it; rules read it as
/// `FROM "$bridges/<type>:<name>"`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "mqtt", "name": "from_remote", "enable": true,
    "connector": "remote_broker", "parameters": {"topic": "remote/#", "qos": 1},
    "status": "connected"}))]
pub struct SourceView {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub enable: bool,
    pub connector: String,
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// `connected`, `connecting`, `disconnected`, or `stopped` (`enable: false`).
    pub status: String,
    pub status_reason: Option<String>,
}

/// `GET /api/v5/actions/{id}/metrics`: the cluster's counters and each
/// node's, EMQX's names.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"metrics": {"matched": 10, "success": 9, "failed": 1,
    "dropped": 0, "dropped.queue_full": 0, "dropped.expired": 0, "dropped.other": 0,
    "dropped.resource_stopped": 0, "queuing": 0, "inflight": 0, "retried": 2, "rate": 0.5},
    "node_metrics": [{"node": "roost@127.0.0.1", "metrics": {"matched": 10}}]}))]
pub struct MetricsResp {
    /// `matched`, `success`, `failed`, `dropped`, `dropped.queue_full`,
    /// `dropped.expired`, `dropped.other`, `dropped.resource_stopped`,
    /// `queuing`, `inflight`, `retried`,
    /// `rate`...
    #[schema(value_type = Object)]
    pub metrics: Value,
    #[schema(value_type = Vec<Object>)]
    pub node_metrics: Vec<Value>,
}

// ---- errors ---------------------------------------------------------------

impl From<ManageError> for Failure {
    fn from(e: ManageError) -> Failure {
        let (status, code) = match &e {
            ManageError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ManageError::AlreadyExists(_) => (StatusCode::BAD_REQUEST, "ALREADY_EXISTS"),
            ManageError::InUse(_) => (StatusCode::BAD_REQUEST, "DEPENDENCY_EXISTS"),
            ManageError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        };
        Failure(status, ApiError::new(code, e.to_string()))
    }
}

/// The word EMQX's messages use for each kind.
fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Connector => "connector",
        Kind::Action => "action",
        Kind::Source => "source",
    }
}

fn not_found(kind: Kind, id: &str) -> Failure {
    ManageError::NotFound(format!("{} {id}", noun(kind))).into()
}

/// An id of the form `<type>:<name>`, both parts non-empty; anything else
/// answers 400 as EMQX's "invalid id" does, before the registry is asked.
fn check_id(kind: Kind, id: &str) -> Result<(), Failure> {
    match id.split_once(':') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() && !n.contains(':') => Ok(()),
        _ => Err(Failure::bad_request(format!(
            "invalid {} id {id:?}: expected <type>:<name>",
            noun(kind)
        ))),
    }
}

// ---- what every kind's handlers do ------------------------------------------

impl Bridges {
    /// The registry, or 503 for a call that would change something.
    fn write(&self) -> Result<&dyn BridgesManage, Failure> {
        self.manage.as_deref().ok_or_else(|| {
            Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                ApiError::new(
                    "SERVICE_UNAVAILABLE",
                    "data integration is not running on this node",
                ),
            )
        })
    }

    /// The registry, for a call about one existing object: without one,
    /// nothing exists (404).
    fn one(&self, kind: Kind, id: &str) -> Result<&dyn BridgesManage, Failure> {
        check_id(kind, id)?;
        self.manage.as_deref().ok_or_else(|| not_found(kind, id))
    }

    fn list(&self, kind: Kind) -> Json<Vec<Value>> {
        Json(
            self.manage
                .as_ref()
                .map(|m| m.list(kind))
                .unwrap_or_default(),
        )
    }

    /// `POST`: the body must be an object with string `type` and `name`.
    fn create(&self, kind: Kind, conf: Value) -> Result<Response, Failure> {
        let manage = self.write()?;
        let Some(obj) = conf.as_object() else {
            return Err(Failure::bad_request("the body must be a JSON object"));
        };
        for field in ["type", "name"] {
            let named = obj
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !named {
                return Err(Failure::bad_request(format!(
                    "a {} needs a string `{field}`",
                    noun(kind)
                )));
            }
        }
        let created = manage.create(kind, conf)?;
        tracing::info!(kind = noun(kind), id = %id_of(&created), "bridge_created");
        Ok((StatusCode::CREATED, Json(created)).into_response())
    }

    fn get(&self, kind: Kind, id: &str) -> Result<Json<Value>, Failure> {
        Ok(Json(self.one(kind, id)?.get(kind, id)?))
    }

    /// `PUT`: the body is the new fields; a `type` or `name` in it must be
    /// the path's (EMQX's body has neither), and is taken out.
    fn update(&self, kind: Kind, id: &str, conf: Value) -> Result<Json<Value>, Failure> {
        let manage = self.one(kind, id)?;
        let Value::Object(mut obj) = conf else {
            return Err(Failure::bad_request("the body must be a JSON object"));
        };
        let (t, n) = id.split_once(':').unwrap_or_default();
        for (field, want) in [("type", t), ("name", n)] {
            match obj.remove(field) {
                Some(Value::String(s)) if s == want => {}
                None => {}
                Some(other) => {
                    return Err(Failure::bad_request(format!(
                        "`{field}` is {other}, but the path says {want:?}: \
                         a {} cannot be renamed",
                        noun(kind)
                    )))
                }
            }
        }
        let updated = manage.update(kind, id, Value::Object(obj))?;
        tracing::info!(kind = noun(kind), id, "bridge_updated");
        Ok(Json(updated))
    }

    /// An action a rule still names is refused (400 DEPENDENCY_EXISTS) with
    /// the rules' ids: deleting it would leave the rules failing.
    fn delete(&self, kind: Kind, id: &str) -> Result<StatusCode, Failure> {
        let manage = self.one(kind, id)?;
        if kind == Kind::Action {
            manage.get(kind, id)?;
            let rules = (self.rules_using)(id);
            if !rules.is_empty() {
                return Err(ManageError::InUse(format!(
                    "action {id} is used by rule(s) {}: remove it from them first",
                    rules.join(", ")
                ))
                .into());
            }
        }
        manage.delete(kind, id)?;
        tracing::info!(kind = noun(kind), id, "bridge_deleted");
        Ok(StatusCode::NO_CONTENT)
    }

    /// `/enable/{true|false}`: anything else in the path is 400.
    fn enable(&self, kind: Kind, id: &str, enable: &str) -> Result<StatusCode, Failure> {
        let manage = self.one(kind, id)?;
        let on = match enable {
            "true" => true,
            "false" => false,
            _ => {
                return Err(Failure::bad_request(format!(
                    "enable must be true or false, not {enable:?}"
                )))
            }
        };
        manage.enable(kind, id, on)?;
        tracing::info!(kind = noun(kind), id, enable = on, "bridge_enable_set");
        Ok(StatusCode::NO_CONTENT)
    }

    fn metrics(&self, kind: Kind, id: &str) -> Result<Json<Value>, Failure> {
        Ok(Json(self.one(kind, id)?.metrics(kind, id)?))
    }

    fn reset_metrics(&self, kind: Kind, id: &str) -> Result<StatusCode, Failure> {
        self.one(kind, id)?.reset_metrics(kind, id)?;
        Ok(StatusCode::NO_CONTENT)
    }
}

/// `<type>:<name>` of an object the registry answered, for the logs.
fn id_of(obj: &Value) -> String {
    let field = |f: &str| obj.get(f).and_then(Value::as_str).unwrap_or("?").to_owned();
    format!("{}:{}", field("type"), field("name"))
}
