//! API keys, EMQX 5's `emqx_mgmt_api_api_keys`: `GET|POST /api/v5/api_key`
//! and `GET|PUT|DELETE /api/v5/api_key/{name}`. A script then calls the API
//! with HTTP basic `api_key:api_secret`; the secret is in the answer of the
//! `POST` only.

use crate::api::{ApiError, Body, Failure};
use crate::auth::{now_secs, ApiKeyRecord, Caller, KeyChange, KeyError};
use crate::login::admin_caller;
use crate::Admin;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// This module's routes.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_key, update, delete))
}

/// An API key as the API shows it (EMQX's fields).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(example = "ci-deploy")]
    pub name: String,
    /// The user name of HTTP basic.
    #[schema(example = "a4697a5c75a769f6")]
    pub api_key: String,
    /// The password of HTTP basic: in the answer of the creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_secret: Option<String>,
    /// `infinity`, or an RFC 3339 time after which the key is refused.
    #[schema(example = "infinity")]
    pub expired_at: String,
    /// RFC 3339.
    pub created_at: String,
    pub desc: String,
    pub enable: bool,
    /// Whether `expired_at` has passed.
    pub expired: bool,
    pub role: String,
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .to_string()
}

fn view(name: String, r: ApiKeyRecord, secret: Option<String>) -> ApiKeyView {
    ApiKeyView {
        name,
        api_key: r.api_key,
        api_secret: secret,
        expired_at: r.expired_at.map_or_else(|| "infinity".into(), rfc3339),
        created_at: rfc3339(r.created_at),
        desc: r.desc,
        enable: r.enable,
        expired: r.expired_at.is_some_and(|at| at <= now_secs()),
        role: r.role,
    }
}

/// `expired_at` as EMQX takes it: `infinity` (or absent, or null), an RFC
/// 3339 time, or seconds since the epoch.
fn expiry(v: &Value) -> Result<Option<u64>, Failure> {
    let bad = || {
        Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new(
                "BAD_REQUEST",
                "expired_at: infinity, an RFC 3339 time or seconds since the epoch",
            ),
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s == "infinity" => Ok(None),
        Value::String(s) => humantime::parse_rfc3339_weak(s)
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| Some(d.as_secs()))
            .ok_or_else(bad),
        Value::Number(n) => n.as_u64().map(Some).ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn failure(e: KeyError) -> Failure {
    let (status, code, message) = match &e {
        KeyError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND", "Name NOT FOUND".into()),
        KeyError::Exists(_) | KeyError::Invalid(_) => {
            (StatusCode::BAD_REQUEST, "BAD_REQUEST", e.to_string())
        }
        KeyError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            e.to_string(),
        ),
    };
    Failure(status, ApiError::new(code, message))
}

fn default_true() -> bool {
    true
}

/// Body of `POST /api/v5/api_key`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApiKey {
    /// `^[A-Za-z]+[A-Za-z0-9-_]*$`, at most 256 bytes.
    pub name: String,
    /// `infinity` (the default), an RFC 3339 time or seconds since the epoch.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub expired_at: Value,
    #[serde(default)]
    pub desc: String,
    #[serde(default = "default_true")]
    pub enable: bool,
    /// `administrator` (the only role).
    #[serde(default)]
    pub role: Option<String>,
}

/// Body of `PUT /api/v5/api_key/{name}`; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyChange {
    #[serde(default)]
    pub enable: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub expired_at: Option<Value>,
    #[serde(default)]
    pub desc: Option<String>,
}

/// `GET /api/v5/api_key`: every key, without secrets.
#[utoipa::path(get, path = "/api/v5/api_key", tag = "API Keys",
    responses((status = 200, body = Vec<ApiKeyView>), (status = 401, body = ApiError)))]
pub async fn list(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<ApiKeyView>>, Failure> {
    admin_caller(&caller)?;
    let keys = ctx.auth.keys.list();
    Ok(Json(
        keys.into_iter().map(|(n, r)| view(n, r, None)).collect(),
    ))
}

/// `POST /api/v5/api_key`: a new key, with its secret (shown this once).
#[utoipa::path(post, path = "/api/v5/api_key", tag = "API Keys",
    request_body = NewApiKey,
    responses(
        (status = 200, body = ApiKeyView),
        (status = 400, body = ApiError),
        (status = 401, body = ApiError),
    ))]
pub async fn create(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    req: Result<Body<NewApiKey>, Failure>,
) -> Result<Json<ApiKeyView>, Failure> {
    admin_caller(&caller)?;
    let Body(req) = req?;
    if req.role.as_deref().is_some_and(|r| r != crate::auth::ROLE) {
        return Err(failure(KeyError::Invalid(format!(
            "role: only {:?} is supported",
            crate::auth::ROLE
        ))));
    }
    let expired_at = expiry(&req.expired_at)?;
    let (record, secret) = ctx
        .auth
        .keys
        .create(&req.name, req.enable, expired_at, &req.desc, now_secs())
        .map_err(failure)?;
    tracing::info!(name = %req.name, "api_key_created");
    Ok(Json(view(req.name, record, Some(secret))))
}

/// `GET /api/v5/api_key/{name}`.
#[utoipa::path(get, path = "/api/v5/api_key/{name}", tag = "API Keys",
    params(("name" = String, Path)),
    responses(
        (status = 200, body = ApiKeyView),
        (status = 401, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn get_key(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<ApiKeyView>, Failure> {
    admin_caller(&caller)?;
    let r = ctx
        .auth
        .keys
        .get(&name)
        .ok_or_else(|| failure(KeyError::NotFound(name.clone())))?;
    Ok(Json(view(name, r, None)))
}

/// `PUT /api/v5/api_key/{name}`: enables or disables a key, changes its
/// expiry or description.
#[utoipa::path(put, path = "/api/v5/api_key/{name}", tag = "API Keys",
    params(("name" = String, Path)),
    request_body = ApiKeyChange,
    responses(
        (status = 200, body = ApiKeyView),
        (status = 400, body = ApiError),
        (status = 401, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn update(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    req: Result<Body<ApiKeyChange>, Failure>,
) -> Result<Json<ApiKeyView>, Failure> {
    admin_caller(&caller)?;
    let Body(req) = req?;
    let change = KeyChange {
        enable: req.enable,
        expired_at: req.expired_at.as_ref().map(expiry).transpose()?,
        desc: req.desc,
    };
    let r = ctx.auth.keys.update(&name, change).map_err(failure)?;
    Ok(Json(view(name, r, None)))
}

/// `DELETE /api/v5/api_key/{name}`.
#[utoipa::path(delete, path = "/api/v5/api_key/{name}", tag = "API Keys",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ApiError),
        (status = 404, body = ApiError),
    ))]
pub async fn delete(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, Failure> {
    admin_caller(&caller)?;
    ctx.auth.keys.delete(&name).map_err(failure)?;
    tracing::info!(name, "api_key_deleted");
    Ok(StatusCode::NO_CONTENT)
}
