//! `/api/v5/topics[/{topic}]`: this node's routing table, EMQX 5's shape
//! (`emqx_mgmt_api_topics`): one entry per filter with subscribers, shared
//! groups as `$share/<group>/<filter>`.

use crate::api::{ApiError, Failure, Paged, Params, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::Json;
use roost_core::api::{Page, RouteInfo};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(topics))
        .routes(routes!(topic))
}

/// One route.
#[derive(Debug, Serialize, ToSchema)]
pub struct Topic {
    /// The filter, `$share/<group>/<filter>` for a shared group's route.
    pub topic: String,
    pub node: String,
}

fn routes_of(ctx: &Admin) -> Vec<Topic> {
    let node = ctx.api.node_name();
    let all = Page {
        page: 1,
        limit: usize::MAX,
    };
    ctx.api
        .routes(all)
        .data
        .into_iter()
        .map(|RouteInfo { topic, group }| Topic {
            topic: match group {
                Some(g) => format!("$share/{g}/{topic}"),
                None => topic,
            },
            node: node.to_string(),
        })
        .collect()
}

/// Query of `GET /api/v5/topics`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicsQuery {
    #[param(minimum = 1)]
    pub page: Option<usize>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Exactly this filter.
    pub topic: Option<String>,
    /// Only this node's (only this node's are listed anyway).
    pub node: Option<String>,
}

/// The routes: every filter with subscribers here, by filter.
#[utoipa::path(get, path = "/api/v5/topics", tag = "Topics", params(TopicsQuery),
    responses(
        (status = 200, body = Paged<Topic>),
        (status = 400, description = "A parameter out of range", body = ApiError),
    ))]
pub async fn topics(
    State(ctx): State<Arc<Admin>>,
    Params(q): Params<TopicsQuery>,
) -> Result<Json<Paged<Topic>>, Failure> {
    let data = routes_of(&ctx)
        .into_iter()
        .filter(|t| q.topic.as_deref().is_none_or(|f| t.topic == f))
        .filter(|t| q.node.as_deref().is_none_or(|n| t.node == n))
        .collect();
    Ok(Json(Paged::of(q.page, q.limit, data)?))
}

/// The routes of one filter (URL-encoded: `a%2F%2B` is `a/+`).
#[utoipa::path(get, path = "/api/v5/topics/{topic}", tag = "Topics",
    params(("topic" = String, Path, description = "The filter, URL-encoded")),
    responses(
        (status = 200, body = Vec<Topic>),
        (status = 400, body = ApiError),
        (status = 404, description = "TOPIC_NOT_FOUND", body = ApiError),
    ))]
pub async fn topic(
    State(ctx): State<Arc<Admin>>,
    PathOf(topic): PathOf<String>,
) -> Result<Json<Vec<Topic>>, Failure> {
    let found: Vec<Topic> = routes_of(&ctx)
        .into_iter()
        .filter(|t| t.topic == topic)
        .collect();
    if found.is_empty() {
        return Err(Failure::not_found("TOPIC_NOT_FOUND", "Topic not found"));
    }
    Ok(Json(found))
}
