//! The handlers of `/api/v5/...` (actors, kill, stats, nodes, cluster,
//! status), and what every module of the API
//! shares: the error answer `{"code": "...", "message": "..."}` like EMQX's,
//! extractors whose rejections are such answers, and EMQX's paging.

use crate::Admin;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_core::api::{ActorNode, Page, TreeError};
use roost_core::cluster::{ClusterLink, ClusterStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// The ractor name of the root supervisor, where every tree query starts.
const ROOT_NAME: &str = "roost";

/// This module's routes (the actor-tree page and `/` are added in lib.rs,
/// outside the document).
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(actors))
        .routes(routes!(kill))
        .routes(routes!(nodes))
        .routes(routes!(node))
        .routes(routes!(cluster))
        .routes(routes!(cluster_join))
        .routes(routes!(cluster_leave))
}

/// The routes answered without credentials (load balancers' health checks).
pub(crate) fn public_routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(status_v5))
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// EMQX's error code: BAD_REQUEST, NOT_FOUND, CLIENTID_NOT_FOUND...
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

impl Failure {
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("BAD_REQUEST", message),
        )
    }

    /// A query parameter out of its range (EMQX's INVALID_PARAMETER).
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("INVALID_PARAMETER", message),
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Failure {
        Failure(StatusCode::NOT_FOUND, ApiError::new(code, message))
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

/// A JSON request body; a body that does not parse answers 400 BAD_REQUEST
/// in EMQX's shape (axum's own rejections are plain text, some 415 or 422),
/// one over `http.max_body_size` 413 PAYLOAD_TOO_LARGE. A handler that must
/// check something first takes `Result<Body<T>, Failure>`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Failure> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Body(v))
            .map_err(|e: JsonRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Failure(
                    e.status(),
                    ApiError::new("PAYLOAD_TOO_LARGE", e.body_text()),
                ),
                _ => Failure::bad_request(e.body_text()),
            })
    }
}

/// The query string; one that does not parse answers 400 INVALID_PARAMETER.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v))
            .map_err(|e: QueryRejection| Failure::invalid(e.body_text()))
    }
}

/// Path parameters; ones that do not decode (bad UTF-8) answer 400.
pub struct PathOf<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathOf<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathOf(v))
            .map_err(|e: PathRejection| Failure::bad_request(e.body_text()))
    }
}

/// Where a page stands in its listing (EMQX's `meta`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PageMeta {
    pub page: usize,
    pub limit: usize,
    /// Items in the whole listing.
    pub count: usize,
    pub hasnext: bool,
}

/// One page of a listing: `{"data": [...], "meta": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

/// The largest `limit` a listing takes (EMQX's).
pub const MAX_LIMIT: usize = 10_000;

impl<T: ToSchema> Paged<T> {
    /// The page `page`/`limit` of `items` (defaults: page 1 of 100); 400 for
    /// a page below 1 or a limit outside 1..=10000, as EMQX.
    pub fn of(page: Option<usize>, limit: Option<usize>, items: Vec<T>) -> Result<Self, Failure> {
        let page = Page {
            page: page.unwrap_or(1),
            limit: limit.unwrap_or(100),
        };
        if page.page < 1 || !(1..=MAX_LIMIT).contains(&page.limit) {
            return Err(Failure::invalid("page_limit_invalid"));
        }
        let p = page.of(items);
        Ok(Paged {
            data: p.data,
            meta: PageMeta {
                page: p.meta.page,
                limit: p.meta.limit,
                count: p.meta.count,
                hasnext: p.meta.hasnext,
            },
        })
    }
}

/// RFC 3339 with milliseconds, as EMQX writes times.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Any other path.
pub async fn not_found() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        ApiError::new("NOT_FOUND", "no such page or API endpoint"),
    )
}

/// Query of `GET /api/v5/actors`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TreeQuery {
    /// Only the actors whose path starts with this (and their ancestors).
    pub prefix: Option<String>,
    /// Levels below the root to list (`child_count` is still given at the cut).
    pub depth: Option<usize>,
}

