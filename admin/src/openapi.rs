//! The OpenAPI document of the whole REST API, generated from the handlers'
//! `#[utoipa::path]` annotations and served at `GET /api-docs` (EMQX's path)
//! and `/api-docs/swagger.json`, without credentials.

use axum::Json;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// The document's frame: title, the security schemes every operation takes
/// (unless it says otherwise, as `/status` does), the tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roost REST API",
        description = "The operator API of Roost, an MQTT broker: EMQX 5's paths, parameters \
            and JSON shapes under /api/v5. Errors answer {\"code\": ..., \"message\": ...}; \
            listings page with page and limit and answer {\"data\": [...], \"meta\": {page, \
            limit, count, hasnext}}."
    ),
    modifiers(&Security, &Unauthorized),
    security(("basicAuth" = []), ("bearerAuth" = [])),
    tags(
        (name = "Clients", description = "Connected clients and offline sessions"),
        (name = "Subscriptions"),
        (name = "Topics", description = "The routing table"),
        (name = "Publish"),
        (name = "Retainer", description = "Retained messages"),
        (name = "Listeners"),
        (name = "Nodes"),
        (name = "Cluster"),
        (name = "Status", description = "Health checks, without credentials"),
        (name = "Metrics"),
        (name = "Actors", description = "The live actor tree and chaos kill (Roost's own)"),
        (name = "Authentication"),
        (name = "Authorization"),
        (name = "Banned"),
        (name = "Rules", description = "The rule engine: rules, their metrics, SQL tests, event topics"),
        (name = "Storage", description = "The durable store (Roost's own)"),
        (name = "Connectors", description = "Data integration: connection pools to external systems"),
        (name = "Actions", description = "Data integration: what rules send through a connector"),
        (name = "Sources", description = "Data integration: messages brought in for rules"),
    )
)]
pub(crate) struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "HTTP basic: an API key and its secret (key:secret), or a dashboard \
                         user and password",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The token POST /api/v5/login answers"))
                    .build(),
            ),
        );
    }
}

/// Every operation that takes credentials may answer 401 (no or wrong
/// credentials, an expired token, a login lock) and 413 (a body over
/// `http.max_body_size`): the `auth` and body-limit layers answer before any
/// handler, so the handlers' annotations cannot say it themselves.
struct Unauthorized;

impl Modify for Unauthorized {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ApiError")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
                let responses = &mut op.responses.responses;
                if !public {
                    responses.entry("401".into()).or_insert_with(|| {
                        error("No or wrong credentials, or a login lock").into()
                    });
                }
                if op.request_body.is_some() {
                    responses
                        .entry("413".into())
                        .or_insert_with(|| error("The body is over http.max_body_size").into());
                }
            }
        }
    }
}

/// Serves the document (built once, when the router is).
pub(crate) fn serve(doc: Arc<Document>) -> impl Fn() -> std::future::Ready<Json<Document>> + Clone {
    move || std::future::ready(Json(doc.as_ref().clone()))
}
