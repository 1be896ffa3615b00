//! `GET /api/v5/subscriptions`: every session's subscriptions, with EMQX 5's
//! filters (`emqx_mgmt_api_subscriptions`), and the subscription shape the
//! clients API shares.

use crate::api::{Failure, Paged, Params};
use crate::Admin;
use axum::extract::State;
use axum::Json;
use roost_core::api::{Page, SubscriptionInfo};
use roost_protocol::topic::{matches, parse_subscription_filter};
use roost_protocol::{RetainHandling, SubscriptionOptions};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new().routes(routes!(subscriptions))
}

/// One subscription, EMQX's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub node: String,
    pub clientid: String,
    /// The filter as the client wrote it (`$share/<group>/...` if shared).
    pub topic: String,
    pub qos: u8,
    /// No Local, Retain As Published (0 or 1) and Retain Handling (0..2).
    pub nl: u8,
    pub rap: u8,
    pub rh: u8,
    pub durable: bool,
}

impl Subscription {
    pub fn new(node: &str, clientid: &str, topic: String, o: SubscriptionOptions) -> Self {
        Subscription {
            node: node.to_string(),
            clientid: clientid.to_string(),
            topic,
            qos: o.qos as u8,
            nl: o.no_local.into(),
            rap: o.retain_as_published.into(),
            rh: match o.retain_handling {
                RetainHandling::SendAtSubscribe => 0,
                RetainHandling::SendIfNew => 1,
                RetainHandling::DoNotSend => 2,
            },
            durable: false,
        }
    }
}

pub fn subscription_of(node: &str, s: &SubscriptionInfo) -> Subscription {
    Subscription::new(node, &s.client_id, s.topic.clone(), s.options)
}

/// Query of `GET /api/v5/subscriptions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionsQuery {
    #[param(minimum = 1)]
    pub page: Option<usize>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Only this node's (only this node's are listed anyway).
    pub node: Option<String>,
    /// Only this client's.
    pub clientid: Option<String>,
    /// Exactly this filter (without its `$share/<group>/` prefix).
    pub topic: Option<String>,
    #[param(minimum = 0, maximum = 2)]
    pub qos: Option<u8>,
    /// Only the shared subscriptions of this group.
    pub share_group: Option<String>,
    /// Only filters that match this topic name.
    pub match_topic: Option<String>,
}

/// Every session's subscriptions, by client id then filter.
#[utoipa::path(get, path = "/api/v5/subscriptions", tag = "Subscriptions",
    params(SubscriptionsQuery),
    responses(
        (status = 200, body = Paged<Subscription>),
        (status = 400, description = "A parameter out of range", body = crate::api::ApiError),
    ))]
pub async fn subscriptions(
    State(ctx): State<Arc<Admin>>,
    Params(q): Params<SubscriptionsQuery>,
) -> Result<Json<Paged<Subscription>>, Failure> {
    if q.qos.is_some_and(|qos| qos > 2) {
        return Err(Failure::invalid("qos must be 0, 1 or 2"));
    }
    let node = ctx.api.node_name();
    let everything = Page {
        page: 1,
        limit: usize::MAX,
    };
    let other_node = q.node.as_deref().is_some_and(|n| n != node);
    let all = ctx
        .api
        .subscriptions(q.clientid.as_deref(), everything)
        .data;
    let keep = |s: &SubscriptionInfo| {
        let Ok(parsed) = parse_subscription_filter(&s.topic) else {
            return false;
        };
        !other_node
            && q.topic.as_deref().is_none_or(|t| parsed.filter == t)
            && q.qos.is_none_or(|qos| s.options.qos as u8 == qos)
            && q.share_group
                .as_deref()
                .is_none_or(|g| parsed.group == Some(g))
            && q.match_topic
                .as_deref()
                .is_none_or(|t| matches(parsed.filter, t))
    };
    let data = all
        .iter()
        .filter(|s| keep(s))
        .map(|s| subscription_of(node, s))
        .collect();
    Ok(Json(Paged::of(q.page, q.limit, data)?))
}
