//! The rule engine's REST API, EMQX 5's paths and shapes
//! (`emqx_rule_engine_api`):
//!
//! - `GET /api/v5/rules` (paged, with EMQX's filters `enable`, `from`,
//!   `like_id`, `like_from`, `like_description`, `match_from`), `POST` (201);
//! - `GET`, `PUT`, `DELETE /api/v5/rules/{id}`;
//! - `GET /api/v5/rules/{id}/metrics` (`{"id", "metrics", "node_metrics"}`),
//!   `PUT /api/v5/rules/{id}/metrics/reset` (204);
//! - `POST /api/v5/rule_test` (200 with the output, 412 NOT_MATCH);
//! - `GET /api/v5/rule_events`.
//!
//! The rules themselves live in [`roost_rules::RuleEngine`]; this module only
//! speaks HTTP for it.

use crate::api::{ApiError, Body, Failure, Paged, Params, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_rules::{EventInfo, RuleEngine, RuleError, RuleInfo, RuleMetrics, RuleSpec, TestError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(rule_metrics))
        .routes(routes!(reset_metrics))
        .routes(routes!(rule_test))
        .routes(routes!(rule_events))
}

const ID: &str = "The rule's id, URL-encoded";

// ---- shapes ---------------------------------------------------------------

/// A rule as the API answers it (EMQX's `rule_info`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub sql: String,
    /// `{"function": "republish", "args": {...}}`, `{"function": "console"}`,
    /// or a data-integration action by reference (`"http:my_webhook"`).
    pub actions: Vec<Value>,
    pub enable: bool,
    pub description: String,
    /// The FROM list of the SQL: topic filters and `$events/...` topics.
    pub from: Vec<String>,
    /// RFC 3339, milliseconds.
    pub created_at: String,
}

impl From<RuleInfo> for RuleView {
    fn from(r: RuleInfo) -> RuleView {
        RuleView {
            actions: r
                .actions
                .iter()
                .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
                .collect(),
            id: r.id,
            name: r.name,
            sql: r.sql,
            enable: r.enable,
            description: r.description,
            from: r.from,
            created_at: r.created_at,
        }
    }
}

/// The body of `POST /api/v5/rules` and `PUT /api/v5/rules/{id}` (EMQX's
/// `rule_creation`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleCreation {
    /// Made up (`rule_<random>`) when absent; ignored by PUT (the path's).
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    /// EMQX's rule SQL, e.g. `SELECT payload.temp AS t FROM "sensors/#" WHERE payload.temp > 30`.
    pub sql: String,
    /// Each `{"function": "republish", "args": {"topic": "...", "qos": 0, "retain": false,
    /// "payload": "${t}"}}`, `{"function": "console"}`, or `"type:name"`.
    #[serde(default)]
    pub actions: Vec<Value>,
    #[serde(default = "enabled")]
    pub enable: bool,
    #[serde(default)]
    pub description: String,
}

fn enabled() -> bool {
    true
}

impl RuleCreation {
    fn into_spec(self, id: Option<String>) -> Result<RuleSpec, Failure> {
        let actions = self
            .actions
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Failure::bad_request(format!(
                    "invalid action: {e}; an action is {{\"function\": \"republish\", \
                     \"args\": {{...}}}}, {{\"function\": \"console\"}} or \"type:name\""
                ))
            })?;
        Ok(RuleSpec {
            id,
            name: self.name,
            sql: self.sql,
            actions,
            enable: self.enable,
            description: self.description,
        })
    }
}

/// A rule's counters, EMQX's names (`failed.exception`, `actions.total`,
/// `matched.rate`...).
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsView {
    pub matched: u64,
    pub passed: u64,
    pub failed: u64,
    #[serde(rename = "failed.exception")]
    pub failed_exception: u64,
    #[serde(rename = "failed.no_result")]
    pub failed_no_result: u64,
    /// Events dropped for this rule because its worker queue was full (Roost's own).
    #[serde(rename = "dropped.queue_full")]
    pub dropped_queue_full: u64,
    #[serde(rename = "actions.total")]
    pub actions_total: u64,
    #[serde(rename = "actions.success")]
    pub actions_success: u64,
    #[serde(rename = "actions.failed")]
    pub actions_failed: u64,
    /// Matches per second.
    #[serde(rename = "matched.rate")]
    pub matched_rate: f64,
    #[serde(rename = "matched.rate.max")]
    pub matched_rate_max: f64,
    #[serde(rename = "matched.rate.last5m")]
    pub matched_rate_last5m: f64,
}

impl From<RuleMetrics> for MetricsView {
    fn from(m: RuleMetrics) -> MetricsView {
        MetricsView {
            matched: m.matched,
            passed: m.passed,
            failed: m.failed,
            failed_exception: m.failed_exception,
            failed_no_result: m.failed_no_result,
            dropped_queue_full: m.dropped_queue_full,
            actions_total: m.actions_total,
            actions_success: m.actions_success,
            actions_failed: m.actions_failed,
            matched_rate: m.matched_rate,
            matched_rate_max: m.matched_rate_max,
            matched_rate_last5m: m.matched_rate_last5m,
        }
    }
}

