//! roost-admin: the operator HTTP listener (EMQX's dashboard port): the REST
//! API under `/api/v5` with EMQX 5's paths and shapes (clients,
//! subscriptions, topics, publish, retained messages, listeners, nodes,
//! cluster, stats, users, ACL rules, bans, dashboard users and API keys, the
//! rule engine's rules, tests and events, the actor tree and kill-by-path for
//! chaos testing), its OpenAPI document at
//! `/api-docs`, and the dashboard at `/` (`admin/dashboard/`). Who may call it
//! (dashboard users with bearer tokens, API keys, HTTP basic) is decided in
//! `auth/`; a few paths are public (`auth::is_public`). It reaches the broker
//! only through [`BrokerApi`], and access control's tables through roost-access.
//!
//! The server is an axum app on the broker's tokio runtime, run by the
//! [`HttpServer`] actor under the root supervisor (`roost/http`): if it crashes
//! or is killed, the supervisor restarts it on the same socket, which
//! [`bind`] bound before the broker started, so that a taken port fails
//! start-up.

mod access;
mod alarms;
mod api;
mod api_keys;
mod auth;
mod bridges;
mod clients;
mod config;
mod dashboard;
mod https;
mod limit;
mod listeners;
mod login;
mod metrics;
mod monitor;
mod openapi;
mod prometheus;
mod publish;
mod retainer;
mod rules;
mod storage;
mod subscriptions;
mod topics;
mod trace;

pub use monitor::{DashboardConfig, Monitor};

use axum::routing::get;
use axum::Router;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use roost_access::Access;
use roost_core::BrokerApi;
use roost_supervisor::{ChildSpec, Restart};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::oneshot;

pub use auth::AdminAuth;
pub use config::{HttpConfig, HttpSslConfig};
pub use https::{settings as https_settings, HttpsError, HttpsSettings};

/// The ractor name of the HTTP server actor.
pub const HTTP_NAME: &str = "roost/http";

/// Runs the HTTP server for as long as it lives.
#[derive(Clone)]
pub struct HttpServer;

/// What every handler reaches: the broker, access control's tables, and
/// the settings of the API itself.
pub struct Admin {
    pub api: Arc<dyn BrokerApi>,
    pub access: Arc<Access>,
    pub chaos: ChaosConfig,
    /// Dashboard users, API keys, tokens and login locks.
    pub auth: Arc<AdminAuth>,
    /// `http.max_body_size`.
    pub max_body_size: usize,
    /// The dashboard's monitor (samples every `dashboard.sample_interval`).
    pub monitor: Arc<Monitor>,
    /// The rule engine (`/api/v5/rules`, `rule_test`, `rule_events`).
    pub rules: Arc<roost_rules::RuleEngine>,
    /// The durable store, for `GET /api/v5/storage` (roost-storage).
    pub storage: Option<Arc<dyn roost_core::storage::StorageStatus>>,
    /// Data integration's registry (`/api/v5/connectors`, `actions`,
    /// `sources`); `None` when the broker runs without it.
    pub bridges: Option<Arc<dyn roost_bridges::BridgesManage>>,
}

/// What the [`HttpServer`] starts (and restarts) with.
#[derive(Clone)]
pub struct HttpArgs {
    pub admin: Arc<Admin>,
    /// The socket [`bind`] bound, shared by every incarnation.
    pub socket: Arc<std::net::TcpListener>,
    /// HTTPS instead of plain HTTP (`http.ssl.enable`).
    pub https: Option<HttpsSettings>,
}

/// Binds `http.bind` (before the broker starts: a taken port is a start-up
/// error naming the address).
pub fn bind(config: &HttpConfig) -> std::io::Result<Arc<std::net::TcpListener>> {
    std::net::TcpListener::bind(&config.bind).map(Arc::new)
}

/// The `http` child of the root supervisor (`roost/http`), permanent: a crash
/// or a kill restarts it on the same socket.
pub fn child_spec(args: HttpArgs) -> ChildSpec {
    ChildSpec::new("http", "http", Restart::Permanent, move |sup: ActorCell| {
        let args = args.clone();
        async move {
            Actor::spawn_linked(Some(HTTP_NAME.into()), HttpServer, args, sup)
                .await
                .map(|(r, _)| r.get_cell())
        }
    })
}

/// Holds the server's shutdown trigger. The state is dropped however the actor
/// ends (a normal stop, or a kill, which skips `post_stop`), and dropping the
/// sender stops the server gracefully: in-flight requests finish, idle
/// keep-alive connections close.
pub struct HttpState {
    _shutdown: oneshot::Sender<()>,
    /// The monitor's sampler, stopped with the server.
    sampler: tokio::task::JoinHandle<()>,
}

impl Drop for HttpState {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}

impl Actor for HttpServer {
    type Msg = ();
    type State = HttpState;
    type Arguments = HttpArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        args: HttpArgs,
    ) -> Result<HttpState, ActorProcessingErr> {
        let std_listener = args.socket.try_clone()?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let sampler = args.admin.monitor.spawn(args.admin.api.clone());
        let app = router(args.admin).into_make_service_with_connect_info::<auth::Peer>();
        let shutdown = async move {
            let _ = rx.await;
        };
        match args.https {
            None => {
                tokio::spawn(async move {
                    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
                    if let Err(e) = server.await {
                        tracing::error!(error = %e, "http_server_failed");
                    }
                });
            }
            Some(https) => {
                let listener = https::TlsListener::new(listener, https)?;
                tokio::spawn(async move {
                    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
                    if let Err(e) = server.await {
                        tracing::error!(error = %e, "http_server_failed");
                    }
                });
            }
        }
        tracing::info!(listener = %"http", addr = %addr, "listener_ready");
        Ok(HttpState {
            _shutdown: tx,
            sampler,
        })
    }
}

/// The routes: every module's, behind the credentials check of `auth` (the
/// fallback too: without credentials, nothing about the server is revealed,
/// not even which paths exist) but for its public paths (the health checks,
/// the OpenAPI document, login), and behind the body size limit.
fn router(ctx: Arc<Admin>) -> Router {
    use utoipa::OpenApi as _;
    let (auth, max_body) = (ctx.auth.clone(), ctx.max_body_size);
    let (routes, doc) =
        utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .merge(api::routes())
            .merge(api::public_routes())
            .merge(access::routes())
            .merge(clients::routes())
            .merge(subscriptions::routes())
            .merge(topics::routes())
            .merge(publish::routes())
            .merge(retainer::routes())
            .merge(listeners::routes())
            .merge(login::routes())
            .merge(api_keys::routes())
            .merge(metrics::routes())
            .merge(monitor::routes())
            .merge(alarms::routes())
            .merge(prometheus::routes())
            .merge(trace::routes())
            .merge(rules::routes())
            .merge(storage::routes())
            .merge(bridges::routes())
            .split_for_parts();
    let serve = openapi::serve(Arc::new(doc));
    routes
        .merge(dashboard::routes())
        .route("/api-docs", get(serve.clone()))
        .route("/api-docs/swagger.json", get(serve))
        .fallback(api::not_found)
        .with_state(ctx)
        .layer(axum::middleware::from_fn_with_state(auth, auth::require))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            max_body,
            limit::max_body_size,
        ))
}

/// `chaos.*`: fault injection for tests and game days.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosConfig {
    /// Allow `POST /api/v5/actors/kill`. Off by default.
    pub enabled: bool,
}
