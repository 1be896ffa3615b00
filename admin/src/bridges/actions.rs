//! `/api/v5/actions`: what rules send through a connector (EMQX 5's sinks).

use super::{ActionView, Bridges, MetricsResp};
use crate::api::{ApiError, Body, Failure, PathOf};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use roost_bridges::Kind;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const KIND: Kind = Kind::Action;
const ID: &str = "The action's id, <type>:<name> (http:to_webhook)";

pub(super) fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Bridges: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(enable))
        .routes(routes!(metrics))
        .routes(routes!(reset_metrics))
}

/// Every action, with its status.
#[utoipa::path(get, path = "/api/v5/actions", tag = "Actions",
    responses((status = 200, body = Vec<ActionView>)))]
pub async fn list(State(b): State<Bridges>) -> Json<Vec<Value>> {
    b.list(KIND)
}

/// Creates an action from `{"type", "name", "connector", "parameters", "resource_opts"}`;
/// the connector must exist and be of the same type.
#[utoipa::path(post, path = "/api/v5/actions", tag = "Actions",
    request_body(content = Object, description = "`type`, `name` and the type's fields"),
    responses(
        (status = 201, body = ActionView),
        (status = 400, description = "BAD_REQUEST (a wrong field), ALREADY_EXISTS", body = ApiError),
        (status = 503, description = "No data integration on this node", body = ApiError),
    ))]
pub async fn create(
    State(b): State<Bridges>,
    Body(conf): Body<Value>,
) -> Result<Response, Failure> {
    b.create(KIND, conf)
}

/// One action.
#[utoipa::path(get, path = "/api/v5/actions/{id}", tag = "Actions",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = ActionView),
        (status = 400, description = "Not a <type>:<name> id", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn get(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Value>, Failure> {
    b.get(KIND, &id)
}

/// Replaces an action's fields (the body has neither `type` nor `name`);
/// its counters are kept.
#[utoipa::path(put, path = "/api/v5/actions/{id}", tag = "Actions",
    params(("id" = String, Path, description = ID)),
    request_body(content = Object, description = "The type's fields"),
    responses(
        (status = 200, body = ActionView),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn update(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
    Body(conf): Body<Value>,
) -> Result<Json<Value>, Failure> {
    b.update(KIND, &id, conf)
}

/// Deletes an action; 400 DEPENDENCY_EXISTS while a rule names it.
#[utoipa::path(delete, path = "/api/v5/actions/{id}", tag = "Actions",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "DEPENDENCY_EXISTS (a rule uses it), or a bad id", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn delete(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    b.delete(KIND, &id)
}

/// Starts (`true`) or stops (`false`) an action, and stores `enable`.
#[utoipa::path(put, path = "/api/v5/actions/{id}/enable/{enable}", tag = "Actions",
    params(("id" = String, Path, description = ID),
        ("enable" = bool, Path, description = "true or false")),
    responses(
        (status = 204, description = "Done"),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn enable(
    State(b): State<Bridges>,
    PathOf((id, on)): PathOf<(String, String)>,
) -> Result<StatusCode, Failure> {
    b.enable(KIND, &id, &on)
}

/// The action's counters, EMQX's names: `matched`, `success`, `failed`,
/// `dropped` (`.queue_full`, `.expired`, `.other`), `queuing`, `inflight`,
/// `retried`.
#[utoipa::path(get, path = "/api/v5/actions/{id}/metrics", tag = "Actions",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = MetricsResp),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn metrics(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Value>, Failure> {
    b.metrics(KIND, &id)
}

/// Zeroes the action's counters.
#[utoipa::path(put, path = "/api/v5/actions/{id}/metrics/reset", tag = "Actions",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Reset"),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn reset_metrics(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    b.reset_metrics(KIND, &id)
}
