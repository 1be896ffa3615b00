//! `/api/v5/sources`: messages brought in from an external system, which
//! rules read as `FROM "$bridges/<type>:<name>"`.

use super::{Bridges, MetricsResp, SourceView};
use crate::api::{ApiError, Body, Failure, PathOf};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use roost_bridges::Kind;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const KIND: Kind = Kind::Source;
const ID: &str = "The source's id, <type>:<name> (mqtt:from_remote)";

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

/// Every source, with its status.
#[utoipa::path(get, path = "/api/v5/sources", tag = "Sources",
    responses((status = 200, body = Vec<SourceView>)))]
pub async fn list(State(b): State<Bridges>) -> Json<Vec<Value>> {
    b.list(KIND)
}

/// Creates a source from `{"type", "name", "connector", "parameters", "resource_opts"}`;
/// the connector must exist and be of the same type.
#[utoipa::path(post, path = "/api/v5/sources", tag = "Sources",
    request_body(content = Object, description = "`type`, `name` and the type's fields"),
    responses(
        (status = 201, body = SourceView),
        (status = 400, description = "BAD_REQUEST (a wrong field), ALREADY_EXISTS", body = ApiError),
        (status = 503, description = "No data integration on this node", body = ApiError),
    ))]
pub async fn create(
    State(b): State<Bridges>,
    Body(conf): Body<Value>,
) -> Result<Response, Failure> {
    b.create(KIND, conf)
}

/// One source.
#[utoipa::path(get, path = "/api/v5/sources/{id}", tag = "Sources",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = SourceView),
        (status = 400, description = "Not a <type>:<name> id", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn get(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Value>, Failure> {
    b.get(KIND, &id)
}

/// Replaces a source's fields (the body has neither `type` nor `name`);
/// it resubscribes with them.
#[utoipa::path(put, path = "/api/v5/sources/{id}", tag = "Sources",
    params(("id" = String, Path, description = ID)),
    request_body(content = Object, description = "The type's fields"),
    responses(
        (status = 200, body = SourceView),
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

/// Deletes a source: it unsubscribes, and the rules that read it get no more.
#[utoipa::path(delete, path = "/api/v5/sources/{id}", tag = "Sources",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A bad id, or DEPENDENCY_EXISTS", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn delete(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    b.delete(KIND, &id)
}

/// Starts (`true`) or stops (`false`) a source, and stores `enable`.
#[utoipa::path(put, path = "/api/v5/sources/{id}/enable/{enable}", tag = "Sources",
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

/// The source's counters, EMQX's names: `matched`, `success`, `failed`,
/// `dropped` (`.queue_full`, `.expired`, `.other`), `queuing`, `inflight`,
/// `retried`.
#[utoipa::path(get, path = "/api/v5/sources/{id}/metrics", tag = "Sources",
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

/// Zeroes the source's counters.
#[utoipa::path(put, path = "/api/v5/sources/{id}/metrics/reset", tag = "Sources",
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
