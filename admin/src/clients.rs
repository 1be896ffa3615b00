//! `/api/v5/clients[...]`: connected clients and offline sessions, kick,
//! their subscriptions, subscribe and unsubscribe on their behalf, and their
//! session's queue and inflight window, with EMQX 5's paths, parameters and
//! field names (`emqx_mgmt_api_clients`).

use crate::api::{rfc3339, ApiError, Body, Failure, Paged, Params, PathOf};
use crate::subscriptions::{subscription_of, Subscription};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use roost_core::api::ClientError;
use roost_core::listing::{ClientDetail, QueuedMessage, SessionQueue};
use roost_protocol::{ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(clients))
        .routes(routes!(client, kick))
        .routes(routes!(subscriptions))
        .routes(routes!(subscribe))
        .routes(routes!(subscribe_bulk))
        .routes(routes!(unsubscribe))
        .routes(routes!(unsubscribe_bulk))
        .routes(routes!(mqueue_messages))
        .routes(routes!(inflight_messages))
}

fn client_not_found() -> Failure {
    Failure::not_found("CLIENTID_NOT_FOUND", "Client ID not found")
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::NoSession(_) => client_not_found(),
            ClientError::Unavailable(_) => Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                ApiError::new("SERVICE_UNAVAILABLE", e.to_string()),
            ),
        }
    }
}

/// `conn_state`: EMQX's three states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnState {
    /// Connected (idle ones included).
    Connected,
    /// Connected, and hibernating: no packet for `mqtt.idle_timeout`.
    Idle,
    /// Only the session is left.
    Disconnected,
}

/// Query of `GET /api/v5/clients`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientsQuery {
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<usize>,
    /// Items per page (1..=10000, 100 by default).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Only the clients of this node (only this node's are listed anyway).
    pub node: Option<String>,
    /// Exactly this client id.
    pub clientid: Option<String>,
    /// Exactly this user name.
    pub username: Option<String>,
    /// Client id containing this.
    pub like_clientid: Option<String>,
    /// User name containing this.
    pub like_username: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    #[param(inline)]
    pub conn_state: Option<ConnState>,
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub proto_ver: Option<u8>,
    pub clean_start: Option<bool>,
}

/// One client, with EMQX's field names (those Roost knows).
#[derive(Debug, Serialize, ToSchema)]
pub struct Client {
    pub clientid: String,
    pub username: Option<String>,
    pub node: String,
    pub ip_address: String,
    pub port: u16,
    /// `tcp:default`, `tls:default`, `ws:default` or `wss:default`.
    pub listener: String,
    pub connected: bool,
    /// RFC 3339: when the (last) CONNECT was accepted.
    pub connected_at: String,
    /// RFC 3339: when the session was created.
    pub created_at: String,
    /// RFC 3339: when the last connection closed, while offline.
    pub disconnected_at: Option<String>,
    /// `MQTT` (or `MQIsdp` for 3.1).
    pub proto_name: &'static str,
    pub proto_ver: u8,
    pub clean_start: bool,
    pub keepalive: u16,
    /// Session Expiry Interval in seconds.
    pub expiry_interval: u64,
    pub is_superuser: bool,
    pub is_bridge: bool,
    pub is_expired: bool,
    pub durable: bool,
    pub subscriptions_cnt: usize,
    pub inflight_cnt: usize,
    pub inflight_max: usize,
    pub mqueue_len: usize,
    /// 0 = unbounded.
    pub mqueue_max: usize,
    pub awaiting_rel_cnt: usize,
    /// Packets and PUBLISH packets read and written by the current
    /// connection (0 while offline).
    pub recv_pkt: u64,
    pub recv_msg: u64,
    pub send_pkt: u64,
    pub send_msg: u64,
    /// Roost's own: the connection (or session) hibernates.
    pub hibernating: bool,
}

