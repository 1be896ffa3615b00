//! Dashboard users and their sessions, EMQX 5's `emqx_dashboard_api`:
//! `POST /api/v5/login` (a bearer token), `POST /api/v5/logout`,
//! `GET|POST /api/v5/users`, `PUT|DELETE /api/v5/users/{username}` and
//! `POST /api/v5/users/{username}/change_pwd`. Not to be confused with
//! `/api/v5/authentication/{id}/users`, the MQTT clients' users.

use crate::api::{ApiError, Body, Failure};
use crate::auth::{login_refused, AdminError, AdminUser, Caller, ClientAddr, ROLE};
use crate::Admin;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// This module's routes.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(users, add_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(change_pwd))
}

/// The dashboard user making the call: API keys may not manage users, keys
/// or sessions (as in EMQX, where these endpoints take bearer tokens only).
pub(crate) fn admin_caller(caller: &Caller) -> Result<&str, Failure> {
    match caller {
        Caller::Admin { username, .. } => Ok(username),
        Caller::ApiKey(_) => Err(Failure(
            StatusCode::UNAUTHORIZED,
            ApiError::new(
                "API_KEY_NOT_ALLOW",
                "API keys may not call this endpoint; log in as a dashboard user",
            ),
        )),
    }
}

fn failure(e: AdminError) -> Failure {
    let (status, code) = match &e {
        AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
        AdminError::LastUser => (StatusCode::BAD_REQUEST, "NOT_ALLOWED"),
        AdminError::Exists(_) | AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        AdminError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    };
    Failure(status, ApiError::new(code, e.to_string()))
}

/// Body of `POST /api/v5/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "admin")]
    pub username: String,
    #[schema(example = "public")]
    pub password: String,
}

/// The edition, as EMQX's login answer gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct License {
    /// Always `opensource`.
    pub edition: &'static str,
}

/// Answer of a successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// Send it as `Authorization: Bearer <token>`; valid for
    /// `http.token_expired_time`.
    pub token: String,
    /// Roost's version.
    pub version: &'static str,
    pub role: String,
    pub license: License,
}

/// `POST /api/v5/login`: a bearer token for a dashboard user.
#[utoipa::path(post, path = "/api/v5/login", tag = "Dashboard", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginAnswer),
        (status = 400, body = ApiError),
        (status = 401, description = "BAD_USERNAME_OR_PWD, or LOGIN_LOCKED (with Retry-After)", body = ApiError),
    ))]
pub async fn login(
    State(ctx): Ctx,
    ClientAddr(addr): ClientAddr,
    req: Result<Body<LoginRequest>, Failure>,
) -> Result<Json<LoginAnswer>, Response> {
    let Body(req) = req.map_err(IntoResponse::into_response)?;
    ctx.auth
        .login(&req.username, &req.password, addr)
        .await
        .map_err(login_refused)?;
    let role = ctx
        .auth
        .admins
        .get(&req.username)
        .map_or_else(|| ROLE.to_string(), |u| u.role);
    let token = ctx.auth.tokens.issue(&req.username, Instant::now());
    tracing::info!(username = %req.username, %addr, "dashboard_login_successful");
    Ok(Json(LoginAnswer {
        token,
        version: env!("CARGO_PKG_VERSION"),
        role,
        license: License {
            edition: "opensource",
        },
    }))
}

/// Body of `POST /api/v5/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutRequest {
    pub username: String,
}

/// `POST /api/v5/logout`: revokes the bearer token of the request.
#[utoipa::path(post, path = "/api/v5/logout", tag = "Dashboard",
    request_body = LogoutRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, body = ApiError),
        (status = 401, description = "WRONG_TOKEN_OR_USERNAME", body = ApiError),
    ))]
