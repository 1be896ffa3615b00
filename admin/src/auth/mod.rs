//! Who may call the HTTP API, as EMQX 5 decides it: dashboard users log in
//! (`POST /api/v5/login`) and send `Authorization: Bearer <token>`; scripts
//! send HTTP basic with an API key's `key:secret`. Roost also accepts HTTP
//! basic with a dashboard user's `username:password` (EMQX does not; `roost
//! ctl` uses it), under the same rules as a login: the shipped default
//! password is refused from anywhere but loopback, and failed attempts lock
//! the user name and the address for a while.
//!
//! The [`require`] middleware runs before every handler; the paths of
//! [`is_public`] need no credentials.

mod admins;
mod keys;
mod lock;
mod tokens;

pub use admins::{AdminError, AdminUser, Admins, ROLE};
pub use keys::{ApiKeyRecord, ApiKeys, KeyChange, KeyCheck, KeyError};
pub use lock::LoginLock;
pub use tokens::{TokenError, Tokens};

use crate::api::ApiError;
use crate::config::{HttpConfig, DEFAULT_PASSWORD};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use roost_access::StoreError;
use roost_core::storage::ObjectStore;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The address a request came from (axum's connect info; see `https.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Who made a request that passed [`require`] (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A dashboard user, with the bearer token it sent (none with basic).
    Admin {
        username: String,
        token: Option<String>,
    },
    /// An API key, by name.
    ApiKey(String),
}

/// The users, keys, tokens and login locks of one HTTP server.
pub struct AdminAuth {
    pub admins: Admins,
    pub keys: ApiKeys,
    pub tokens: Tokens,
    pub lock: LoginLock,
}

/// Why a login (or HTTP basic with a user's password) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// The user name or the address is locked for this long.
    Locked(Duration),
    /// Unknown user or wrong password (counted).
    BadCredentials,
    /// The right password, but the shipped default, from a non-loopback address.
    DefaultPassword,
}

impl AdminAuth {
    /// Reads the users and keys from `store`, creating the default user if
    /// there is none, and warns if a user still has the default password.
    pub fn open(config: &HttpConfig, store: Arc<dyn ObjectStore>) -> Result<AdminAuth, StoreError> {
        let auth = AdminAuth {
            admins: Admins::open(
                store.clone(),
                &config.default_username,
                &config.default_password,
            )?,
            keys: ApiKeys::open(store)?,
            tokens: Tokens::new(config.token_expired_time),
            lock: LoginLock::new(
                config.unsuccessful_login_max_attempts,
                config.unsuccessful_login_interval,
                config.unsuccessful_login_lock_duration,
            ),
        };
        for username in auth.admins.with_default_password() {
            tracing::warn!(
                username,
                "dashboard_default_password_unchanged: the HTTP API refuses this user's \
                 default password from anywhere but loopback; set http.default_password \
                 (ROOST__HTTP__DEFAULT_PASSWORD) while the password was never changed, or run \
                 `roost ctl admins passwd {username} <new password>`"
            );
        }
        Ok(auth)
    }

    /// Checks a user's password from `addr`, with the lock and the
    /// default-password rule; counts failures, clears them on success.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: IpAddr,
    ) -> Result<(), LoginError> {
        if let Some(left) = self.lock.locked(username, addr, Instant::now()) {
            return Err(LoginError::Locked(left));
        }
        if !self.admins.verify(username, password).await {
            self.lock.failed(username, addr, Instant::now());
            tracing::info!(username, %addr, "dashboard_login_failed");
            return Err(LoginError::BadCredentials);
        }
        if default_password_refused(password, addr) {
            tracing::warn!(username, %addr, "dashboard_default_password_refused");
            return Err(LoginError::DefaultPassword);
        }
        self.lock.succeeded(username);
        Ok(())
    }
}

/// Whether a right password is still refused: the shipped default, from an
/// address that is not loopback (IPv4-mapped loopback counts as loopback).
pub fn default_password_refused(password: &str, addr: IpAddr) -> bool {
    password == DEFAULT_PASSWORD && !addr.to_canonical().is_loopback()
}

/// The paths anyone may fetch: the dashboard's page and files, the health
/// checks, the API document, the login, and Prometheus scraping (EMQX leaves
/// it open by default).
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/actors"
            | "/status"
            | "/api/v5/status"
            | "/api-docs"
            | "/api/v5/login"
            | "/api/v5/prometheus/stats"
    ) || path.starts_with("/assets/")
        || path.starts_with("/api-docs/")
}

/// The address of the request's connection (unspecified if unknown, which
/// is never loopback).
pub fn peer_of(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<Peer>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip())
}

/// Extractor: the address of the request's connection (see [`peer_of`]).
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<Peer>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip()),
        ))
    }
}

/// Credentials of an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    Bearer(String),
    Basic(String, String),
}