fn proto(v: ProtocolVersion) -> (&'static str, u8) {
    match v {
        ProtocolVersion::V3_1 => ("MQIsdp", 3),
        ProtocolVersion::V3_1_1 => ("MQTT", 4),
        ProtocolVersion::V5 => ("MQTT", 5),
    }
}

fn view(node: &str, c: &ClientDetail) -> Client {
    let info = &c.info;
    let (proto_name, proto_ver) = proto(info.proto_ver);
    let c2 = c.counters;
    Client {
        clientid: info.client_id.to_string(),
        username: info.username.as_deref().map(str::to_string),
        node: node.to_string(),
        ip_address: info.peer.addr.ip().to_string(),
        port: info.peer.addr.port(),
        listener: format!("{}:default", info.peer.listener),
        connected: c.connected,
        connected_at: rfc3339(info.connected_at),
        created_at: rfc3339(c.created_at),
        disconnected_at: c.disconnected_at.map(rfc3339),
        proto_name,
        proto_ver,
        clean_start: info.clean_start,
        keepalive: info.keepalive,
        expiry_interval: c.session.expiry_interval as u64,
        is_superuser: info.is_superuser,
        is_bridge: false,
        is_expired: false,
        durable: false,
        subscriptions_cnt: c.session.subscriptions,
        inflight_cnt: c.session.inflight,
        inflight_max: c.inflight_max,
        mqueue_len: c.session.mqueue,
        mqueue_max: c.mqueue_max,
        awaiting_rel_cnt: c.awaiting_rel,
        recv_pkt: c2.recv_pkt,
        recv_msg: c2.recv_msg,
        send_pkt: c2.send_pkt,
        send_msg: c2.send_msg,
        hibernating: c.hibernating,
    }
}

impl ClientsQuery {
    fn filter(&self, node: &str) -> Result<impl Fn(&ClientDetail) -> bool + '_, Failure> {
        let ip = match &self.ip_address {
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                Failure::invalid(format!(
                    "the ip_address parameter expected type is ip, but the value is {ip}"
                ))
            })?),
            None => None,
        };
        let other_node = self.node.as_deref().is_some_and(|n| n != node);
        Ok(move |c: &ClientDetail| {
            let info = &c.info;
            let user = info.username.as_deref();
            !other_node
                && self
                    .clientid
                    .as_deref()
                    .is_none_or(|id| *info.client_id == *id)
                && self.username.as_deref().is_none_or(|u| user == Some(u))
                && self
                    .like_clientid
                    .as_deref()
                    .is_none_or(|s| info.client_id.contains(s))
                && self
                    .like_username
                    .as_deref()
                    .is_none_or(|s| user.is_some_and(|u| u.contains(s)))
                && ip.is_none_or(|ip| info.peer.addr.ip() == ip)
                && self.conn_state.is_none_or(|s| match s {
                    ConnState::Connected => c.connected,
                    ConnState::Idle => c.connected && c.hibernating,
                    ConnState::Disconnected => !c.connected,
                })
                && self.proto_ver.is_none_or(|v| proto(info.proto_ver).1 == v)
                && self.clean_start.is_none_or(|b| info.clean_start == b)
        })
    }
}

/// Connected clients and offline sessions (`connected: false`), by client id.
#[utoipa::path(get, path = "/api/v5/clients", tag = "Clients", params(ClientsQuery),
    responses(
        (status = 200, body = Paged<Client>),
        (status = 400, description = "A parameter out of range", body = ApiError),
    ))]
pub async fn clients(
    State(ctx): Ctx,
    Params(q): Params<ClientsQuery>,
) -> Result<Json<Paged<Client>>, Failure> {
    let node = ctx.api.node_name();
    let keep = q.filter(node)?;
    let all: Vec<Client> = ctx
        .api
        .client_details()
        .iter()
        .filter(|c| keep(c))
        .map(|c| view(node, c))
        .collect();
    Ok(Json(Paged::of(q.page, q.limit, all)?))
}

const CLIENTID: &str = "The client id (URL-encoded)";

