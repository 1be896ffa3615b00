//! The WebSocket upgrade of `ws` / `wss` listeners: only the configured path is
//! served (others get 404), and the MQTT subprotocol the client offers is
//! answered, as EMQX does.

use super::{Io, WsStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};

/// The subprotocols EMQX 5 accepts by default (`supported_subprotocols`).
const SUBPROTOCOLS: [&str; 4] = ["mqtt", "mqtt-v3", "mqtt-v3.1.1", "mqtt-v5"];

/// Answers the HTTP upgrade on `path`.
// The error response's type is tungstenite's callback contract.
#[allow(clippy::result_large_err)]
pub async fn accept(
    io: Box<dyn Io>,
    path: &str,
) -> Result<WsStream, tokio_tungstenite::tungstenite::Error> {
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if req.uri().path() != path {
            let mut not_found = ErrorResponse::new(Some("Not Found".into()));
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            return Err(not_found);
        }
        if let Some(protocol) = pick_subprotocol(req) {
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(io, callback).await
}

/// The first subprotocol the client offers that MQTT knows. Clients offering
/// none are still accepted (EMQX's `fail_if_no_subprotocol = false`).
fn pick_subprotocol(req: &Request) -> Option<&'static str> {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| SUBPROTOCOLS.iter().find(|s| **s == offered).copied())
}
