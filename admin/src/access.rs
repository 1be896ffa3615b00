//! The access-control part of the REST API, on EMQX 5's paths:
//!
//! - `/api/v5/authentication/{id}/users[/{user_id}]` for the built-in user
//!   databases (`password_based:built_in_database`, `scram:built_in_database`);
//! - `/api/v5/authorization/sources/built_in_database/rules/{users,clients,all}`
//!   for the built-in ACL rules;
//! - `/api/v5/banned[/{as}/{who}]` for banned clients.
//!
//! Every change is saved to `node.data_dir` before the answer.

use super::api::{ApiError, Body, Failure, Paged, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_access::authn::{password, scram};
use roost_access::authz::builtin::{ApiRule, BuiltInRules};
use roost_access::banned::{self, BanEntry, BanKind};
use roost_access::StoreError;
use roost_core::banned::BanError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
    Failure(status, ApiError::new(code, message))
}

fn not_found(message: impl Into<String>) -> Failure {
    fail(StatusCode::NOT_FOUND, "NOT_FOUND", message)
}

fn bad_request(message: impl Into<String>) -> Failure {
    fail(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

impl From<BanError> for Failure {
    fn from(e: BanError) -> Failure {
        match e {
            BanError::Invalid(why) => bad_request(why),
            BanError::Unavailable => fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                e.to_string(),
            ),
            BanError::Store(why) => fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", why),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        tracing::error!(error = %e, "access_store_write_failed");
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            e.to_string(),
        )
    }
}

/// A list answer, EMQX-style: everything on page 1.
fn page(data: Vec<Value>) -> Json<Value> {
    let count = data.len();
    Json(json!({
        "data": data,
        "meta": { "count": count, "page": 1, "limit": count.max(1), "hasnext": false }
    }))
}

/// This module's routes.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(users, add_user))
        .routes(routes!(user, update_user, delete_user))
        .routes(routes!(rules, add_rules, delete_all_rules))
        .routes(routes!(rules_of, put_rules_of, delete_rules_of))
        .routes(routes!(banned, add_ban))
        .routes(routes!(delete_ban))
}

// ---- users ----------------------------------------------------------------

/// Which built-in user table an authenticator id names (404 if it is not configured).
#[derive(Clone, Copy)]
enum UserDb {
    Password,
    Scram,
}

fn user_db(ctx: &Admin, id: &str) -> Result<UserDb, Failure> {
    let db = match id {
        "password_based:built_in_database" => UserDb::Password,
        "scram:built_in_database" => UserDb::Scram,
        _ => {
            return Err(not_found(format!(
                "no authenticator {id} with a user database"
            )))
        }
    };
    if !ctx.access.authenticator_ids.contains(&id) {
        return Err(not_found(format!(
            "authenticator {id} is not configured (add it to `authentication`)"
        )));
    }
    Ok(db)
}

/// Body of `POST .../users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub user_id: String,
    pub password: String,
    #[serde(default)]
    pub is_superuser: bool,
}

/// Body of `PUT .../users/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub password: Option<String>,
    pub is_superuser: Option<bool>,
}

/// A user as the API shows it (never a hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub is_superuser: bool,
}

fn list_of(ctx: &Admin, db: UserDb) -> Vec<Value> {
    ctx.access.users.read(|u| match db {
        UserDb::Password => u
            .password
            .iter()
            .map(|(id, p)| json!({"user_id": id, "is_superuser": p.is_superuser}))
            .collect(),
        UserDb::Scram => u
            .scram
            .iter()
            .map(|(id, p)| json!({"user_id": id, "is_superuser": p.is_superuser}))
            .collect(),
    })
}

/// `GET /api/v5/authentication/{id}/users`.
#[utoipa::path(get, path = "/api/v5/authentication/{id}/users", tag = "Authentication", params(("id" = String, Path, description = "password_based:built_in_database or scram:built_in_database")), responses((status = 200, body = Paged<UserView>), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn users(State(ctx): Ctx, PathOf(id): PathOf<String>) -> Result<Json<Value>, Failure> {
    let db = user_db(&ctx, &id)?;
    Ok(page(list_of(&ctx, db)))
}