/// One client, connected or not.
#[utoipa::path(get, path = "/api/v5/clients/{clientid}", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    responses(
        (status = 200, body = Client),
        (status = 400, body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
    ))]
pub async fn client(State(ctx): Ctx, PathOf(id): PathOf<String>) -> Result<Json<Client>, Failure> {
    let c = ctx.api.client_detail(&id).ok_or_else(client_not_found)?;
    Ok(Json(view(ctx.api.node_name(), &c)))
}

/// Kicks the client: its connection is closed (DISCONNECT 0x98
/// Administrative action to a 5.0 client) and its session discarded, as
/// EMQX's kick-out.
#[utoipa::path(delete, path = "/api/v5/clients/{clientid}", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    responses(
        (status = 204, description = "Kicked out"),
        (status = 400, body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
    ))]
pub async fn kick(State(ctx): Ctx, PathOf(id): PathOf<String>) -> Result<StatusCode, Failure> {
    if ctx.api.client_detail(&id).is_none() || !ctx.api.kick_out(&id).await {
        return Err(client_not_found());
    }
    tracing::info!(client_id = %id, "client_kicked_out_by_api");
    Ok(StatusCode::NO_CONTENT)
}

/// The client's subscriptions.
#[utoipa::path(get, path = "/api/v5/clients/{clientid}/subscriptions", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    responses(
        (status = 200, body = Vec<Subscription>),
        (status = 400, body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
    ))]
pub async fn subscriptions(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
) -> Result<Json<Vec<Subscription>>, Failure> {
    if ctx.api.client_detail(&id).is_none() {
        return Err(client_not_found());
    }
    let page = roost_core::api::Page {
        page: 1,
        limit: usize::MAX,
    };
    let node = ctx.api.node_name();
    let subs = ctx.api.subscriptions(Some(&id), page).data;
    Ok(Json(
        subs.iter().map(|s| subscription_of(node, s)).collect(),
    ))
}

/// Body of `POST .../subscribe` (EMQX's fields).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// The filter, `$share/<group>/...` for a shared subscription.
    pub topic: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub qos: u8,
    /// No Local (0 or 1).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    pub nl: u8,
    /// Retain As Published (0 or 1).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    pub rap: u8,
    /// Retain Handling (0, 1 or 2).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub rh: u8,
}

impl SubscribeRequest {
    fn options(&self) -> Result<SubscriptionOptions, Failure> {
        let bad = |f: &str| Failure::invalid(format!("{f} out of range"));
        let qos = QoS::from_u8(self.qos).ok_or_else(|| bad("qos"))?;
        let flag = |v: u8, f: &str| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad(f)),
        };
        let retain_handling = match self.rh {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(bad("rh")),
        };
        let no_local = flag(self.nl, "nl")?;
        if no_local && self.topic.starts_with("$share/") {
            return Err(Failure::invalid(
                "Invalid Subscribe options: `no_local` not allowed for shared-sub. See [MQTT-3.8.3-4]",
            ));
        }
        Ok(SubscriptionOptions {
            qos,
            no_local,
            retain_as_published: flag(self.rap, "rap")?,
            retain_handling,
        })
    }
}

/// Subscribes the session to each filter; each must be granted.
async fn subscribe_all(
    ctx: &Admin,
    id: &str,
    reqs: Vec<SubscribeRequest>,
) -> Result<Vec<Subscription>, Failure> {
    let mut filters = Vec::with_capacity(reqs.len());
    for r in &reqs {
        if roost_protocol::topic::parse_subscription_filter(&r.topic).is_err() {
            return Err(Failure::invalid(format!(
                "invalid topic filter {:?}",
                r.topic
            )));
        }
        filters.push((r.topic.clone(), r.options()?));
    }
    if ctx.api.client_detail(id).is_none() {
        return Err(client_not_found());
    }
    let codes = ctx.api.subscribe(id, filters.clone()).await?;
    let node = ctx.api.node_name();
    let mut out = Vec::with_capacity(codes.len());
    for ((topic, options), code) in filters.into_iter().zip(codes) {
        if code.is_error() {
            return Err(Failure::invalid(format!(
                "subscribing to {topic:?} failed: {code:?}"
            )));
        }
        out.push(Subscription::new(node, id, topic, options));
    }
    Ok(out)
}

