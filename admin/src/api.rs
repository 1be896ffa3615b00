//! The handlers of `/api/v5/...` and of the actor-tree page. Errors are JSON
//! `{"code": "...", "message": "..."}` like EMQX's API.

use crate::Admin;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use roost_core::api::{ActorNode, TreeError};
use roost_core::cluster::{ClusterLink, ClusterStatus};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;

type Ctx = State<Arc<Admin>>;

/// The ractor name of the root supervisor, where every tree query starts.
const ROOT_NAME: &str = "roost";

/// The body of every error answer.
#[derive(Debug, Serialize)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// An error answer: status and body.
pub struct Failure(pub StatusCode, pub ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<TreeError> for Failure {
    fn from(e: TreeError) -> Failure {
        match e {
            TreeError::NotFound(_) => Failure(
                StatusCode::NOT_FOUND,
                ApiError::new("NOT_FOUND", e.to_string()),
            ),
            TreeError::Unreachable(_) => Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                ApiError::new("SERVICE_UNAVAILABLE", e.to_string()),
            ),
        }
    }
}

/// Any other path.
pub async fn not_found() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        ApiError::new("NOT_FOUND", "no such page or API endpoint"),
    )
}

/// `GET /`: the page.
pub async fn index() -> Redirect {
    Redirect::to("/actors")
}

/// `GET /actors`: the live actor-tree page (self-contained HTML, inline JS/CSS).
pub async fn page() -> Html<&'static str> {
    Html(include_str!("actors.html"))
}

/// Query of `GET /api/v5/actors`.
#[derive(Debug, Deserialize)]
pub struct TreeQuery {
    /// Only the actors whose path starts with this (and their ancestors).
    pub prefix: Option<String>,
    /// Levels below the root to list (`child_count` is still given at the cut).
    pub depth: Option<usize>,
}

/// `GET /api/v5/actors[?prefix=...][&depth=N]`: the actor tree.
pub async fn actors(
    State(ctx): Ctx,
    Query(q): Query<TreeQuery>,
) -> Result<Json<ActorNode>, Failure> {
    let node = ctx.api.actor_tree(q.prefix, q.depth).await?;
    Ok(Json(node))
}

/// Body of `POST /api/v5/actors/kill`.
#[derive(Debug, Deserialize)]
pub struct KillRequest {
    pub path: String,
}

/// Answer of a successful kill.
#[derive(Debug, Serialize)]
pub struct Killed {
    pub killed: String,
}

/// `POST /api/v5/actors/kill {"path": "..."}`: kills the actor as a crash would,
/// so its supervisor's restart policy applies. Only with `chaos.enabled`.
pub async fn kill(State(ctx): Ctx, Json(req): Json<KillRequest>) -> Result<Json<Killed>, Failure> {
    if !ctx.chaos.enabled {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            ApiError::new(
                "CHAOS_DISABLED",
                "killing actors is disabled; set chaos.enabled: true (ROOST__CHAOS__ENABLED=true)",
            ),
        ));
    }
    let path = req.path.trim_end_matches('/');
    if path == ROOT_NAME {
        // Nothing supervises the root: killing it would leave a process without a broker.
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("BAD_REQUEST", "the root supervisor cannot be killed"),
        ));
    }
    ctx.api.kill_actor(path.to_string()).await?;
    Ok(Json(Killed {
        killed: path.to_string(),
    }))
}

/// One entry of `GET /api/v5/nodes`.
#[derive(Debug, Serialize)]
pub struct Node {
    pub node: String,
    pub node_status: &'static str,
    /// Seconds since the broker started (this node only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
}

/// `GET /api/v5/nodes`: this node first, then the other cluster members.
pub async fn nodes(State(ctx): Ctx) -> Json<Vec<Node>> {
    let uptime = SystemTime::now()
        .duration_since(ctx.api.started_at())
        .map_or(0, |d| d.as_secs());
    let mut nodes = vec![Node {
        node: ctx.api.node_name().to_string(),
        node_status: "running",
        uptime: Some(uptime),
        version: Some(env!("CARGO_PKG_VERSION")),
        connections: Some(ctx.api.stats().await.connections),
    }];
    // Other members as this node sees them (EMQX lists them with status
    // `running` or `stopped`; their own figures are theirs to report).
    if let Some(cluster) = ctx.api.cluster() {
        for m in cluster
            .status()
            .members
            .into_iter()
            .filter(|m| m.state != "self")
        {
            nodes.push(Node {
                node: m.node,
                node_status: if m.state == "down" {
                    "stopped"
                } else {
                    "running"
                },
                uptime: None,
                version: None,
                connections: None,
            });
        }
    }
    Json(nodes)
}

/// `GET /api/v5/cluster`: this node's view of the cluster membership.
pub async fn cluster(State(ctx): Ctx) -> Json<ClusterStatus> {
    Json(match ctx.api.cluster() {
        Some(cluster) => cluster.status(),
        None => ClusterStatus {
            enabled: false,
            node: ctx.api.node_name().to_string(),
            members: Vec::new(),
        },
    })
}

/// Body of `POST /api/v5/cluster/join`.
#[derive(Debug, serde::Deserialize)]
pub struct JoinRequest {
    /// The other node's cluster address, `host:port`.
    pub address: String,
}

fn cluster_of(ctx: &Admin) -> Result<Arc<dyn ClusterLink>, Failure> {
    ctx.api.cluster().ok_or_else(|| {
        Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new(
                "CLUSTER_DISABLED",
                "this node is not clustered; set cluster.enabled: true (ROOST__CLUSTER__ENABLED=true)",
            ),
        )
    })
}

/// `POST /api/v5/cluster/join {"address": "host:port"}`: dial that node from
/// now on (like a seed); the answer is the membership as it stands.
pub async fn cluster_join(
    State(ctx): Ctx,
    Json(req): Json<JoinRequest>,
) -> Result<Json<ClusterStatus>, Failure> {
    let cluster = cluster_of(&ctx)?;
    if req
        .address
        .rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("BAD_REQUEST", "address must be host:port"),
        ));
    }
    cluster.join(req.address);
    Ok(Json(cluster.status()))
}

/// `POST /api/v5/cluster/leave`: this node leaves the cluster (its peers drop
/// its routes) and stops dialling until the next join.
pub async fn cluster_leave(State(ctx): Ctx) -> Result<Json<ClusterStatus>, Failure> {
    let cluster = cluster_of(&ctx)?;
    cluster.leave();
    Ok(Json(cluster.status()))
}
