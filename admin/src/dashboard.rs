//! The dashboard: a web UI for a person at a browser (plain HTML, CSS and
//! JavaScript under `admin/dashboard/`, embedded in the binary by build.rs).
//! `GET /` is its page and `GET /assets/{file}` its files; neither needs
//! credentials, since the page logs in itself (`POST /api/v5/login`) and
//! reaches the broker only through the REST API with the bearer token.

use axum::extract::{Path, RawQuery};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Every file under `admin/dashboard/`, by its path there (`pages/clients.js`).
static ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// The page loads only its own files and talks only to its own origin: a
/// value that a client put in a client id or a topic cannot run as script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `/`, `/assets/{*file}`, and `/actors` (where the actor-tree page was).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
        .route("/actors", get(actors))
}

/// `GET /`: the dashboard's one HTML page.
async fn index() -> Response {
    let mut resp = serve("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP),
    );
    h.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    resp
}

/// `GET /assets/{file}`: one of the dashboard's files, or 404.
async fn asset(Path(file): Path<String>) -> Response {
    match serve(&file) {
        Some(resp) => resp,
        None => super::api::not_found().await.into_response(),
    }
}

/// `GET /actors[?prefix&depth]`: the actor tree is a page of the dashboard now.
async fn actors(RawQuery(query): RawQuery) -> Redirect {
    match query {
        Some(q) if !q.is_empty() => Redirect::permanent(&format!("/#/actors?{q}")),
        _ => Redirect::permanent("/#/actors"),
    }
}

fn serve(file: &str) -> Option<Response> {
    let (_, body) = ASSETS.iter().find(|(path, _)| *path == file)?;
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type(file))),
        // Small files: revalidated on each load, so an upgrade shows at once.
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ),
    ];
    Some((headers, *body).into_response())
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_content_type() {
        for (path, _) in ASSETS {
            assert_ne!(
                content_type(path),
                "application/octet-stream",
                "{path}: add its extension to content_type"
            );
        }
        assert!(ASSETS.iter().any(|(p, _)| *p == "index.html"));
    }
}
