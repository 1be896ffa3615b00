//! `/api/v5/trace`: log trace as EMQX 5's API has it. A trace follows a client
//! id, a topic filter or an IP address from `start_at` to `end_at` and writes
//! its packets and events to a log file; the log can be read in pages or
//! downloaded.
//!
//! The registry and the matching are roost-core's ([`Tracer`]); this module
//! validates requests, opens each trace's file and its writer ([`FileSink`]:
//! a bounded queue and a task, so the broker's tasks never wait on the disk),
//! and calls [`Tracer::refresh`] at each trace's start and end.
//!
//! Roost's departures: `file` in the POST body names the log file (what
//! `roost ctl trace start ... <File>` sends, as `emqx ctl` writes the file on
//! the node); without it the log is `node.data_dir`/trace/<name>.log. Download
//! answers the plain-text log, not a zip. `log_size` is keyed by this node.

mod sink;

use crate::api::{ApiError, Body, Failure, Params, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_core::trace::{PayloadEncode, TraceError, TraceFilter, TraceInfo, TraceSpec, Tracer};
use serde::{Deserialize, Serialize};
use sink::FileSink;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// How long a trace runs when `end_at` is not given (EMQX's dashboard default).
const DEFAULT_DURATION: Duration = Duration::from_secs(10 * 60);
/// `bytes` of a log page when not given, and the most one page may hold.
const DEFAULT_PAGE_BYTES: u64 = 1000;
const MAX_PAGE_BYTES: u64 = 8 * 1024 * 1024;

/// This module's routes.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(list, create, clear))
        .routes(routes!(delete))
        .routes(routes!(stop))
        .routes(routes!(log))
        .routes(routes!(download))
}

/// Body of `POST /api/v5/trace`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTrace {
    /// Letters, digits, `-` and `_`, at most 256.
    pub name: String,
    /// `clientid`, `topic` or `ip_address`.
    #[serde(rename = "type")]
    pub kind: String,
    pub clientid: Option<String>,
    /// A topic filter: wildcards allowed.
    pub topic: Option<String>,
    pub ip_address: Option<String>,
    /// RFC 3339 or Unix seconds; now if left out.
    #[schema(value_type = Option<String>)]
    pub start_at: Option<serde_json::Value>,
    /// RFC 3339 or Unix seconds; 10 minutes after `start_at` if left out.
    #[schema(value_type = Option<String>)]
    pub end_at: Option<serde_json::Value>,
    /// `text` (default), `hex` or `hidden`.
    pub payload_encode: Option<String>,
    /// Roost: the log file on the broker's machine (what `roost ctl trace
    /// start` sends): an absolute path to a file that does not exist yet, in
    /// a directory that does; `node.data_dir`/trace/<name>.log if left out.
    pub file: Option<String>,
    /// `text` (the only one Roost writes).
    pub formatter: Option<String>,
}

/// A trace as `GET /api/v5/trace` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clientid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// `waiting`, `running` or `stopped`.
    pub status: &'static str,
    pub payload_encode: &'static str,
    /// RFC 3339.
    pub start_at: String,
    pub end_at: String,
    /// Bytes of the log file, by node.
    pub log_size: BTreeMap<String, u64>,
    /// Roost: the log file.
    pub file: String,
    /// Roost: lines dropped because the writer could not keep up.
    pub dropped: u64,
}

/// Query of `GET /api/v5/trace/{name}/log`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Byte offset to read from (0 if left out).
    pub position: Option<u64>,
    /// At most this many bytes (1000 if left out).
    pub bytes: Option<u64>,
    /// The node whose log to read: only this node's can be.
    pub node: Option<String>,
}

/// A page of a trace's log: EMQX's `{items, meta: {position, bytes}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    /// The log text read.
    pub items: String,
    pub meta: LogMeta,
}

/// Where the next page starts, and how many bytes this one holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogMeta {
    pub position: u64,
    pub bytes: u64,
}

fn bad(message: impl Into<String>) -> Failure {
    Failure(
        StatusCode::BAD_REQUEST,
        ApiError::new("BAD_REQUEST", message),
    )
}