/// The live actor tree (Roost's own: EMQX has none).
#[utoipa::path(get, path = "/api/v5/actors", tag = "Actors", params(TreeQuery),
    responses(
        (status = 200, description = "The tree: each node's path, kind, restarts, mailbox, \
            started_at, child_count, children and hibernating flag", body = Object),
        (status = 400, body = ApiError),
        (status = 404, description = "No actor has that prefix", body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn actors(
    State(ctx): Ctx,
    Params(q): Params<TreeQuery>,
) -> Result<Json<ActorNode>, Failure> {
    let node = ctx.api.actor_tree(q.prefix, q.depth).await?;
    Ok(Json(node))
}

/// Body of `POST /api/v5/actors/kill`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct KillRequest {
    /// The actor's path, e.g. `roost/router/shard-0`.
    pub path: String,
}

/// Answer of a successful kill.
#[derive(Debug, Serialize, ToSchema)]
pub struct Killed {
    pub killed: String,
}

/// Kills the actor at `path` as a crash would, so its supervisor's restart
/// policy applies (chaos testing). Only with `chaos.enabled`.
#[utoipa::path(post, path = "/api/v5/actors/kill", tag = "Actors", request_body = KillRequest,
    responses(
        (status = 200, body = Killed),
        (status = 400, description = "Bad body, or the root supervisor", body = ApiError),
        (status = 403, description = "chaos.enabled is off", body = ApiError),
        (status = 404, body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn kill(State(ctx): Ctx, Body(req): Body<KillRequest>) -> Result<Json<Killed>, Failure> {
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
        return Err(Failure::bad_request("the root supervisor cannot be killed"));
    }
    ctx.api.kill_actor(path.to_string()).await?;
    Ok(Json(Killed {
        killed: path.to_string(),
    }))
}

/// One node (EMQX's fields where Roost knows them).
#[derive(Debug, Serialize, ToSchema)]
pub struct Node {
    pub node: String,
    /// `running` or `stopped`.
    pub node_status: &'static str,
    /// Seconds since the broker started (this node only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// `core` (every Roost node is one).
    pub role: &'static str,
    pub edition: &'static str,
    /// Client connections (this node only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Connections not hibernating (this node only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_connections: Option<usize>,
}

async fn all_nodes(ctx: &Admin) -> Vec<Node> {
    let uptime = SystemTime::now()
        .duration_since(ctx.api.started_at())
        .map_or(0, |d| d.as_secs());
    let stats = ctx.api.stats().await;
    let mut nodes = vec![Node {
        node: ctx.api.node_name().to_string(),
        node_status: "running",
        uptime: Some(uptime),
        version: Some(env!("CARGO_PKG_VERSION")),
        role: "core",
        edition: "Opensource",
        connections: Some(stats.connections),
        live_connections: Some(
            stats.connections - stats.connections_hibernating.min(stats.connections),
        ),
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
                role: "core",
                edition: "Opensource",
                connections: None,
                live_connections: None,
            });
        }
    }
    nodes
}

/// This node first, then the other cluster members.
#[utoipa::path(get, path = "/api/v5/nodes", tag = "Nodes",
    responses((status = 200, body = Vec<Node>)))]
pub async fn nodes(State(ctx): Ctx) -> Json<Vec<Node>> {
    Json(all_nodes(&ctx).await)
}

/// One node by name.
#[utoipa::path(get, path = "/api/v5/nodes/{node}", tag = "Nodes",
    params(("node" = String, Path, description = "The node's name, e.g. roost@127.0.0.1")),
    responses(
        (status = 200, body = Node),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn node(State(ctx): Ctx, PathOf(name): PathOf<String>) -> Result<Json<Node>, Failure> {
    all_nodes(&ctx)
        .await
        .into_iter()
        .find(|n| n.node == name)
        .map(Json)
        .ok_or_else(|| Failure::not_found("NOT_FOUND", format!("no node {name}")))
}

/// This node's view of the cluster membership.
#[utoipa::path(get, path = "/api/v5/cluster", tag = "Cluster",
    responses((status = 200, description = "enabled, node, and members (node, state)", body = Object)))]
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
#[derive(Debug, Deserialize, ToSchema)]
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