/// Subscribes the client's session to a filter, as if it had sent SUBSCRIBE.
#[utoipa::path(post, path = "/api/v5/clients/{clientid}/subscribe", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    request_body = SubscribeRequest,
    responses(
        (status = 200, body = Subscription),
        (status = 400, description = "Bad filter or options", body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn subscribe(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Body(req): Body<SubscribeRequest>,
) -> Result<Json<Subscription>, Failure> {
    let mut subs = subscribe_all(&ctx, &id, vec![req]).await?;
    Ok(Json(subs.remove(0)))
}

/// Several subscriptions at once.
#[utoipa::path(post, path = "/api/v5/clients/{clientid}/subscribe/bulk", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    request_body = Vec<SubscribeRequest>,
    responses(
        (status = 200, body = Vec<Subscription>),
        (status = 400, description = "Bad filter or options", body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn subscribe_bulk(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Body(reqs): Body<Vec<SubscribeRequest>>,
) -> Result<Json<Vec<Subscription>>, Failure> {
    Ok(Json(subscribe_all(&ctx, &id, reqs).await?))
}

/// Body of `POST .../unsubscribe`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UnsubscribeRequest {
    pub topic: String,
}

async fn unsubscribe_all(ctx: &Admin, id: &str, topics: Vec<String>) -> Result<(), Failure> {
    if ctx.api.client_detail(id).is_none() {
        return Err(client_not_found());
    }
    ctx.api.unsubscribe(id, topics).await?;
    Ok(())
}

/// Unsubscribes the client's session from a filter (as written when subscribed).
#[utoipa::path(post, path = "/api/v5/clients/{clientid}/unsubscribe", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    request_body = UnsubscribeRequest,
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 400, body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn unsubscribe(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Body(req): Body<UnsubscribeRequest>,
) -> Result<StatusCode, Failure> {
    unsubscribe_all(&ctx, &id, vec![req.topic]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Several unsubscriptions at once.
#[utoipa::path(post, path = "/api/v5/clients/{clientid}/unsubscribe/bulk", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID)),
    request_body = Vec<UnsubscribeRequest>,
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 400, body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
        (status = 503, body = ApiError),
    ))]
pub async fn unsubscribe_bulk(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Body(reqs): Body<Vec<UnsubscribeRequest>>,
) -> Result<StatusCode, Failure> {
    unsubscribe_all(&ctx, &id, reqs.into_iter().map(|r| r.topic).collect()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How payloads are shown (EMQX's `payload` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    None,
    #[default]
    Base64,
    Plain,
}

/// Query of the queue listings: EMQX 5's position-based paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Start after this position (the `meta.position` of the previous page);
    /// from the oldest message when absent.
    pub position: Option<String>,
    /// Messages per page (1..=10000, 100 by default).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Payload encoding: base64 (default), plain or none.
    #[param(inline)]
    pub payload: Option<PayloadFormat>,
    /// Stop adding messages once their payloads pass this many bytes (at
    /// least one message is always given).
    #[param(minimum = 1)]
    pub max_payload_bytes: Option<u64>,
}

/// One queued or inflight message.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedMsg {
    pub topic: String,
    /// The QoS it is (or was) sent with.
    pub qos: u8,
    /// The publisher's client id ("" for the broker's own messages).
    pub from_clientid: String,
    /// The payload, in the requested encoding (absent with `payload=none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Its packet id (inflight messages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_id: Option<u16>,
    pub retain: bool,
}

/// Where a page of a queue stands: positions as strings, `none` when empty.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionMeta {
    /// The position of the oldest message in the queue.
    pub start: String,
    /// The position of the last message of this page: pass it as
    /// `position` for the next page.
    pub position: String,
}

/// A page of a queue: `{"data": [...], "meta": {"start", "position"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedMsgs {
    pub data: Vec<QueuedMsg>,
    pub meta: PositionMeta,
}

