//! The request body limit (`http.max_body_size`): a body announced larger
//! (`Content-Length`) is refused before it is read; a chunked one is cut off
//! by axum's body limit while the handler reads it. Either way the answer is
//! 413 with the API's JSON error body.

use crate::api::ApiError;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

fn too_large(max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(ApiError::new(
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than http.max_body_size ({max} bytes)"),
        )),
    )
        .into_response()
}

/// Middleware: refuses bodies over `max` bytes with a JSON 413.
pub async fn max_body_size(State(max): State<usize>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return too_large(max);
    }
    let resp = next.run(req).await;
    let json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large(max);
    }
    resp
}