/// Dial that node from now on (like a seed); the answer is the membership
/// as it stands.
#[utoipa::path(post, path = "/api/v5/cluster/join", tag = "Cluster", request_body = JoinRequest,
    responses(
        (status = 200, body = Object),
        (status = 400, description = "Not clustered, or not host:port", body = ApiError),
    ))]
pub async fn cluster_join(
    State(ctx): Ctx,
    Body(req): Body<JoinRequest>,
) -> Result<Json<ClusterStatus>, Failure> {
    let cluster = cluster_of(&ctx)?;
    if req
        .address
        .rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(Failure::bad_request("address must be host:port"));
    }
    cluster.join(req.address);
    Ok(Json(cluster.status()))
}

/// This node leaves the cluster (its peers drop its routes) and stops
/// dialling until the next join.
#[utoipa::path(post, path = "/api/v5/cluster/leave", tag = "Cluster",
    responses(
        (status = 200, body = Object),
        (status = 400, description = "Not clustered", body = ApiError),
    ))]
pub async fn cluster_leave(State(ctx): Ctx) -> Result<Json<ClusterStatus>, Failure> {
    let cluster = cluster_of(&ctx)?;
    cluster.leave();
    Ok(Json(cluster.status()))
}

/// Query of the status endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// `json` for a JSON answer (EMQX's `format=json`); text otherwise.
    pub format: Option<String>,
}

/// The status as JSON (`format=json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusJson {
    pub node: String,
    pub rel_vsn: &'static str,
    /// `started` or `stopped`.
    pub broker_status: &'static str,
    /// `running` or `not_running`.
    pub app_status: &'static str,
}

fn node_status(ctx: &Admin, q: StatusQuery) -> Response {
    // The broker runs while its root supervisor does (it stops last at shutdown).
    let running = ractor::registry::where_is(ROOT_NAME).is_some();
    let code = if running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let node = ctx.api.node_name().to_string();
    if q.format.as_deref() == Some("json") {
        let body = StatusJson {
            node,
            rel_vsn: env!("CARGO_PKG_VERSION"),
            broker_status: if running { "started" } else { "stopped" },
            app_status: if running { "running" } else { "not_running" },
        };
        return (code, Json(body)).into_response();
    }
    let text = if running {
        format!("Node {node} is started\nroost is running")
    } else {
        format!("Node {node} is stopped\nroost is not_running")
    };
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Whether the broker runs, for load balancers and health checks; needs
/// no credentials. Text as EMQX's (`Node <name> is started\nroost is
/// running`), or JSON with `format=json`.
#[utoipa::path(get, path = "/status", tag = "Status", params(StatusQuery), security(()),
    responses(
        (status = 200, description = "Running", content(
            (String = "text/plain"), (StatusJson = "application/json"))),
        (status = 400, body = ApiError),
        (status = 503, description = "Not running", content(
            (String = "text/plain"), (StatusJson = "application/json"))),
    ))]
pub async fn status(State(ctx): Ctx, Params(q): Params<StatusQuery>) -> Response {
    node_status(&ctx, q)
}

/// `/status` under `/api/v5`.
#[utoipa::path(get, path = "/api/v5/status", tag = "Status", params(StatusQuery), security(()),
    responses(
        (status = 200, description = "Running", content(
            (String = "text/plain"), (StatusJson = "application/json"))),
        (status = 400, body = ApiError),
        (status = 503, description = "Not running", content(
            (String = "text/plain"), (StatusJson = "application/json"))),
    ))]
pub async fn status_v5(State(ctx): Ctx, Params(q): Params<StatusQuery>) -> Response {
    node_status(&ctx, q)
}