pub async fn logout(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    req: Result<Body<LogoutRequest>, Failure>,
) -> Result<StatusCode, Failure> {
    let Body(req) = req?;
    let revoked = match &caller {
        Caller::Admin {
            token: Some(token), ..
        } => ctx.auth.tokens.revoke(&req.username, token),
        _ => false,
    };
    if !revoked {
        return Err(Failure(
            StatusCode::UNAUTHORIZED,
            ApiError::new(
                "WRONG_TOKEN_OR_USERNAME",
                "Ensure your token & username (logout takes the bearer token of a login)",
            ),
        ));
    }
    tracing::info!(username = %req.username, "dashboard_logout_successful");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v5/users`: the dashboard users.
#[utoipa::path(get, path = "/api/v5/users", tag = "Dashboard",
    responses((status = 200, body = Vec<AdminUser>), (status = 401, body = ApiError)))]
pub async fn users(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<AdminUser>>, Failure> {
    admin_caller(&caller)?;
    Ok(Json(ctx.auth.admins.list()))
}

/// Body of `POST /api/v5/users`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAdmin {
    pub username: String,
    /// 8 to 64 characters, of at least two kinds among letters, digits and
    /// other characters.
    pub password: String,
    /// `administrator` (the default and only role).
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// `POST /api/v5/users`: adds a dashboard user.
#[utoipa::path(post, path = "/api/v5/users", tag = "Dashboard",
    request_body = NewAdmin,
    responses(
        (status = 200, body = AdminUser),
        (status = 400, description = "BAD_REQUEST: invalid or existing", body = ApiError),
        (status = 401, body = ApiError),
    ))]
pub async fn add_user(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    req: Result<Body<NewAdmin>, Failure>,
) -> Result<Json<AdminUser>, Failure> {
    admin_caller(&caller)?;
    let Body(req) = req?;
    let role = req.role.as_deref().unwrap_or(ROLE);
    let user = ctx
        .auth
        .admins
        .add(&req.username, &req.password, role, &req.description)
        .await
        .map_err(failure)?;
    tracing::info!(username = %req.username, "create_dashboard_user_success");
    Ok(Json(user))
}

/// Body of `PUT /api/v5/users/{username}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminChange {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PUT /api/v5/users/{username}`: changes a user's description (or role).
#[utoipa::path(put, path = "/api/v5/users/{username}", tag = "Dashboard",
    params(("username" = String, Path)),
    request_body = AdminChange,
    responses(
        (status = 200, body = AdminUser),
        (status = 400, body = ApiError),
        (status = 401, body = ApiError),
        (status = 404, description = "USER_NOT_FOUND", body = ApiError),
    ))]
pub async fn update_user(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
    req: Result<Body<AdminChange>, Failure>,
) -> Result<Json<AdminUser>, Failure> {
    admin_caller(&caller)?;
    let Body(req) = req?;
    let user = ctx
        .auth
        .admins
        .update(&username, req.role.as_deref(), req.description.as_deref())
        .map_err(failure)?;
    Ok(Json(user))
}

/// `DELETE /api/v5/users/{username}`: deletes a user and revokes its tokens.
/// Neither oneself nor the last user can be deleted.
#[utoipa::path(delete, path = "/api/v5/users/{username}", tag = "Dashboard",
    params(("username" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "NOT_ALLOWED: oneself or the last user", body = ApiError),
        (status = 401, body = ApiError),
        (status = 404, description = "USER_NOT_FOUND", body = ApiError),
    ))]
pub async fn delete_user(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<StatusCode, Failure> {
    if admin_caller(&caller)? == username {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("NOT_ALLOWED", "Cannot delete self"),
        ));
    }
    ctx.auth.admins.remove(&username).map_err(failure)?;
    ctx.auth.tokens.revoke_user(&username);
    tracing::info!(username, "dashboard_delete_admin_user");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v5/users/{username}/change_pwd`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The user's current password, or the calling user's own password
    /// (a Roost extension: `roost ctl admins passwd` sends its own).
    pub old_pwd: String,
    pub new_pwd: String,
}

/// `POST /api/v5/users/{username}/change_pwd`: sets a new password and
/// revokes the user's tokens.
#[utoipa::path(post, path = "/api/v5/users/{username}/change_pwd", tag = "Dashboard",
    params(("username" = String, Path)),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "BAD_REQUEST (weak or empty), ERROR_PWD_NOT_MATCH", body = ApiError),
        (status = 401, body = ApiError),
        (status = 404, description = "USER_NOT_FOUND", body = ApiError),
    ))]
pub async fn change_pwd(
    State(ctx): Ctx,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
    req: Result<Body<PasswordChange>, Failure>,
) -> Result<StatusCode, Failure> {
    let me = admin_caller(&caller)?.to_string();
    let Body(req) = req?;
    if req.old_pwd.is_empty() || req.new_pwd.is_empty() {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("BAD_REQUEST", "Old password or new password undefined"),
        ));
    }
    let admins = &ctx.auth.admins;
    if admins.get(&username).is_none() {
        return Err(failure(AdminError::NotFound(username)));
    }
    let confirmed = admins.verify(&username, &req.old_pwd).await
        || (me != username && admins.verify(&me, &req.old_pwd).await);
    if !confirmed {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            ApiError::new("ERROR_PWD_NOT_MATCH", "Old password error"),
        ));
    }
    admins
        .set_password(&username, &req.new_pwd)
        .await
        .map_err(failure)?;
    ctx.auth.tokens.revoke_user(&username);
    tracing::info!(username, by = %me, "dashboard_change_password");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_has_every_path_of_auth() {
        let (_, doc) = super::routes()
            .merge(crate::api_keys::routes())
            .split_for_parts();
        let json = serde_json::to_value(&doc).unwrap();
        let paths = &json["paths"];
        for (path, method) in [
            ("/api/v5/login", "post"),
            ("/api/v5/logout", "post"),
            ("/api/v5/users", "get"),
            ("/api/v5/users", "post"),
            ("/api/v5/users/{username}", "put"),
            ("/api/v5/users/{username}", "delete"),
            ("/api/v5/users/{username}/change_pwd", "post"),
            ("/api/v5/api_key", "get"),
            ("/api/v5/api_key", "post"),
            ("/api/v5/api_key/{name}", "get"),
            ("/api/v5/api_key/{name}", "put"),
            ("/api/v5/api_key/{name}", "delete"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}: {paths}");
        }
        assert_eq!(
            paths["/api/v5/login"]["post"]["security"],
            serde_json::json!([{}]),
            "login needs no credentials"
        );
    }
}
