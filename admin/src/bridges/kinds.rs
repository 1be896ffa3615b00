//! The routes of the three kinds, `/api/v5/{connectors,actions,sources}`.
//!
//! What a handler does is the same for every kind (the [`Bridges`] methods
//! in the parent module, which take the [`Kind`]); only the OpenAPI side
//! differs: the path, the tag, the body's shape and the words. Since
//! `#[utoipa::path]` needs a literal path on each fn, the thin annotated
//! handlers are written once, in [`kind_api!`], and generated per kind, each
//! kind in its own module so that the fns keep their names (`list`, `get`...),
//! which are the OpenAPI operation ids.

/// One kind's module: `routes()` and its annotated handlers. The paths are
/// given whole (a macro cannot build the literal `#[utoipa::path]` wants);
/// the `///` lines before each operation's name become its summary and
/// description. `metrics` is for the kinds that count (actions, sources).
macro_rules! kind_api {
    (
        $(#[doc = $mod_doc:tt])*
        mod $module:ident {
            kind: $kind:ident,
            tag: $tag:tt,
            view: $view:ident,
            id: $id:tt,
            paths: { base: $base:tt, one: $one:tt, enable: $enable:tt $(,)? },
            $(#[doc = $list_doc:tt])* list,
            $(#[doc = $create_doc:tt])* create,
            $(#[doc = $get_doc:tt])* get,
            $(#[doc = $update_doc:tt])* update,
            $(#[doc = $delete_doc:tt])* delete: $delete_400:tt,
            $(#[doc = $enable_doc:tt])* enable,
            $(
                metrics: { path: $metrics:tt, reset: $reset:tt $(,)? },
                $(#[doc = $metrics_doc:tt])* metrics,
                $(#[doc = $reset_doc:tt])* reset_metrics,
            )?
        }
    ) => {
        $(#[doc = $mod_doc])*
        pub(super) mod $module {
            use crate::api::{ApiError, Body, Failure, PathOf};
            use crate::bridges::{Bridges, $view};
            use axum::extract::{FromRef, State};
            use axum::http::StatusCode;
            use axum::response::Response;
            use axum::Json;
            use roost_bridges::Kind;
            use serde_json::Value;
            use utoipa_axum::router::OpenApiRouter;
            use utoipa_axum::routes;

            const KIND: Kind = Kind::$kind;
            const ID: &str = $id;

            pub(in crate::bridges) fn routes<S>() -> OpenApiRouter<S>
            where
                S: Clone + Send + Sync + 'static,
                Bridges: FromRef<S>,
            {
                let router = OpenApiRouter::new()
                    .routes(routes!(list, create))
                    .routes(routes!(get, update, delete))
                    .routes(routes!(enable));
                $(
                    // (The paths only say that this kind has the metrics.)
                    let _: (&str, &str) = ($metrics, $reset);
                    let router = router
                        .routes(routes!(metrics))
                        .routes(routes!(reset_metrics));
                )?
                router
            }

            $(#[doc = $list_doc])*
            #[utoipa::path(get, path = $base, tag = $tag,
                responses((status = 200, body = Vec<$view>)))]
            pub async fn list(State(b): State<Bridges>) -> Json<Vec<Value>> {
                b.list(KIND)
            }

            $(#[doc = $create_doc])*
            #[utoipa::path(post, path = $base, tag = $tag,
                request_body(content = Object, description = "`type`, `name` and the type's fields"),
                responses(
                    (status = 201, body = $view),
                    (status = 400, description = "BAD_REQUEST (a wrong field), ALREADY_EXISTS", body = ApiError),
                    (status = 503, description = "No data integration on this node", body = ApiError),
                ))]
            pub async fn create(
                State(b): State<Bridges>,
                Body(conf): Body<Value>,
            ) -> Result<Response, Failure> {
                b.create(KIND, conf)
            }

            $(#[doc = $get_doc])*
            #[utoipa::path(get, path = $one, tag = $tag,
                params(("id" = String, Path, description = ID)),
                responses(
                    (status = 200, body = $view),
                    (status = 400, description = "Not a <type>:<name> id", body = ApiError),
                    (status = 404, body = ApiError),
                ))]
            pub async fn get(
                State(b): State<Bridges>,
                PathOf(id): PathOf<String>,
            ) -> Result<Json<Value>, Failure> {
                b.get(KIND, &id)
            }

            $(#[doc = $update_doc])*
            #[utoipa::path(put, path = $one, tag = $tag,
                params(("id" = String, Path, description = ID)),
                request_body(content = Object, description = "The type's fields"),
                responses(
                    (status = 200, body = $view),
                    (status = 400, body = ApiError),
                    (status = 404, body = ApiError),
                ))]
            pub async fn update(
                State(b): State<Bridges>,
                PathOf(id): PathOf<String>,
                Body(conf): Body<Value>,
            ) -> Result<Json<Value>, Failure> {
                b.update(KIND, &id, conf)
            }

            $(#[doc = $delete_doc])*
            #[utoipa::path(delete, path = $one, tag = $tag,
                params(("id" = String, Path, description = ID)),
                responses(
                    (status = 204, description = "Deleted"),
                    (status = 400, description = $delete_400, body = ApiError),
                    (status = 404, body = ApiError),
                ))]
            pub async fn delete(
                State(b): State<Bridges>,
                PathOf(id): PathOf<String>,
            ) -> Result<StatusCode, Failure> {
                b.delete(KIND, &id)
            }

            $(#[doc = $enable_doc])*
            #[utoipa::path(put, path = $enable, tag = $tag,
                params(("id" = String, Path, description = ID),
                    ("enable" = bool, Path, description = "true or false")),
                responses(
                    (status = 204, description = "Done"),
                    (status = 400, body = ApiError),
                    (status = 404, body = ApiError),
                ))]
            pub async fn enable(
                State(b): State<Bridges>,
                PathOf((id, on)): PathOf<(String, String)>,
            ) -> Result<StatusCode, Failure> {
                b.enable(KIND, &id, &on)
            }

            $(
                use crate::bridges::MetricsResp;

                $(#[doc = $metrics_doc])*
                #[utoipa::path(get, path = $metrics, tag = $tag,
                    params(("id" = String, Path, description = ID)),
                    responses(
                        (status = 200, body = MetricsResp),
                        (status = 400, body = ApiError),
                        (status = 404, body = ApiError),
                    ))]
                pub async fn metrics(
                    State(b): State<Bridges>,
                    PathOf(id): PathOf<String>,
                ) -> Result<Json<Value>, Failure> {
                    b.metrics(KIND, &id)
                }

                $(#[doc = $reset_doc])*
                #[utoipa::path(put, path = $reset, tag = $tag,
                    params(("id" = String, Path, description = ID)),
                    responses(
                        (status = 204, description = "Reset"),
                        (status = 400, body = ApiError),
                        (status = 404, body = ApiError),
                    ))]
                pub async fn reset_metrics(
                    State(b): State<Bridges>,
                    PathOf(id): PathOf<String>,
                ) -> Result<StatusCode, Failure> {
                    b.reset_metrics(KIND, &id)
                }
            )?
        }
    };
}

kind_api! {
    /// `/api/v5/connectors`: the connection pools to external systems.
    mod connectors {
        kind: Connector,
        tag: "Connectors",
        view: ConnectorView,
        id: "The connector's id, <type>:<name> (http:my_webhook)",
        paths: {
            base: "/api/v5/connectors",
            one: "/api/v5/connectors/{id}",
            enable: "/api/v5/connectors/{id}/enable/{enable}",
        },
        /// Every connector, with its status.
        list,
        /// Creates a connector from `{"type", "name", ...its type's fields}`.
        create,
        /// One connector.
        get,
        /// Replaces a connector's fields (the body has neither `type` nor `name`);
        /// its actions and sources reconnect through the new one.
        update,
        /// Deletes a connector; 400 DEPENDENCY_EXISTS while an action or a source
        /// uses it.
        delete: "DEPENDENCY_EXISTS, or a bad id",
        /// Starts (`true`) or stops (`false`) a connector, and stores `enable`.
        enable,
    }
}

kind_api! {
    /// `/api/v5/actions`: what rules send through a connector (EMQX 5's sinks).
    mod actions {
        kind: Action,
        tag: "Actions",
        view: ActionView,
        id: "The action's id, <type>:<name> (http:to_webhook)",
        paths: {
            base: "/api/v5/actions",
            one: "/api/v5/actions/{id}",
            enable: "/api/v5/actions/{id}/enable/{enable}",
        },
        /// Every action, with its status.
        list,
        /// Creates an action from `{"type", "name", "connector", "parameters", "resource_opts"}`;
        /// the connector must exist and be of the same type.
        create,
        /// One action.
        get,
        /// Replaces an action's fields (the body has neither `type` nor `name`);
        /// its counters are kept.
        update,
        /// Deletes an action; 400 DEPENDENCY_EXISTS while a rule names it.
        delete: "DEPENDENCY_EXISTS (a rule uses it), or a bad id",
        /// Starts (`true`) or stops (`false`) an action, and stores `enable`.
        enable,
        metrics: {
            path: "/api/v5/actions/{id}/metrics",
            reset: "/api/v5/actions/{id}/metrics/reset",
        },
        /// The action's counters, EMQX's names: `matched`, `success`, `failed`,
        /// `dropped` (`.queue_full`, `.expired`, `.other`), `queuing`, `inflight`,
        /// `retried`.
        metrics,
        /// Zeroes the action's counters.
        reset_metrics,
    }
}

kind_api! {
    /// `/api/v5/sources`: messages brought in from an external system, which
    /// rules read as `FROM "$bridges/<type>:<name>"`.
    mod sources {
        kind: Source,
        tag: "Sources",
        view: SourceView,
        id: "The source's id, <type>:<name> (mqtt:from_remote)",
        paths: {
            base: "/api/v5/sources",
            one: "/api/v5/sources/{id}",
            enable: "/api/v5/sources/{id}/enable/{enable}",
        },
        /// Every source, with its status.
        list,
        /// Creates a source from `{"type", "name", "connector", "parameters", "resource_opts"}`;
        /// the connector must exist and be of the same type.
        create,
        /// One source.
        get,
        /// Replaces a source's fields (the body has neither `type` nor `name`);
        /// it resubscribes with them.
        update,
        /// Deletes a source: it unsubscribes, and the rules that read it get no more.
        delete: "A bad id, or DEPENDENCY_EXISTS",
        /// Starts (`true`) or stops (`false`) a source, and stores `enable`.
        enable,
        metrics: {
            path: "/api/v5/sources/{id}/metrics",
            reset: "/api/v5/sources/{id}/metrics/reset",
        },
        /// The source's counters, EMQX's names: `matched`, `success`, `failed`,
        /// `dropped` (`.queue_full`, `.expired`, `.other`), `queuing`, `inflight`,
        /// `retried`.
        metrics,
        /// Zeroes the source's counters.
        reset_metrics,
    }
}