fn not_found(name: &str) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        ApiError::new("NOT_FOUND", format!("no trace named {name}")),
    )
}

impl From<TraceError> for Failure {
    fn from(e: TraceError) -> Failure {
        match &e {
            TraceError::AlreadyExists(_) => Failure(
                StatusCode::CONFLICT,
                ApiError::new("ALREADY_EXISTS", e.to_string()),
            ),
            TraceError::DuplicateFilter(..) => Failure(
                StatusCode::CONFLICT,
                ApiError::new("DUPLICATE_CONDITION", e.to_string()),
            ),
            TraceError::NotFound(n) => not_found(n),
        }
    }
}

fn view(node: &str, t: &TraceInfo) -> TraceView {
    let s = &t.spec;
    let size = std::fs::metadata(&s.file).map(|m| m.len()).unwrap_or(0);
    let (mut clientid, mut topic, mut ip_address) = (None, None, None);
    match &s.filter {
        TraceFilter::ClientId(c) => clientid = Some(c.clone()),
        TraceFilter::Topic(f) => topic = Some(f.clone()),
        TraceFilter::IpAddress(ip) => ip_address = Some(ip.to_string()),
    }
    TraceView {
        name: s.name.clone(),
        kind: s.filter.kind(),
        clientid,
        topic,
        ip_address,
        status: t.status.as_str(),
        payload_encode: s.payload_encode.as_str(),
        start_at: humantime::format_rfc3339_seconds(s.start_at).to_string(),
        end_at: humantime::format_rfc3339_seconds(s.end_at).to_string(),
        log_size: BTreeMap::from([(node.to_string(), size)]),
        file: s.file.display().to_string(),
        dropped: t.dropped,
    }
}

/// RFC 3339 text or Unix seconds.
fn time(v: &serde_json::Value, field: &str) -> Result<SystemTime, Failure> {
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
            .ok_or_else(|| bad(format!("{field}: expected Unix seconds"))),
        serde_json::Value::String(s) => humantime::parse_rfc3339_weak(s).map_err(|e| {
            bad(format!(
                "{field}: {e} (expected RFC 3339, e.g. 2026-01-01T00:00:00Z)"
            ))
        }),
        _ => Err(bad(format!(
            "{field}: expected RFC 3339 text or Unix seconds"
        ))),
    }
}

/// Checks a request and turns it into a spec.
fn spec(tracer: &Tracer, t: NewTrace, now: SystemTime) -> Result<TraceSpec, Failure> {
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 256
        && t.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(bad(
            "name: 1 to 256 letters, digits, '-' or '_' (it names the log file)",
        ));
    }
    let need = |v: Option<String>, field: &str| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| bad(format!("type {} needs {field}", t.kind)))
    };
    let filter = match t.kind.as_str() {
        "clientid" => TraceFilter::ClientId(need(t.clientid, "clientid")?),
        "topic" => {
            let f = need(t.topic, "topic")?;
            roost_protocol::topic::validate_topic_filter(&f)
                .map_err(|e| bad(format!("topic: {e}")))?;
            TraceFilter::Topic(f)
        }
        "ip_address" => {
            let ip = need(t.ip_address, "ip_address")?;
            TraceFilter::IpAddress(
                ip.parse()
                    .map_err(|_| bad(format!("ip_address: {ip:?} is not an IP address")))?,
            )
        }
        other => {
            return Err(bad(format!(
                "type: {other:?} is not one of clientid, topic, ip_address"
            )))
        }
    };
    if let Some(f) = t.formatter.as_deref().filter(|f| *f != "text") {
        return Err(bad(format!("formatter: {f:?}: Roost writes text only")));
    }
    let payload_encode = match t.payload_encode.as_deref() {
        None | Some("text") => PayloadEncode::Text,
        Some("hex") => PayloadEncode::Hex,
        Some("hidden") => PayloadEncode::Hidden,
        Some(other) => {
            return Err(bad(format!(
                "payload_encode: {other:?} is not one of text, hex, hidden"
            )))
        }
    };
    let start_at = match &t.start_at {
        Some(v) => time(v, "start_at")?,
        None => now,
    };
    let end_at = match &t.end_at {
        Some(v) => time(v, "end_at")?,
        None => start_at.max(now) + DEFAULT_DURATION,
    };
    if end_at <= start_at {
        return Err(bad("end_at must be after start_at"));
    }
    if end_at <= now {
        return Err(bad("end_at must be in the future"));
    }
    let (file, own_file) = match t.file.filter(|f| !f.is_empty()) {
        Some(f) if !std::path::Path::new(&f).is_absolute() => {
            return Err(bad(format!("file: {f:?} is not an absolute path")))
        }
        Some(f) => (PathBuf::from(f), true),
        None => (tracer.dir().join(format!("{}.log", t.name)), false),
    };
    Ok(TraceSpec {
        name: t.name,
        filter,
        payload_encode,
        start_at,
        end_at,
        file,
        own_file,
    })
}

