//! `/api/v5/connectors`: the connection pools to external systems.

use super::{Bridges, ConnectorView};
use crate::api::{ApiError, Body, Failure, PathOf};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use roost_bridges::Kind;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const KIND: Kind = Kind::Connector;
const ID: &str = "The connector's id, <type>:<name> (http:my_webhook)";

pub(super) fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Bridges: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(enable))
}

/// Every connector, with its status.
#[utoipa::path(get, path = "/api/v5/connectors", tag = "Connectors",
    responses((status = 200, body = Vec<ConnectorView>)))]
pub async fn list(State(b): State<Bridges>) -> Json<Vec<Value>> {
    b.list(KIND)
}

/// Creates a connector from `{"type", "name", ...its type's fields}`.
#[utoipa::path(post, path = "/api/v5/connectors", tag = "Connectors",
    request_body(content = Object, description = "`type`, `name` and the type's fields"),
    responses(
        (status = 201, body = ConnectorView),
        (status = 400, description = "BAD_REQUEST (a wrong field), ALREADY_EXISTS", body = ApiError),
        (status = 503, description = "No data integration on this node", body = ApiError),
    ))]
pub async fn create(
    State(b): State<Bridges>,
    Body(conf): Body<Value>,
) -> Result<Response, Failure> {
    b.create(KIND, conf)
}

/// One connector.
#[utoipa::path(get, path = "/api/v5/connectors/{id}", tag = "Connectors",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = ConnectorView),
        (status = 400, description = "Not a <type>:<name> id", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn get(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Value>, Failure> {
    b.get(KIND, &id)
}

/// Replaces a connector's fields (the body has neither `type` nor `name`);
/// its actions and sources reconnect through the new one.
#[utoipa::path(put, path = "/api/v5/connectors/{id}", tag = "Connectors",
    params(("id" = String, Path, description = ID)),
    request_body(content = Object, description = "The type's fields"),
    responses(
        (status = 200, body = ConnectorView),
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

/// Deletes a connector; 400 DEPENDENCY_EXISTS while an action or a source
/// uses it.
#[utoipa::path(delete, path = "/api/v5/connectors/{id}", tag = "Connectors",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "DEPENDENCY_EXISTS, or a bad id", body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn delete(
    State(b): State<Bridges>,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    b.delete(KIND, &id)
}

/// Starts (`true`) or stops (`false`) a connector, and stores `enable`.
#[utoipa::path(put, path = "/api/v5/connectors/{id}/enable/{enable}", tag = "Connectors",
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
