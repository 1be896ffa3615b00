//! `POST /api/v5/publish[/bulk]`: publish as the broker, EMQX 5's body and
//! answers (`emqx_mgmt_api_publish`): 200 `{"id"}` when a subscriber
//! matched, 202 `{"reason_code": 16, "message": "no_matching_subscribers"}`
//! when none did, 400 for a bad topic or payload.

use crate::api::{ApiError, Body, Failure};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use roost_core::hooks::DropReason;
use roost_core::Message;
use roost_protocol::{Properties, PropertyValues, QoS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(publish_bulk))
}

/// How `payload` is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    #[default]
    Plain,
    Base64,
}

/// MQTT 5.0 properties of the message (EMQX's names).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PublishProperties {
    /// 0: unspecified bytes, 1: UTF-8.
    #[schema(minimum = 0, maximum = 1)]
    pub payload_format_indicator: Option<u8>,
    /// Seconds.
    pub message_expiry_interval: Option<u32>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<String>,
    pub user_properties: Option<BTreeMap<String, String>>,
    pub content_type: Option<String>,
}

/// One message to publish.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishRequest {
    /// A topic name (no wildcards).
    pub topic: String,
    /// The publisher's client id as subscribers' No Local sees it (none by default).
    #[serde(default)]
    pub clientid: Option<String>,
    pub payload: String,
    #[serde(default)]
    pub payload_encoding: PayloadEncoding,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub qos: u8,
    #[serde(default)]
    pub retain: bool,
    #[serde(default)]
    pub properties: Option<PublishProperties>,
}

/// The answer for one message: its id when delivered, a reason code when not.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 16 (no matching subscribers) or 131 (dropped by a hook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A message id: unique in this process, ordered by time (EMQX's GUID is
/// 128 bits in hex too).
fn message_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    format!("{micros:016X}{:016X}", SEQ.fetch_add(1, Ordering::Relaxed))
}

fn message(req: PublishRequest) -> Result<Message, Failure> {
    roost_protocol::topic::validate_topic_name(&req.topic)
        .map_err(|_| Failure::bad_request("invalid_topic_name"))?;
    if req.topic.starts_with('$') {
        return Err(Failure::bad_request("invalid_topic_name"));
    }
    let qos = QoS::from_u8(req.qos).ok_or_else(|| Failure::bad_request("qos must be 0, 1 or 2"))?;
    let payload = match req.payload_encoding {
        PayloadEncoding::Plain => req.payload.into_bytes(),
        PayloadEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(&req.payload)
            .map_err(|_| Failure::bad_request("decode_base64_payload_failed"))?,
    };
    let p = req.properties.unwrap_or_default();
    if p.payload_format_indicator.is_some_and(|v| v > 1) {
        return Err(Failure::bad_request(
            "payload_format_indicator must be 0 or 1",
        ));
    }
    if let Some(t) = &p.response_topic {
        roost_protocol::topic::validate_topic_name(t)
            .map_err(|_| Failure::bad_request("invalid response_topic"))?;
    }
    let props: Properties = PropertyValues {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data.map(|c| c.into_bytes().into()),
        user_properties: p.user_properties.unwrap_or_default().into_iter().collect(),
        content_type: p.content_type,
        ..PropertyValues::default()
    }
    .into();
    Ok(Message::new(
        req.topic.into(),
        payload.into(),
        qos,
        req.retain,
        req.clientid.unwrap_or_default().into(),
        &props,
    ))
}

/// Publishes one message; its status (200, 202 or 503) and answer.
fn send(ctx: &Admin, msg: Message) -> (StatusCode, PublishResult) {
    let id = message_id();
    match ctx.api.publish(msg) {
        Ok(n) if n > 0 => (
            StatusCode::OK,
            PublishResult {
                id: Some(id),
                reason_code: None,
                message: None,
            },
        ),
        Ok(_) | Err(DropReason::NoSubscribers) => (
            StatusCode::ACCEPTED,
            PublishResult {
                id: None,
                reason_code: Some(16),
                message: Some("no_matching_subscribers".into()),
            },
        ),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            PublishResult {
                id: None,
                reason_code: Some(131),
                message: Some(why.as_str().to_string()),
            },
        ),
    }
}

/// Publishes a message as the broker (`message.publish` hooks run, a
/// retained one is stored, and it is routed here and to the other nodes).
#[utoipa::path(post, path = "/api/v5/publish", tag = "Publish", request_body = PublishRequest,
    responses(
        (status = 200, description = "Delivered to a subscriber at least", body = PublishResult),
        (status = 202, description = "No subscriber matched (reason_code 16)", body = PublishResult),
        (status = 400, description = "Bad topic, payload or property", body = ApiError),
        (status = 503, description = "A hook dropped it (reason_code 131)", body = PublishResult),
    ))]
pub async fn publish(
    State(ctx): State<Arc<Admin>>,
    Body(req): Body<PublishRequest>,
) -> Result<Response, Failure> {
    let msg = message(req)?;
    let (code, result) = send(&ctx, msg);
    Ok((code, Json(result)).into_response())
}

/// Publishes several messages, in order: 200 when every one was delivered,
/// 202 when some matched no subscriber, 503 when a hook dropped one; all
/// are checked before any is published (one bad message: 400, none sent).
#[utoipa::path(post, path = "/api/v5/publish/bulk", tag = "Publish",
    request_body = Vec<PublishRequest>,
    responses(
        (status = 200, body = Vec<PublishResult>),
        (status = 202, body = Vec<PublishResult>),
        (status = 400, description = "A bad message, or none", body = ApiError),
        (status = 503, body = Vec<PublishResult>),
    ))]
pub async fn publish_bulk(
    State(ctx): State<Arc<Admin>>,
    Body(reqs): Body<Vec<PublishRequest>>,
) -> Result<Response, Failure> {
    if reqs.is_empty() {
        return Err(Failure::bad_request("empty_batch"));
    }
    let msgs = reqs
        .into_iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    let results: Vec<(StatusCode, PublishResult)> =
        msgs.into_iter().map(|m| send(&ctx, m)).collect();
    let code = results
        .iter()
        .map(|(c, _)| *c)
        .max()
        .unwrap_or(StatusCode::OK);
    let body: Vec<PublishResult> = results.into_iter().map(|(_, r)| r).collect();
    Ok((code, Json(body)).into_response())
}