fn credentials(header: &[u8]) -> Option<Credentials> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, value) = header.split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!value.is_empty()).then(|| Credentials::Bearer(value.to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some(Credentials::Basic(user.to_string(), pass.to_string()))
}

/// A 401 answer: the EMQX error body, and a basic challenge (a browser prompts).
pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(ApiError::new(code, message)),
    )
        .into_response();
    resp.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"roost\""),
    );
    resp
}

/// The answer to a refused login, as EMQX words it.
pub fn login_refused(e: LoginError) -> Response {
    match e {
        LoginError::Locked(left) => {
            let secs = left.as_secs().max(1);
            let mut resp = unauthorized(
                "LOGIN_LOCKED",
                format!("Login locked after too many failed attempts; retry in {secs} s"),
            );
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        LoginError::BadCredentials => unauthorized("BAD_USERNAME_OR_PWD", "Auth failed"),
        LoginError::DefaultPassword => unauthorized(
            "BAD_USERNAME_OR_PWD",
            "The default password must be changed before it is accepted from anywhere but \
             loopback. Run: roost ctl admins passwd <user> <a-strong-password> (on the \
             broker's host), or set http.default_password.",
        ),
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Middleware: lets public paths through; otherwise finds the [`Caller`]
/// from a bearer token or HTTP basic credentials, or answers 401.
pub async fn require(State(auth): State<Arc<AdminAuth>>, mut req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let addr = peer_of(&req);
    let Some(creds) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| credentials(v.as_bytes()))
    else {
        return unauthorized(
            "BAD_USERNAME_OR_PWD",
            "credentials required: Authorization: Bearer <token of POST /api/v5/login>, \
             or HTTP basic with an API key and its secret (or a dashboard user and password)",
        );
    };
    let caller = match creds {
        Credentials::Bearer(token) => match auth.tokens.check(&token, Instant::now()) {
            Ok(username) => Caller::Admin {
                username,
                token: Some(token),
            },
            Err(TokenError::Expired) => {
                return unauthorized("TOKEN_TIME_OUT", "the token has expired; log in again")
            }
            Err(TokenError::Unknown) => {
                return unauthorized("BAD_TOKEN", "unknown or revoked token; log in again")
            }
        },
        Credentials::Basic(user, pass) => match auth.keys.check(&user, &pass, now_secs()) {
            KeyCheck::Valid(name) => {
                if let Some(left) = auth.lock.locked(&user, addr, Instant::now()) {
                    return login_refused(LoginError::Locked(left));
                }
                Caller::ApiKey(name)
            }
            KeyCheck::Refused(why) => {
                if let Some(left) = auth.lock.locked(&user, addr, Instant::now()) {
                    return login_refused(LoginError::Locked(left));
                }
                auth.lock.failed(&user, addr, Instant::now());
                return unauthorized("BAD_API_KEY_OR_SECRET", why);
            }
            KeyCheck::NoSuchKey => match auth.login(&user, &pass, addr).await {
                Ok(()) => Caller::Admin {
                    username: user,
                    token: None,
                },
                Err(e) => return login_refused(e),
            },
        },
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> String {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("Basic {enc}")
    }

    #[test]
    fn credentials_are_read_from_bearer_and_basic_headers() {
        let b = |u: &str, p: &str| Some(Credentials::Basic(u.into(), p.into()));
        assert_eq!(
            credentials(basic("admin", "public").as_bytes()),
            b("admin", "public")
        );
        assert_eq!(
            credentials(
                basic("admin", "public")
                    .replace("Basic", "basic")
                    .as_bytes()
            ),
            b("admin", "public")
        );
        assert_eq!(
            credentials(basic("admin", "a:b").as_bytes()),
            b("admin", "a:b")
        );
        assert_eq!(
            credentials(b"Bearer abc"),
            Some(Credentials::Bearer("abc".into()))
        );
        assert_eq!(credentials(b"Basic !!!"), None);
        assert_eq!(credentials(b"Basic"), None);
        assert_eq!(credentials(b"Digest x"), None);
        assert_eq!(credentials(b""), None);
    }

    #[test]
    fn the_default_password_is_refused_only_from_non_loopback_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(!default_password_refused("public", ip("127.0.0.1")));
        assert!(!default_password_refused("public", ip("127.9.9.9")));
        assert!(!default_password_refused("public", ip("::1")));
        assert!(!default_password_refused("public", ip("::ffff:127.0.0.1")));
        assert!(default_password_refused("public", ip("192.0.2.2")));
        assert!(default_password_refused("public", ip("0.0.0.0")));
        assert!(default_password_refused("public", ip("fd00::2")));
        assert!(!default_password_refused("s3cret-pw", ip("192.0.2.2")));
    }

    #[test]
    fn public_paths() {
        for p in [
            "/",
            "/assets/app.js",
            "/actors",
            "/status",
            "/api/v5/status",
            "/api-docs",
            "/api-docs/openapi.json",
            "/api/v5/login",
            "/api/v5/prometheus/stats",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/api/v5/logout", "/api/v5/users", "/assets", "/x"] {
            assert!(!is_public(p), "{p}");
        }
    }
}
