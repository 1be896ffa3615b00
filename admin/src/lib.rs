//! roost-admin: the operator HTTP listener (EMQX's dashboard port): the REST
//! API under `/api/v5` with EMQX 5's paths and shapes (clients,
//! subscriptions, topics, publish, retained messages, listeners, nodes,
//! cluster, stats, users, ACL rules, bans, the actor tree and kill-by-path
//! for chaos testing), its OpenAPI document at `/api-docs`, and the live
//! actor-tree page at `/actors`. Every request needs HTTP basic auth, except
//! `/status` and the document. It reaches the broker only through
//! [`BrokerApi`], and access control's tables through roost-access.
//!
//! The server is an axum app on the broker's tokio runtime, run by the
//! [`HttpServer`] actor under the root supervisor (`roost/http`): if it crashes
//! or is killed, the supervisor restarts it on the same socket, which
//! [`bind`] bound before the broker started, so that a taken port fails
//! start-up.

mod access;
mod api;
mod auth;
mod clients;
mod listeners;
mod openapi;
mod publish;
mod retainer;
mod subscriptions;
mod topics;
mod trace;

use axum::routing::get;
use axum::Router;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use roost_access::Access;
use roost_core::BrokerApi;
use roost_supervisor::{ChildSpec, Restart};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::oneshot;

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
    pub auth: HttpAuthConfig,
}

/// What the [`HttpServer`] starts (and restarts) with.
#[derive(Clone)]
pub struct HttpArgs {
    pub admin: Arc<Admin>,
    /// The socket [`bind`] bound, shared by every incarnation.
    pub socket: Arc<std::net::TcpListener>,
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
        let app = router(args.admin);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "http_server_failed");
            }
        });
        tracing::info!(listener = %"http", addr = %addr, "listener_ready");
        Ok(HttpState { _shutdown: tx })
    }
}

/// The routes: every module's, behind basic auth (the fallback too: without
/// credentials, nothing about the server is revealed, not even which paths
/// exist), and the health checks and the OpenAPI document without.
fn router(ctx: Arc<Admin>) -> Router {
    use utoipa::OpenApi as _;
    let auth = auth::BasicAuth::new(&ctx.auth.username, &ctx.auth.password);
    let (protected, mut doc) =
        utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .merge(api::routes())
            .merge(access::routes())
            .merge(clients::routes())
            .merge(subscriptions::routes())
            .merge(topics::routes())
            .merge(publish::routes())
            .merge(retainer::routes())
            .merge(listeners::routes())
            .merge(trace::routes())
            .split_for_parts();
    let (public, public_doc) = api::public_routes().split_for_parts();
    doc.merge(public_doc);
    let serve = openapi::serve(Arc::new(doc));
    let protected = protected
        .route("/", get(api::index))
        .route("/actors", get(api::page))
        .fallback(api::not_found)
        .with_state(ctx.clone())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(auth),
            auth::require,
        ));
    public
        .route("/api-docs", get(serve.clone()))
        .route("/api-docs/swagger.json", get(serve))
        .with_state(ctx)
        .merge(protected)
}

/// `http.*`: the REST API, the actor-tree page and the chaos endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// Address of the HTTP listener (EMQX's dashboard port).
    pub bind: String,
    pub auth: HttpAuthConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            bind: "127.0.0.1:18083".into(),
            auth: HttpAuthConfig::default(),
        }
    }
}

/// `http.auth.*`: HTTP basic auth credentials for every API request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthConfig {
    pub username: String,
    pub password: String,
}

impl Default for HttpAuthConfig {
    /// EMQX's dashboard defaults; the listener binds to loopback by default.
    fn default() -> Self {
        HttpAuthConfig {
            username: "admin".into(),
            password: "public".into(),
        }
    }
}

/// `chaos.*`: fault injection for tests and game days.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosConfig {
    /// Allow `POST /api/v5/actors/kill`. Off by default.
    pub enabled: bool,
}