/// `GET /api/v5/authentication/{id}/users/{user_id}`.
#[utoipa::path(get, path = "/api/v5/authentication/{id}/users/{user_id}", tag = "Authentication", params(("id" = String, Path, description = "password_based:built_in_database or scram:built_in_database"), ("user_id" = String, Path)), responses((status = 200, body = UserView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn user(
    State(ctx): Ctx,
    PathOf((id, user_id)): PathOf<(String, String)>,
) -> Result<Json<UserView>, Failure> {
    let db = user_db(&ctx, &id)?;
    let superuser = ctx.access.users.read(|u| match db {
        UserDb::Password => u.password.get(&user_id).map(|p| p.is_superuser),
        UserDb::Scram => u.scram.get(&user_id).map(|p| p.is_superuser),
    });
    let is_superuser = superuser.ok_or_else(|| not_found(format!("no user {user_id}")))?;
    Ok(Json(UserView {
        user_id,
        is_superuser,
    }))
}

/// Hashes off the async threads (argon2id and PBKDF2 are slow on purpose).
async fn hashed(ctx: &Admin, db: UserDb, password: String, superuser: bool) -> Hashed {
    let hash_cfg = ctx.access.password_hash.clone().unwrap_or_default();
    let iterations = ctx.access.scram_iterations.unwrap_or(4096);
    tokio::task::spawn_blocking(move || match db {
        UserDb::Password => {
            Hashed::Password(password::hash(&hash_cfg, password.as_bytes(), superuser))
        }
        UserDb::Scram => Hashed::Scram(scram::new_user(password.as_bytes(), iterations, superuser)),
    })
    .await
    .expect("hashing does not panic")
}

enum Hashed {
    Password(password::PasswordUser),
    Scram(scram::ScramUser),
}

/// `POST /api/v5/authentication/{id}/users`: 201, or 409 if the user exists.
#[utoipa::path(post, path = "/api/v5/authentication/{id}/users", tag = "Authentication", params(("id" = String, Path, description = "password_based:built_in_database or scram:built_in_database")), request_body = NewUser, responses((status = 201, body = UserView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn add_user(
    State(ctx): Ctx,
    PathOf(id): PathOf<String>,
    Body(req): Body<NewUser>,
) -> Result<Response, Failure> {
    let db = user_db(&ctx, &id)?;
    if req.user_id.is_empty() || req.password.is_empty() {
        return Err(bad_request("user_id and password must not be empty"));
    }
    let exists = ctx.access.users.read(|u| match db {
        UserDb::Password => u.password.contains_key(&req.user_id),
        UserDb::Scram => u.scram.contains_key(&req.user_id),
    });
    if exists {
        return Err(fail(
            StatusCode::CONFLICT,
            "ALREADY_EXISTS",
            format!("user {} already exists", req.user_id),
        ));
    }
    let user = hashed(&ctx, db, req.password, req.is_superuser).await;
    let user_id = req.user_id.clone();
    ctx.access.users.update(|u| match user {
        Hashed::Password(p) => {
            u.password.insert(user_id, p);
        }
        Hashed::Scram(s) => {
            u.scram.insert(user_id, s);
        }
    })?;
    tracing::info!(authenticator = %id, user_id = %req.user_id, "user_added");
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            user_id: req.user_id,
            is_superuser: req.is_superuser,
        }),
    )
        .into_response())
}