fn messages_page(all: Vec<QueuedMessage>, q: MessagesQuery) -> Result<QueuedMsgs, Failure> {
    let invalid = || Failure::invalid("position_limit_invalid");
    let limit = q.limit.unwrap_or(100);
    if !(1..=crate::api::MAX_LIMIT).contains(&limit) || q.max_payload_bytes == Some(0) {
        return Err(invalid());
    }
    // Positions count messages from 1 in the queue as it stands.
    let after = match q.position.as_deref() {
        None | Some("none") => 0,
        Some(p) => p.parse::<usize>().map_err(|_| invalid())?,
    };
    let format = q.payload.unwrap_or_default();
    let max_bytes = q.max_payload_bytes.unwrap_or(1 << 20);
    let mut data = Vec::new();
    let mut bytes = 0u64;
    let mut last = None;
    for (i, m) in all.iter().enumerate().skip(after).take(limit) {
        let payload = match format {
            PayloadFormat::None => None,
            PayloadFormat::Base64 => {
                Some(base64::engine::general_purpose::STANDARD.encode(&m.message.payload))
            }
            PayloadFormat::Plain => {
                Some(String::from_utf8(m.message.payload.to_vec()).map_err(|_| {
                    Failure::invalid("Some message payloads are not JSON serializable")
                })?)
            }
        };
        let size = payload.as_ref().map_or(0, |p| p.len() as u64);
        if !data.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        data.push(QueuedMsg {
            topic: m.message.topic.to_string(),
            qos: m.qos as u8,
            from_clientid: m.message.from.to_string(),
            payload,
            packet_id: m.packet_id,
            retain: m.message.retain,
        });
        last = Some(i + 1);
    }
    let none = || "none".to_string();
    Ok(QueuedMsgs {
        meta: PositionMeta {
            start: if all.is_empty() { none() } else { "1".into() },
            position: last.map_or_else(none, |p| p.to_string()),
        },
        data,
    })
}

async fn list(
    ctx: &Admin,
    id: &str,
    which: SessionQueue,
    q: MessagesQuery,
) -> Result<Json<QueuedMsgs>, Failure> {
    let all = ctx
        .api
        .session_messages(id, which)
        .ok_or_else(client_not_found)?;
    Ok(Json(messages_page(all, q)?))
}

/// The messages queued in the client's session behind its inflight window
/// (or while it is offline), oldest first.
#[utoipa::path(get, path = "/api/v5/clients/{clientid}/mqueue_messages", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID), MessagesQuery),
    responses(
        (status = 200, body = QueuedMsgs),
        (status = 400, description = "INVALID_PARAMETER", body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
    ))]
pub async fn mqueue_messages(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Params(q): Params<MessagesQuery>,
) -> Result<Json<QueuedMsgs>, Failure> {
    list(&ctx, &id, SessionQueue::MQueue, q).await
}

/// The QoS 1/2 messages sent to the client and not yet acknowledged.
#[utoipa::path(get, path = "/api/v5/clients/{clientid}/inflight_messages", tag = "Clients",
    params(("clientid" = String, Path, description = CLIENTID), MessagesQuery),
    responses(
        (status = 200, body = QueuedMsgs),
        (status = 400, description = "INVALID_PARAMETER", body = ApiError),
        (status = 404, description = "CLIENTID_NOT_FOUND", body = ApiError),
    ))]
pub async fn inflight_messages(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Params(q): Params<MessagesQuery>,
) -> Result<Json<QueuedMsgs>, Failure> {
    list(&ctx, &id, SessionQueue::Inflight, q).await
}