/// `GET /api/v5/trace`: every trace, with its status and log size.
#[utoipa::path(get, path = "/api/v5/trace", tag = "Trace",
    responses((status = 200, description = "The traces", body = [TraceView])))]
async fn list(State(ctx): Ctx) -> Json<Vec<TraceView>> {
    let node = ctx.api.node_name();
    Json(
        ctx.api
            .tracer()
            .list()
            .iter()
            .map(|t| view(node, t))
            .collect(),
    )
}

/// `POST /api/v5/trace`: creates a trace; it runs from `start_at` to `end_at`.
#[utoipa::path(post, path = "/api/v5/trace", tag = "Trace", request_body = NewTrace,
    responses(
        (status = 200, description = "The trace created", body = TraceView),
        (status = 400, description = "BAD_REQUEST: a field is missing or wrong, or the file cannot be written", body = ApiError),
        (status = 409, description = "ALREADY_EXISTS (the name) or DUPLICATE_CONDITION (the same filter)", body = ApiError)))]
async fn create(State(ctx): Ctx, Body(body): Body<NewTrace>) -> Result<Json<TraceView>, Failure> {
    let tracer = ctx.api.tracer();
    let spec = spec(&tracer, body, SystemTime::now())?;
    if tracer.get(&spec.name).is_some() {
        return Err(TraceError::AlreadyExists(spec.name).into());
    }
    let sink = FileSink::open(&spec.file, spec.own_file)
        .map_err(|e| bad(format!("cannot write {}: {e}", spec.file.display())))?;
    let (name, start_at, end_at) = (spec.name.clone(), spec.start_at, spec.end_at);
    tracer.create(spec, Arc::new(sink))?;
    tokio::spawn(timers(tracer.clone(), start_at, end_at));
    tracing::info!(trace = %name, "trace_created");
    let t = tracer.get(&name).ok_or_else(|| not_found(&name))?;
    Ok(Json(view(ctx.api.node_name(), &t)))
}

/// Starts and ends a trace on time (the registry keeps no timers).
async fn timers(tracer: Arc<Tracer>, start_at: SystemTime, end_at: SystemTime) {
    for at in [start_at, end_at] {
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
        tracer.refresh();
    }
}

/// `DELETE /api/v5/trace`: removes every trace (and the logs under
/// `node.data_dir`/trace; files named by `file` are the operator's and stay).
#[utoipa::path(delete, path = "/api/v5/trace", tag = "Trace",
    responses((status = 204, description = "Every trace removed")))]
async fn clear(State(ctx): Ctx) -> StatusCode {
    for t in ctx.api.tracer().clear() {
        remove_log(&t);
    }
    StatusCode::NO_CONTENT
}

fn remove_log(t: &TraceInfo) {
    if !t.spec.own_file {
        let _ = std::fs::remove_file(&t.spec.file);
    }
}

