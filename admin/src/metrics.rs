//! `GET /api/v5/metrics` and `GET /api/v5/stats`, in EMQX's shapes: by
//! default a list with one object per node (`{"node": ..., "messages.received":
//! ...}`), with `aggregate=true` one object summed over the nodes. Only this
//! node answers today: the other cluster members' figures are theirs to
//! report (EMQX asks each node by RPC).

use crate::api::Params;
use crate::api::{ApiError, Failure};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// The routes of this module.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(stats))
}

/// Query of `GET /api/v5/metrics`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Sum over every node into one object (default: one object per node).
    pub aggregate: Option<bool>,
    /// Only this node's.
    pub node: Option<String>,
}

/// Query of `GET /api/v5/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Sum over every node into one object (default: one object per node).
    pub aggregate: Option<bool>,
}

/// One node's figures as EMQX lists them, with `"node"` first unless aggregated.
fn shaped(node: &str, entries: Vec<(&'static str, u64)>, aggregate: bool) -> Value {
    let mut obj = Map::new();
    if !aggregate {
        obj.insert("node".into(), Value::from(node));
    }
    for (name, value) in entries {
        obj.insert(name.into(), Value::from(value));
    }
    match aggregate {
        true => Value::Object(obj),
        false => Value::Array(vec![Value::Object(obj)]),
    }
}

/// `GET /api/v5/metrics`: every counter by its EMQX name.
#[utoipa::path(get, path = "/api/v5/metrics", tag = "Metrics", params(MetricsQuery),
    responses(
        (status = 200, description = "`[{\"node\": ..., \"bytes.received\": N, ...}]`, \
            or one object without `node` with `aggregate=true`", body = serde_json::Value),
        (status = 400, description = "a bad parameter", body = ApiError),
        (status = 404, description = "no such node", body = ApiError)))]
pub async fn metrics(
    State(ctx): Ctx,
    Params(q): Params<MetricsQuery>,
) -> Result<Json<Value>, Failure> {
    let node = ctx.api.node_name();
    if q.node.as_deref().is_some_and(|n| n != node) {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            ApiError::new("NOT_FOUND", "node not found or not answering"),
        ));
    }
    let aggregate = q.aggregate.unwrap_or(false) && q.node.is_none();
    Ok(Json(shaped(node, ctx.api.metrics().snapshot(), aggregate)))
}

/// `GET /api/v5/stats`: the gauges (`connections.count`, `connections.max`...).
#[utoipa::path(get, path = "/api/v5/stats", tag = "Metrics", params(StatsQuery),
    responses((status = 200, description = "`[{\"node\": ..., \"connections.count\": N, ...}]`, \
        or one object without `node` with `aggregate=true`", body = serde_json::Value),
        (status = 400, description = "a bad parameter", body = ApiError)))]
pub async fn stats(State(ctx): Ctx, Params(q): Params<StatsQuery>) -> Json<Value> {
    let stats = ctx.api.stats().await;
    Json(shaped(
        ctx.api.node_name(),
        stats.entries(),
        q.aggregate.unwrap_or(false),
    ))
}