/// `PUT /api/v5/authentication/{id}/users/{user_id}`: a new password and/or flag.
#[utoipa::path(put, path = "/api/v5/authentication/{id}/users/{user_id}", tag = "Authentication", params(("id" = String, Path, description = "password_based:built_in_database or scram:built_in_database"), ("user_id" = String, Path)), request_body = UserUpdate, responses((status = 200, body = UserView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update_user(
    State(ctx): Ctx,
    PathOf((id, user_id)): PathOf<(String, String)>,
    Body(req): Body<UserUpdate>,
) -> Result<Json<UserView>, Failure> {
    let db = user_db(&ctx, &id)?;
    let current = ctx.access.users.read(|u| match db {
        UserDb::Password => u.password.get(&user_id).map(|p| p.is_superuser),
        UserDb::Scram => u.scram.get(&user_id).map(|p| p.is_superuser),
    });
    let current = current.ok_or_else(|| not_found(format!("no user {user_id}")))?;
    let is_superuser = req.is_superuser.unwrap_or(current);
    let fresh = match req.password {
        Some(p) if p.is_empty() => return Err(bad_request("password must not be empty")),
        Some(p) => Some(hashed(&ctx, db, p, is_superuser).await),
        None => None,
    };
    let found = ctx.access.users.update(|u| match (db, fresh) {
        (_, Some(Hashed::Password(p))) => u.password.insert(user_id.clone(), p).is_some(),
        (_, Some(Hashed::Scram(s))) => u.scram.insert(user_id.clone(), s).is_some(),
        (UserDb::Password, None) => u
            .password
            .get_mut(&user_id)
            .map(|p| p.is_superuser = is_superuser)
            .is_some(),
        (UserDb::Scram, None) => u
            .scram
            .get_mut(&user_id)
            .map(|p| p.is_superuser = is_superuser)
            .is_some(),
    })?;
    if !found {
        return Err(not_found(format!("no user {user_id}")));
    }
    Ok(Json(UserView {
        user_id,
        is_superuser,
    }))
}

/// `DELETE /api/v5/authentication/{id}/users/{user_id}`: 204, or 404.
#[utoipa::path(delete, path = "/api/v5/authentication/{id}/users/{user_id}", tag = "Authentication", params(("id" = String, Path, description = "password_based:built_in_database or scram:built_in_database"), ("user_id" = String, Path)), responses((status = 204, description = "Deleted"), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_user(
    State(ctx): Ctx,
    PathOf((id, user_id)): PathOf<(String, String)>,
) -> Result<StatusCode, Failure> {
    let db = user_db(&ctx, &id)?;
    let removed = ctx.access.users.update(|u| match db {
        UserDb::Password => u.password.remove(&user_id).is_some(),
        UserDb::Scram => u.scram.remove(&user_id).is_some(),
    })?;
    if !removed {
        return Err(not_found(format!("no user {user_id}")));
    }
    tracing::info!(authenticator = %id, user_id = %user_id, "user_deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ---- built-in ACL rules ---------------------------------------------------

/// `users` or `clients`.
#[derive(Clone, Copy)]
enum RuleTable {
    Users,
    Clients,
}

fn rule_table(kind: &str) -> Result<RuleTable, Failure> {
    match kind {
        "users" => Ok(RuleTable::Users),
        "clients" => Ok(RuleTable::Clients),
        _ => Err(not_found(format!(
            "no rule table {kind} (users, clients or all)"
        ))),
    }
}

impl RuleTable {
    fn field(self) -> &'static str {
        match self {
            RuleTable::Users => "username",
            RuleTable::Clients => "clientid",
        }
    }

    fn map(self, r: &BuiltInRules) -> &std::collections::BTreeMap<String, Vec<ApiRule>> {
        match self {
            RuleTable::Users => &r.users,
            RuleTable::Clients => &r.clients,
        }
    }

    fn map_mut(
        self,
        r: &mut BuiltInRules,
    ) -> &mut std::collections::BTreeMap<String, Vec<ApiRule>> {
        match self {
            RuleTable::Users => &mut r.users,
            RuleTable::Clients => &mut r.clients,
        }
    }

    /// Reads `{"username"|"clientid": ..., "rules": [...]}`.
    fn entry(self, v: &Value) -> Result<(String, Vec<ApiRule>), Failure> {
        let who = v
            .get(self.field())
            .and_then(|w| w.as_str())
            .filter(|w| !w.is_empty())
            .ok_or_else(|| bad_request(format!("each entry needs a {}", self.field())))?;
        let rules = v
            .get("rules")
            .cloned()
            .ok_or_else(|| bad_request("each entry needs rules"))?;
        let rules: Vec<ApiRule> =
            serde_json::from_value(rules).map_err(|e| bad_request(e.to_string()))?;
        Ok((who.to_string(), rules))
    }
}

/// `GET .../rules/{users|clients}`.
#[utoipa::path(get, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)")), responses((status = 200, description = "users/clients: a page of {username|clientid, rules}; all: {rules}", body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn rules(State(ctx): Ctx, PathOf(kind): PathOf<String>) -> Result<Json<Value>, Failure> {
    if kind == "all" {
        return Ok(Json(ctx.access.rules.read(|r| json!({"rules": r.all}))));
    }
    let t = rule_table(&kind)?;
    let data = ctx.access.rules.read(|r| {
        t.map(r)
            .iter()
            .map(|(who, rules)| json!({ t.field(): who, "rules": rules }))
            .collect()
    });
    Ok(page(data))
}