/// `DELETE /api/v5/trace/{name}`: removes a trace (and its log, unless the
/// file was named by `file`).
#[utoipa::path(delete, path = "/api/v5/trace/{name}", tag = "Trace",
    params(("name" = String, Path, description = "The trace's name")),
    responses((status = 204, description = "Removed"), (status = 404, description = "NOT_FOUND", body = ApiError)))]
async fn delete(State(ctx): Ctx, PathOf(name): PathOf<String>) -> Result<StatusCode, Failure> {
    let t = ctx.api.tracer().remove(&name)?;
    remove_log(&t);
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v5/trace/{name}/stop`: stops a trace; it stays listed, `stopped`,
/// and its log can still be read.
#[utoipa::path(put, path = "/api/v5/trace/{name}/stop", tag = "Trace",
    params(("name" = String, Path, description = "The trace's name")),
    responses((status = 200, description = "The trace, stopped", body = TraceView),
        (status = 404, description = "NOT_FOUND", body = ApiError)))]
async fn stop(State(ctx): Ctx, PathOf(name): PathOf<String>) -> Result<Json<TraceView>, Failure> {
    let t = ctx.api.tracer().stop(&name)?;
    Ok(Json(view(ctx.api.node_name(), &t)))
}

/// `GET /api/v5/trace/{name}/log`: `bytes` of the log from `position`;
/// `meta.position` is where the next page starts.
#[utoipa::path(get, path = "/api/v5/trace/{name}/log", tag = "Trace",
    params(("name" = String, Path, description = "The trace's name"), LogQuery),
    responses((status = 200, description = "A page of the log", body = LogPage),
        (status = 400, description = "BAD_REQUEST: bytes out of range", body = ApiError),
        (status = 404, description = "NOT_FOUND, FILE_NOT_EXIST or NODE_ERROR", body = ApiError)))]
async fn log(
    State(ctx): Ctx,
    PathOf(name): PathOf<String>,
    Params(q): Params<LogQuery>,
) -> Result<Json<LogPage>, Failure> {
    let t = ctx
        .api
        .tracer()
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    if let Some(node) = q.node.as_deref().filter(|n| *n != ctx.api.node_name()) {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            ApiError::new("NODE_ERROR", format!("node {node} not found")),
        ));
    }
    let bytes = q.bytes.unwrap_or(DEFAULT_PAGE_BYTES);
    if bytes == 0 || bytes > MAX_PAGE_BYTES {
        return Err(bad(format!("bytes: 1 to {MAX_PAGE_BYTES}")));
    }
    let position = q.position.unwrap_or(0);
    let file = t.spec.file.clone();
    let read = tokio::task::spawn_blocking(move || sink::read_at(&file, position, bytes))
        .await
        .map_err(|e| bad(e.to_string()))?;
    let data = read.map_err(|e| {
        Failure(
            StatusCode::NOT_FOUND,
            ApiError::new("FILE_NOT_EXIST", format!("{}: {e}", t.spec.file.display())),
        )
    })?;
    let n = data.len() as u64;
    Ok(Json(LogPage {
        items: String::from_utf8_lossy(&data).into_owned(),
        meta: LogMeta {
            position: position + n,
            bytes: n,
        },
    }))
}

/// `GET /api/v5/trace/{name}/download`: the whole log (plain text; EMQX zips it).
#[utoipa::path(get, path = "/api/v5/trace/{name}/download", tag = "Trace",
    params(("name" = String, Path, description = "The trace's name")),
    responses((status = 200, description = "The log file", content_type = "text/plain", body = String),
        (status = 404, description = "NOT_FOUND", body = ApiError)))]
async fn download(State(ctx): Ctx, PathOf(name): PathOf<String>) -> Result<Response, Failure> {
    let t = ctx
        .api
        .tracer()
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    let data = tokio::fs::read(&t.spec.file).await.map_err(|e| {
        Failure(
            StatusCode::NOT_FOUND,
            ApiError::new("FILE_NOT_EXIST", format!("{}: {e}", t.spec.file.display())),
        )
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.log\""),
            ),
        ],
        data,
    )
        .into_response())
}

#[cfg(test)]
mod tests;