/// One node's counters of a rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeMetrics {
    pub node: String,
    pub metrics: MetricsView,
}

/// `GET /api/v5/rules/{id}/metrics`: the cluster's sum and each node's.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleMetricsResp {
    pub id: String,
    pub metrics: MetricsView,
    pub node_metrics: Vec<NodeMetrics>,
}

/// The body of `POST /api/v5/rule_test`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleTest {
    pub sql: String,
    /// `event_type` (`message_publish`, `client_connected`...; default
    /// `message_publish`) and the event's columns: `topic`, `payload`, `qos`,
    /// `clientid`, `username`...; the missing ones get EMQX's defaults.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub context: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// An event topic rules can select from.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// `$events/client_connected`..., or `message_publish` for plain topics.
    pub event: String,
    pub title: String,
    pub description: String,
    pub columns: Vec<String>,
    pub sql_example: String,
}

impl From<EventInfo> for EventView {
    fn from(e: EventInfo) -> EventView {
        EventView {
            event: e.event,
            title: e.title,
            description: e.description,
            columns: e.columns,
            sql_example: e.sql_example,
        }
    }
}

// ---- errors ---------------------------------------------------------------

fn rule_not_found() -> Failure {
    Failure::not_found("NOT_FOUND", "Rule Id Not Found")
}

impl From<RuleError> for Failure {
    fn from(e: RuleError) -> Failure {
        match e {
            RuleError::Sql(_) | RuleError::Action(_) => Failure::bad_request(e.to_string()),
            // EMQX answers 400 for an id taken.
            RuleError::Exists(_) => Failure::bad_request("rule id already exists"),
            RuleError::NotFound(_) => rule_not_found(),
            RuleError::Store(_) => {
                tracing::error!(error = %e, "rules_store_write_failed");
                Failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiError::new("INTERNAL_ERROR", e.to_string()),
                )
            }
        }
    }
}

impl From<TestError> for Failure {
    fn from(e: TestError) -> Failure {
        match e {
            TestError::NoMatch => Failure(
                StatusCode::PRECONDITION_FAILED,
                ApiError::new("NOT_MATCH", "SQL Not Match"),
            ),
            TestError::Sql(_) | TestError::Context(_) | TestError::Eval(_) => {
                Failure::bad_request(e.to_string())
            }
        }
    }
}

/// An id the API can serve back at `/rules/{id}`.
fn check_id(id: &str) -> Result<(), Failure> {
    if id.is_empty() {
        return Err(Failure::bad_request("empty rule id is not allowed"));
    }
    if id.chars().any(|c| c.is_control()) || id.len() > 256 {
        return Err(Failure::bad_request(
            "a rule id has at most 256 bytes and no control characters",
        ));
    }
    Ok(())
}

// ---- handlers -------------------------------------------------------------

/// Query of the list: paging and EMQX's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RulesQuery {
    #[param(minimum = 1)]
    pub page: Option<usize>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// Only the enabled (`true`) or disabled (`false`) rules.
    pub enable: Option<bool>,
    /// Only the rules with this exact FROM entry.
    pub from: Option<String>,
    /// Only the ids containing this.
    pub like_id: Option<String>,
    /// Only the rules with a FROM entry containing this.
    pub like_from: Option<String>,
    /// Only the descriptions containing this.
    pub like_description: Option<String>,
    /// Only the rules with a FROM filter matching this topic.
    pub match_from: Option<String>,
}

impl RulesQuery {
    fn keeps(&self, r: &RuleInfo) -> bool {
        let contains =
            |hay: &str, needle: &Option<String>| needle.as_deref().is_none_or(|n| hay.contains(n));
        self.enable.is_none_or(|e| r.enable == e)
            && self
                .from
                .as_deref()
                .is_none_or(|f| r.from.iter().any(|x| x == f))
            && contains(&r.id, &self.like_id)
            && self
                .like_from
                .as_deref()
                .is_none_or(|f| r.from.iter().any(|x| x.contains(f)))
            && contains(&r.description, &self.like_description)
            && self
                .match_from
                .as_deref()
                .is_none_or(|t| r.from.iter().any(|f| roost_protocol::topic::matches(f, t)))
    }
}

/// The rules, newest first.
#[utoipa::path(get, path = "/api/v5/rules", tag = "Rules", params(RulesQuery),
    responses(
        (status = 200, body = Paged<RuleView>),
        (status = 400, description = "A parameter out of range", body = ApiError),
    ))]
