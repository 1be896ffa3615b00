//! HTTP basic auth for every request (RFC 7617), with the credentials of
//! `http.auth.*` compared in constant time so a wrong guess reveals nothing
//! about how close it was.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;

/// The expected credentials.
pub struct BasicAuth {
    username: Vec<u8>,
    password: Vec<u8>,
}

impl BasicAuth {
    pub fn new(username: &str, password: &str) -> BasicAuth {
        BasicAuth {
            username: username.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        }
    }

    /// Whether an `Authorization` header value carries the expected credentials.
    pub fn accepts(&self, header: &[u8]) -> bool {
        let Some((scheme, encoded)) = split_scheme(header) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, pass) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both compared every time: no early exit on a wrong user name.
        let ok = user.ct_eq(&self.username) & pass.ct_eq(&self.password);
        ok.into()
    }
}

fn split_scheme(header: &[u8]) -> Option<(&[u8], &[u8])> {
    let header = header.trim_ascii();
    let space = header.iter().position(|&b| b == b' ')?;
    Some((&header[..space], header[space + 1..].trim_ascii()))
}

/// Middleware: passes the request on with the right credentials, else answers
/// 401 with a `WWW-Authenticate` challenge (which makes a browser prompt).
pub async fn require(State(auth): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|v| auth.accepts(v.as_bytes()));
    if ok {
        return next.run(req).await;
    }
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(super::api::ApiError::new(
            "BAD_USERNAME_OR_PWD",
            "HTTP basic auth required (http.auth.username / http.auth.password)",
        )),
    )
        .into_response();
    resp.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"roost\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> String {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("Basic {enc}")
    }

    #[test]
    fn accepts_only_the_configured_credentials() {
        let auth = BasicAuth::new("admin", "public");
        assert!(auth.accepts(header("admin", "public").as_bytes()));
        assert!(auth.accepts(
            header("admin", "public")
                .replace("Basic", "basic")
                .as_bytes()
        ));
        assert!(!auth.accepts(header("admin", "publi").as_bytes()));
        assert!(!auth.accepts(header("admin", "public2").as_bytes()));
        assert!(!auth.accepts(header("root", "public").as_bytes()));
        assert!(!auth.accepts(b"Bearer abc"));
        assert!(!auth.accepts(b"Basic !!!"));
        assert!(!auth.accepts(b"Basic"));
        assert!(!auth.accepts(b""));
    }

    #[test]
    fn password_may_contain_colons() {
        let auth = BasicAuth::new("admin", "a:b");
        assert!(auth.accepts(header("admin", "a:b").as_bytes()));
    }
}
