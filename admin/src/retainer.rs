//! `/api/v5/mqtt/retainer/...`: retained messages, EMQX 5's paths and shapes
//! (`emqx_retainer_api`): the list (without payloads), one message (with
//! its payload in base64), and deleting one.

use crate::api::{ApiError, Failure, Paged, Params, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use roost_core::Message;
use roost_protocol::{Properties, QoS};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(messages))
        .routes(routes!(message, delete_message))
}

/// A retained message in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetainedSummary {
    pub topic: String,
    pub qos: u8,
    /// The publisher's client id ("" for the broker's own).
    pub from_clientid: String,
    /// Payload bytes.
    pub payload_size: usize,
}

/// One retained message with its payload.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetainedMessage {
    pub topic: String,
    pub qos: u8,
    pub from_clientid: String,
    /// Base64.
    pub payload: String,
    pub payload_size: usize,
}

fn summary(m: &Message) -> RetainedSummary {
    RetainedSummary {
        topic: m.topic.to_string(),
        qos: m.qos as u8,
        from_clientid: m.from.to_string(),
        payload_size: m.payload.len(),
    }
}

/// Query of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetainedQuery {
    #[param(minimum = 1)]
    pub page: Option<usize>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Only the topics this filter matches (wildcards allowed).
    pub topic: Option<String>,
}

/// The retained messages, by topic.
#[utoipa::path(get, path = "/api/v5/mqtt/retainer/messages", tag = "Retainer",
    params(RetainedQuery),
    responses(
        (status = 200, body = Paged<RetainedSummary>),
        (status = 400, description = "A parameter out of range, or a bad filter", body = ApiError),
    ))]
pub async fn messages(
    State(ctx): State<Arc<Admin>>,
    Params(q): Params<RetainedQuery>,
) -> Result<Json<Paged<RetainedSummary>>, Failure> {
    if let Some(f) = &q.topic {
        roost_protocol::topic::validate_topic_filter(f)
            .map_err(|_| Failure::bad_request(format!("invalid topic filter {f:?}")))?;
    }
    let mut all = ctx.api.retained_messages();
    all.retain(|m| {
        q.topic
            .as_deref()
            .is_none_or(|f| roost_protocol::topic::matches(f, &m.topic))
    });
    all.sort_by(|a, b| a.topic.cmp(&b.topic));
    let data = all.iter().map(|m| summary(m)).collect();
    Ok(Json(Paged::of(q.page, q.limit, data)?))
}

fn not_found() -> Failure {
    Failure::not_found("NOT_FOUND", "Viewed message not found")
}

const TOPIC: &str = "The topic, URL-encoded (`a%2Fb` is `a/b`)";

/// The retained message of a topic.
#[utoipa::path(get, path = "/api/v5/mqtt/retainer/message/{topic}", tag = "Retainer",
    params(("topic" = String, Path, description = TOPIC)),
    responses(
        (status = 200, body = RetainedMessage),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn message(
    State(ctx): State<Arc<Admin>>,
    PathOf(topic): PathOf<String>,
) -> Result<Json<RetainedMessage>, Failure> {
    let m = ctx.api.retained_message(&topic).ok_or_else(not_found)?;
    Ok(Json(RetainedMessage {
        topic: m.topic.to_string(),
        qos: m.qos as u8,
        from_clientid: m.from.to_string(),
        payload: base64::engine::general_purpose::STANDARD.encode(&m.payload),
        payload_size: m.payload.len(),
    }))
}

/// Deletes the retained message of a topic, on this node (the other nodes
/// of a cluster keep their copy).
#[utoipa::path(delete, path = "/api/v5/mqtt/retainer/message/{topic}", tag = "Retainer",
    params(("topic" = String, Path, description = TOPIC)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn delete_message(
    State(ctx): State<Arc<Admin>>,
    PathOf(topic): PathOf<String>,
) -> Result<StatusCode, Failure> {
    if ctx.api.retained_message(&topic).is_none() {
        return Err(not_found());
    }
    // An empty retained message clears the topic; stored as if another
    // node had sent it, it is not routed (no subscriber gets it). The other
    // nodes clear it too (EMQX's retainer table is cluster-wide), with a
    // tombstone so no resync brings it back.
    let clear = Message::new(
        topic.into(),
        Default::default(),
        QoS::AtMostOnce,
        true,
        "".into(),
        &Properties::default(),
    );
    let clear = Arc::new(clear);
    ctx.api.retain_forwarded(clear.clone());
    if let Some(cluster) = ctx.api.cluster() {
        cluster.retained(&clear);
    }
    Ok(StatusCode::NO_CONTENT)
}
