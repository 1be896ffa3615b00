//! `GET /api/v5/alarms` and `DELETE /api/v5/alarms`, in EMQX's shapes: the
//! active alarms (`activated=true`) or the cleared ones (`activated=false`),
//! paged; every alarm when `activated` is left out. DELETE forgets the
//! cleared ones.

use crate::api::{ApiError, Params};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roost_core::alarms::Alarm;
use roost_core::api::{Page, Paged};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// The routes of this module.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new().routes(routes!(list, clear))
}

/// Query of `GET /api/v5/alarms`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmsQuery {
    /// `true`: the active alarms; `false`: the cleared ones; absent: both.
    pub activated: Option<bool>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<usize>,
    /// Alarms per page.
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

/// One alarm as the API lists it (EMQX's fields).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmView {
    pub node: String,
    pub name: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Milliseconds it has been (or was) active.
    pub duration: u64,
    /// RFC 3339.
    pub activate_at: String,
    /// RFC 3339; `infinity` while active (as EMQX).
    pub deactivate_at: String,
    pub activated: bool,
}

/// A page of alarms.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmPage {
    pub data: Vec<AlarmView>,
    #[schema(value_type = Object)]
    pub meta: roost_core::api::Meta,
}

fn rfc3339(us: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_micros(us)).to_string()
}

fn view(node: &str, a: Alarm) -> AlarmView {
    let end = a.deactivate_at.unwrap_or_else(roost_core::alarms::now_us);
    AlarmView {
        node: node.to_string(),
        duration: end.saturating_sub(a.activate_at) / 1000,
        activate_at: rfc3339(a.activate_at),
        deactivate_at: a.deactivate_at.map_or("infinity".into(), rfc3339),
        activated: a.activated,
        name: a.name,
        message: a.message,
        details: a.details,
    }
}

/// `GET /api/v5/alarms?activated=true|false&page=&limit=`.
#[utoipa::path(get, path = "/api/v5/alarms", tag = "Alarms", params(AlarmsQuery),
    responses((status = 200, description = "a page of alarms", body = AlarmPage),
        (status = 400, description = "a bad parameter", body = ApiError)))]
pub async fn list(State(ctx): Ctx, Params(q): Params<AlarmsQuery>) -> Json<AlarmPage> {
    let alarms = ctx.api.alarms();
    let all: Vec<Alarm> = match q.activated {
        Some(true) => alarms.activated(),
        Some(false) => alarms.deactivated(),
        None => {
            let mut v = alarms.activated();
            v.extend(alarms.deactivated());
            v
        }
    };
    let node = ctx.api.node_name();
    let defaults = Page::default();
    let page = Page {
        page: q.page.unwrap_or(defaults.page),
        limit: q.limit.unwrap_or(defaults.limit),
    };
    let Paged { data, meta } = page.of(all);
    Json(AlarmPage {
        data: data.into_iter().map(|a| view(node, a)).collect(),
        meta,
    })
}

/// `DELETE /api/v5/alarms`: forgets the cleared alarms (the active ones stay).
#[utoipa::path(delete, path = "/api/v5/alarms", tag = "Alarms",
    responses((status = 204, description = "the history is cleared")))]
pub async fn clear(State(ctx): Ctx) -> StatusCode {
    ctx.api.alarms().clear_history();
    StatusCode::NO_CONTENT
}
