//! `GET /api/v5/listeners[/{id}]`: the MQTT listeners, EMQX 5's ids
//! (`tcp:default`) and the fields Roost knows (`emqx_mgmt_api_listeners`).

use crate::api::{ApiError, Failure, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::Json;
use roost_core::listing::ListenerInfo;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(listeners))
        .routes(routes!(listener))
}

/// One listener.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listener {
    /// `<type>:<name>`, e.g. `tcp:default`.
    pub id: String,
    /// `tcp`, `ssl`, `ws` or `wss` (EMQX calls TLS `ssl`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Roost has one listener of each type: `default`.
    pub name: String,
    /// `listeners.<type>.enabled`.
    pub enable: bool,
    /// Where it is bound (the configured address if it is not running).
    pub bind: String,
    pub running: bool,
    pub max_connections: usize,
    pub current_connections: usize,
    pub node: String,
}

fn view(node: &str, l: ListenerInfo) -> Listener {
    let kind = if l.name == "tls" { "ssl" } else { &l.name }.to_string();
    Listener {
        id: format!("{kind}:default"),
        kind,
        name: "default".into(),
        enable: l.enabled,
        bind: l.bind,
        running: l.running,
        max_connections: l.max_connections,
        current_connections: l.current_connections,
        node: node.to_string(),
    }
}

fn all(ctx: &Admin) -> Vec<Listener> {
    let node = ctx.api.node_name();
    ctx.api
        .listeners()
        .into_iter()
        .map(|l| view(node, l))
        .collect()
}

/// Every MQTT listener, enabled or not.
#[utoipa::path(get, path = "/api/v5/listeners", tag = "Listeners",
    responses((status = 200, body = Vec<Listener>)))]
pub async fn listeners(State(ctx): State<Arc<Admin>>) -> Json<Vec<Listener>> {
    Json(all(&ctx))
}

/// One listener by id (`tcp:default`, `ssl:default`, `ws:default`, `wss:default`).
#[utoipa::path(get, path = "/api/v5/listeners/{id}", tag = "Listeners",
    params(("id" = String, Path, description = "e.g. tcp:default")),
    responses(
        (status = 200, body = Listener),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn listener(
    State(ctx): State<Arc<Admin>>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Listener>, Failure> {
    all(&ctx)
        .into_iter()
        .find(|l| l.id == id)
        .map(Json)
        .ok_or_else(|| Failure::not_found("BAD_LISTENER_ID", format!("no listener {id}")))
}