pub async fn list_rules(
    State(ctx): Ctx,
    Params(q): Params<RulesQuery>,
) -> Result<Json<Paged<RuleView>>, Failure> {
    let mut all: Vec<RuleInfo> = ctx
        .rules
        .list()
        .into_iter()
        .filter(|r| q.keeps(r))
        .collect();
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let data = all.into_iter().map(RuleView::from).collect();
    Ok(Json(Paged::of(q.page, q.limit, data)?))
}

/// Creates a rule; 400 for bad SQL or actions, or an id taken.
#[utoipa::path(post, path = "/api/v5/rules", tag = "Rules", request_body = RuleCreation,
    responses(
        (status = 201, body = RuleView),
        (status = 400, description = "Bad SQL or actions, or the id exists", body = ApiError),
        (status = 500, description = "The rules could not be stored", body = ApiError),
    ))]
pub async fn create_rule(
    State(ctx): Ctx,
    Body(req): Body<RuleCreation>,
) -> Result<Response, Failure> {
    if let Some(id) = &req.id {
        check_id(id)?;
    }
    let id = req.id.clone();
    let spec = req.into_spec(id)?;
    let rule = ctx.rules.create(spec)?;
    tracing::info!(rule_id = %rule.id, "rule_created");
    Ok((StatusCode::CREATED, Json(RuleView::from(rule))).into_response())
}

/// One rule.
#[utoipa::path(get, path = "/api/v5/rules/{id}", tag = "Rules",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = RuleView),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn get_rule(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
) -> Result<Json<RuleView>, Failure> {
    ctx.rules
        .get(&id)
        .map(|r| Json(r.into()))
        .ok_or_else(rule_not_found)
}

/// Replaces a rule (its counters are kept).
#[utoipa::path(put, path = "/api/v5/rules/{id}", tag = "Rules",
    params(("id" = String, Path, description = ID)), request_body = RuleCreation,
    responses(
        (status = 200, body = RuleView),
        (status = 400, description = "Bad SQL or actions", body = ApiError),
        (status = 404, body = ApiError),
        (status = 500, description = "The rules could not be stored", body = ApiError),
    ))]
pub async fn update_rule(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    req: Result<Body<RuleCreation>, Failure>,
) -> Result<Json<RuleView>, Failure> {
    if ctx.rules.get(&id).is_none() {
        return Err(rule_not_found());
    }
    let Body(req) = req?;
    let spec = req.into_spec(Some(id.clone()))?;
    let rule = ctx.rules.update(&id, spec)?;
    tracing::info!(rule_id = %rule.id, "rule_updated");
    Ok(Json(rule.into()))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/api/v5/rules/{id}", tag = "Rules",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
        (status = 500, description = "The rules could not be stored", body = ApiError),
    ))]
pub async fn delete_rule(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    if !ctx.rules.delete(&id)? {
        return Err(rule_not_found());
    }
    tracing::info!(rule_id = %id, "rule_deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A rule's counters: the sum over the nodes, and each node's (this node's
/// only: each node counts the rules it runs).
#[utoipa::path(get, path = "/api/v5/rules/{id}/metrics", tag = "Rules",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, body = RuleMetricsResp),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn rule_metrics(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
) -> Result<Json<RuleMetricsResp>, Failure> {
    let m = ctx.rules.metrics(&id).ok_or_else(rule_not_found)?;
    Ok(Json(RuleMetricsResp {
        id,
        metrics: m.clone().into(),
        node_metrics: vec![NodeMetrics {
            node: ctx.api.node_name().to_string(),
            metrics: m.into(),
        }],
    }))
}

/// Zeroes a rule's counters.
#[utoipa::path(put, path = "/api/v5/rules/{id}/metrics/reset", tag = "Rules",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Reset"),
        (status = 400, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn reset_metrics(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
) -> Result<StatusCode, Failure> {
    if !ctx.rules.reset_metrics(&id) {
        return Err(rule_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Runs SQL once over a context and answers what it selects (no action
/// runs); 412 NOT_MATCH when the FROM or the WHERE does not match.
#[utoipa::path(post, path = "/api/v5/rule_test", tag = "Rules", request_body = RuleTest,
    responses(
        (status = 200, description = "The selected fields", body = Object),
        (status = 400, description = "Bad SQL or context, or the SQL failed", body = ApiError),
        (status = 412, description = "SQL Not Match", body = ApiError),
    ))]
pub async fn rule_test(Body(req): Body<RuleTest>) -> Result<Json<Value>, Failure> {
    if !req.context.is_object() {
        return Err(Failure::bad_request("context must be a JSON object"));
    }
    Ok(Json(RuleEngine::test(&req.sql, &req.context)?))
}

/// The event topics rules can select from, with their columns.
#[utoipa::path(get, path = "/api/v5/rule_events", tag = "Rules",
    responses((status = 200, body = Vec<EventView>)))]
pub async fn rule_events() -> Json<Vec<EventView>> {
    Json(RuleEngine::events().into_iter().map(Into::into).collect())
}