/// `POST .../rules/{users|clients}` with `[{"username": "u", "rules": [...]}]`
/// (replacing each one's rules), or `POST .../rules/all` with `{"rules": [...]}`.
#[utoipa::path(post, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)")), request_body(content = Object, description = "users/clients: [{username|clientid, rules: [{topic, permission, action}]}]; all: {rules: [...]}"), responses((status = 204, description = "Saved"), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_rules(
    State(ctx): Ctx,
    PathOf(kind): PathOf<String>,
    Body(body): Body<Value>,
) -> Result<StatusCode, Failure> {
    if kind == "all" {
        let rules = body
            .get("rules")
            .cloned()
            .ok_or_else(|| bad_request("expected {\"rules\": [...]}"))?;
        let rules: Vec<ApiRule> =
            serde_json::from_value(rules).map_err(|e| bad_request(e.to_string()))?;
        ctx.access.rules.update(|r| r.all = rules)?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let t = rule_table(&kind)?;
    let entries = body
        .as_array()
        .ok_or_else(|| bad_request("expected a list of entries"))?
        .iter()
        .map(|e| t.entry(e))
        .collect::<Result<Vec<_>, _>>()?;
    ctx.access.rules.update(|r| t.map_mut(r).extend(entries))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../rules/all`: removes the rules for all clients.
#[utoipa::path(delete, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)")), responses((status = 204, description = "Deleted"), (status = 400, body = ApiError)))]
pub async fn delete_all_rules(
    State(ctx): Ctx,
    PathOf(kind): PathOf<String>,
) -> Result<StatusCode, Failure> {
    if kind != "all" {
        return Err(bad_request(format!(
            "DELETE .../rules/{kind}/{{who}} removes one entry; only rules/all is deleted whole"
        )));
    }
    ctx.access.rules.update(|r| r.all.clear())?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../rules/{users|clients}/{who}`.
#[utoipa::path(get, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}/{who}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)"), ("who" = String, Path, description = "The user name or client id")), responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn rules_of(
    State(ctx): Ctx,
    PathOf((kind, who)): PathOf<(String, String)>,
) -> Result<Json<Value>, Failure> {
    let t = rule_table(&kind)?;
    let rules = ctx.access.rules.read(|r| t.map(r).get(&who).cloned());
    let rules = rules.ok_or_else(|| not_found(format!("no rules for {who}")))?;
    Ok(Json(json!({ t.field(): who, "rules": rules })))
}

/// `PUT .../rules/{users|clients}/{who}` with `{"rules": [...]}`.
#[utoipa::path(put, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}/{who}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)"), ("who" = String, Path, description = "The user name or client id")), request_body(content = Object, description = "{rules: [{topic, permission, action}]}"), responses((status = 204, description = "Saved"), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn put_rules_of(
    State(ctx): Ctx,
    PathOf((kind, who)): PathOf<(String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode, Failure> {
    let t = rule_table(&kind)?;
    let mut body = body;
    if let Some(map) = body.as_object_mut() {
        map.insert(t.field().into(), Value::String(who));
    }
    let (who, rules) = t.entry(&body)?;
    ctx.access
        .rules
        .update(|r| t.map_mut(r).insert(who, rules))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../rules/{users|clients}/{who}`.
#[utoipa::path(delete, path = "/api/v5/authorization/sources/built_in_database/rules/{kind}/{who}", tag = "Authorization", params(("kind" = String, Path, description = "users, clients (or all where said)"), ("who" = String, Path, description = "The user name or client id")), responses((status = 204, description = "Deleted"), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_rules_of(
    State(ctx): Ctx,
    PathOf((kind, who)): PathOf<(String, String)>,
) -> Result<StatusCode, Failure> {
    let t = rule_table(&kind)?;
    if !ctx
        .access
        .rules
        .update(|r| t.map_mut(r).remove(&who).is_some())?
    {
        return Err(not_found(format!("no rules for {who}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- banned ---------------------------------------------------------------

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn parse_time(field: &str, v: &str) -> Result<u64, Failure> {
    humantime::parse_rfc3339_weak(v)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| bad_request(format!("{field}: {v:?} is not an RFC 3339 time")))
}

fn ban_view(b: &BanEntry) -> Value {
    json!({
        "as": b.kind,
        "who": b.who,
        "by": b.by,
        "reason": b.reason,
        "at": rfc3339(b.at),
        "until": b.until.map(rfc3339),
    })
}

/// Body of `POST /api/v5/banned` (EMQX's fields; times in RFC 3339).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBan {
    #[serde(rename = "as")]
    pub kind: String,
    pub who: String,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
    /// Absent or null = forever.
    #[serde(default)]
    pub until: Option<String>,
}

/// `GET /api/v5/banned`: the bans in force.
#[utoipa::path(get, path = "/api/v5/banned", tag = "Banned", responses((status = 200, description = "A page of bans: as, who, by, reason, at, until", body = Object), (status = 503, body = ApiError)))]
pub async fn banned(State(ctx): Ctx) -> Result<Json<Value>, Failure> {
    Ok(page(ctx.api.bans()?.iter().map(ban_view).collect()))
}

/// `POST /api/v5/banned`: adds (or replaces) a ban and kicks the connected
/// clients it covers, as EMQX does.
#[utoipa::path(post, path = "/api/v5/banned", tag = "Banned", request_body = NewBan, responses((status = 200, description = "The ban", body = Object), (status = 400, body = ApiError), (status = 503, body = ApiError)))]
pub async fn add_ban(State(ctx): Ctx, Body(req): Body<NewBan>) -> Result<Json<Value>, Failure> {
    let kind = BanKind::parse(&req.kind).ok_or_else(|| {
        bad_request(format!(
            "as: {:?} is not clientid, username or peerhost",
            req.kind
        ))
    })?;
    if req.who.is_empty() {
        return Err(bad_request("who must not be empty"));
    }
    if kind == BanKind::Peerhost {
        roost_access::authz::file::ip(&req.who).map_err(|e| bad_request(format!("who: {e}")))?;
    }
    let at = match &req.at {
        Some(at) => parse_time("at", at)?,
        None => banned::now(),
    };
    let until = req
        .until
        .as_deref()
        .map(|u| parse_time("until", u))
        .transpose()?;
    if until.is_some_and(|u| u <= banned::now()) {
        return Err(bad_request("until is in the past"));
    }
    let entry = BanEntry {
        kind,
        who: req.who,
        by: req.by.unwrap_or_else(|| "api".into()),
        reason: req.reason.unwrap_or_default(),
        at,
        until,
    };
    let view = ban_view(&entry);
    let kicked = ctx.api.ban(entry)?;
    tracing::info!(ban = %view, kicked, "ban_added");
    Ok(Json(view))
}

/// `DELETE /api/v5/banned/{as}/{who}`: 204, or 404.
#[utoipa::path(delete, path = "/api/v5/banned/{as}/{who}", tag = "Banned", params(("as" = String, Path, description = "clientid, username or peerhost", pattern = "^(clientid|username|peerhost)$"), ("who" = String, Path)), responses((status = 204, description = "Lifted"), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)))]
pub async fn delete_ban(
    State(ctx): Ctx,
    PathOf((kind, who)): PathOf<(String, String)>,
) -> Result<StatusCode, Failure> {
    let kind = BanKind::parse(&kind)
        .ok_or_else(|| bad_request(format!("{kind:?} is not clientid, username or peerhost")))?;
    if !ctx.api.unban(kind, &who)? {
        return Err(not_found(format!("no ban on {who}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
