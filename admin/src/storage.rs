//! `GET /api/v5/storage`: the durable store (roost-storage) as operators see
//! it: where it is, its size on disc against `durable_storage.max_size`,
//! how many sessions, retained messages and objects it holds, its sync
//! policy and when it last synced. Roost's own (EMQX 5 has no such path).

use crate::api::{ApiError, Failure};
use crate::Admin;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this module.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new().routes(routes!(info))
}

/// The durable store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StorageView {
    /// Where the store is kept.
    pub path: String,
    /// Bytes on disc (data and journal).
    pub disk_size: u64,
    /// `durable_storage.max_size` in bytes (0 = no limit).
    pub max_size: u64,
    pub sessions: u64,
    /// Messages in the shared log (each once, however many sessions hold it).
    pub messages: u64,
    /// The stored sessions' queue and inflight entries (references to messages).
    pub session_entries: u64,
    /// At `durable_storage.max_size`: new messages for offline sessions are dropped.
    pub full: bool,
    pub retained_messages: u64,
    pub objects: u64,
    /// `durable_storage.sync`: batch, interval or os.
    pub sync: String,
    /// RFC 3339; absent before the first sync.
    pub last_sync_at: Option<String>,
    /// Write batches committed, syncs done and writes made since start.
    pub batches: u64,
    pub syncs: u64,
    pub writes: u64,
}

/// `GET /api/v5/storage`.
#[utoipa::path(get, path = "/api/v5/storage", tag = "Storage",
    responses((status = 200, description = "the durable store", body = StorageView),
        (status = 404, description = "no durable store", body = ApiError)))]
pub async fn info(State(ctx): State<Arc<Admin>>) -> Result<Json<StorageView>, Failure> {
    let Some(store) = &ctx.storage else {
        return Err(Failure::not_found("NOT_FOUND", "no durable store"));
    };
    let i = store.info();
    let last_sync_at = (i.last_sync_ms > 0).then(|| {
        humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(i.last_sync_ms),
        )
        .to_string()
    });
    Ok(Json(StorageView {
        path: i.path,
        disk_size: i.disk_size,
        max_size: i.max_size,
        sessions: i.sessions,
        messages: i.messages,
        session_entries: i.session_entries,
        full: i.full,
        retained_messages: i.retained_messages,
        objects: i.objects,
        sync: i.sync,
        last_sync_at,
        batches: i.batches,
        syncs: i.syncs,
        writes: i.writes,
    }))
}
