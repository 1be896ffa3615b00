//! Every route over an in-memory registry: status codes, error codes and
//! shapes as EMQX answers them.

use super::*;
use axum::body::Body as HttpBody;
use axum::http::{Method, Request};
use parking_lot::Mutex;
use serde_json::json;
use std::collections::BTreeMap;
use tower::ServiceExt;

/// A registry in a map: enough behaviour (dependencies, enable, counters) for
/// the routes to show each of their answers.
#[derive(Default)]
struct Memory {
    objects: Mutex<BTreeMap<(u8, String), Value>>,
    matched: Mutex<BTreeMap<String, u64>>,
}

fn slot(kind: Kind) -> u8 {
    kind as u8
}

impl Memory {
    fn id(conf: &Value) -> String {
        format!(
            "{}:{}",
            conf["type"].as_str().unwrap(),
            conf["name"].as_str().unwrap()
        )
    }

    /// The actions and sources on connector `type:name`.
    fn users(&self, id: &str) -> Vec<String> {
        let objects = self.objects.lock();
        objects
            .iter()
            .filter(|((k, _), v)| {
                *k != slot(Kind::Connector) && {
                    format!(
                        "{}:{}",
                        v["type"].as_str().unwrap(),
                        v["connector"].as_str().unwrap_or("")
                    ) == id
                }
            })
            .map(|((_, id), _)| id.clone())
            .collect()
    }
}

impl BridgesManage for Memory {
    fn list(&self, kind: Kind) -> Vec<Value> {
        let objects = self.objects.lock();
        objects
            .iter()
            .filter(|((k, _), _)| *k == slot(kind))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn get(&self, kind: Kind, id: &str) -> Result<Value, ManageError> {
        let objects = self.objects.lock();
        objects
            .get(&(slot(kind), id.to_owned()))
            .cloned()
            .ok_or_else(|| ManageError::NotFound(id.into()))
    }

    fn create(&self, kind: Kind, mut conf: Value) -> Result<Value, ManageError> {
        if conf["type"] == "nope" {
            return Err(ManageError::BadRequest("unknown type nope".into()));
        }
        let id = Self::id(&conf);
        if kind != Kind::Connector {
            let connector = format!(
                "{}:{}",
                conf["type"].as_str().unwrap(),
                conf["connector"].as_str().unwrap_or("")
            );
            if self.get(Kind::Connector, &connector).is_err() {
                return Err(ManageError::BadRequest(format!("no connector {connector}")));
            }
        }
        let mut objects = self.objects.lock();
        if objects.contains_key(&(slot(kind), id.clone())) {
            return Err(ManageError::AlreadyExists(id));
        }
        conf["enable"] = json!(conf.get("enable").cloned().unwrap_or(json!(true)));
        conf["status"] = json!("connected");
        objects.insert((slot(kind), id), conf.clone());
        Ok(conf)
    }

    fn update(&self, kind: Kind, id: &str, conf: Value) -> Result<Value, ManageError> {
        let mut objects = self.objects.lock();
        let old = objects
            .get_mut(&(slot(kind), id.to_owned()))
            .ok_or_else(|| ManageError::NotFound(id.into()))?;
        assert!(conf.get("type").is_none() && conf.get("name").is_none());
        for (k, v) in conf.as_object().unwrap() {
            old[k] = v.clone();
        }
        Ok(old.clone())
    }

    fn delete(&self, kind: Kind, id: &str) -> Result<(), ManageError> {
        if kind == Kind::Connector && !self.users(id).is_empty() {
            return Err(ManageError::InUse(format!(
                "connector {id} is used by {:?}",
                self.users(id)
            )));
        }
        let mut objects = self.objects.lock();
        objects
            .remove(&(slot(kind), id.to_owned()))
            .map(|_| ())
            .ok_or_else(|| ManageError::NotFound(id.into()))
    }

    fn enable(&self, kind: Kind, id: &str, enable: bool) -> Result<(), ManageError> {
        let mut objects = self.objects.lock();
        let obj = objects
            .get_mut(&(slot(kind), id.to_owned()))
            .ok_or_else(|| ManageError::NotFound(id.into()))?;
        obj["enable"] = json!(enable);
        obj["status"] = json!(if enable { "connected" } else { "stopped" });
        Ok(())
    }

    fn metrics(&self, kind: Kind, id: &str) -> Result<Value, ManageError> {
        self.get(kind, id)?;
        let matched = self.matched.lock().get(id).copied().unwrap_or(0);
        let m = json!({"matched": matched, "success": matched, "failed": 0, "dropped": 0,
            "dropped.queue_full": 0, "dropped.expired": 0, "dropped.other": 0,
            "queuing": 0, "inflight": 0, "retried": 0});
        Ok(json!({"metrics": m, "node_metrics": [{"node": "roost@test", "metrics": m}]}))
    }

    fn reset_metrics(&self, kind: Kind, id: &str) -> Result<(), ManageError> {
        self.get(kind, id)?;
        self.matched.lock().remove(id);
        Ok(())
    }
}

/// The routes over `manage` (or none), as the server builds them; the rule
/// `r1` names the action `http:used`.
fn app(manage: Option<Arc<Memory>>) -> axum::Router {
    let (router, _doc) = routes::<Bridges>().split_for_parts();
    router.with_state(Bridges {
        manage: manage.map(|m| m as Arc<dyn BridgesManage>),
        rules_using: Arc::new(|id| {
            if id == "http:used" {
                vec!["r1".to_string()]
            } else {
                Vec::new()
            }
        }),
    })
}

/// One request: its status and its JSON body (`Null` when empty).
async fn call(app: &axum::Router, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(path);
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            HttpBody::from(b.to_string())
        }
        None => HttpBody::empty(),
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, json)
}

fn connector() -> Value {
    json!({"type": "http", "name": "hook", "url": "http://127.0.0.1:1", "pool_size": 4})
}

fn action() -> Value {
    json!({"type": "http", "name": "out", "connector": "hook",
        "parameters": {"method": "post", "body": "${.}"}, "resource_opts": {"batch_size": 1}})
}

#[tokio::test]
async fn connectors_are_created_read_updated_and_deleted() {
    let app = app(Some(Arc::new(Memory::default())));
    let (s, v) = call(&app, Method::GET, "/api/v5/connectors", None).await;
    assert_eq!((s, v), (200, json!([])));
    let (s, v) = call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    assert_eq!(s, 201);
    assert_eq!(
        (v["type"].clone(), v["name"].clone(), v["status"].clone()),
        (json!("http"), json!("hook"), json!("connected"))
    );
    let (s, v) = call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    assert_eq!((s, v["code"].clone()), (400, json!("ALREADY_EXISTS")));
    let (s, v) = call(&app, Method::GET, "/api/v5/connectors", None).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = call(&app, Method::GET, "/api/v5/connectors/http:hook", None).await;
    assert_eq!((s, v["pool_size"].clone()), (200, json!(4)));
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/connectors/http:hook",
        Some(json!({"pool_size": 8})),
    )
    .await;
    assert_eq!(
        (s, v["pool_size"].clone(), v["url"].clone()),
        (200, json!(8), json!("http://127.0.0.1:1"))
    );
    // The path's type and name may be repeated, not changed.
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v5/connectors/http:hook",
        Some(json!({"type": "http", "name": "hook", "pool_size": 2})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/connectors/http:hook",
        Some(json!({"name": "other"})),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (400, json!("BAD_REQUEST")));
    assert!(v["message"].as_str().unwrap().contains("name"), "{v}");
    let (s, v) = call(&app, Method::DELETE, "/api/v5/connectors/http:hook", None).await;
    assert_eq!((s, v), (204, Value::Null));
    let (s, v) = call(&app, Method::GET, "/api/v5/connectors/http:hook", None).await;
    assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
    for (method, body) in [(Method::PUT, Some(json!({}))), (Method::DELETE, None)] {
        let (s, v) = call(&app, method, "/api/v5/connectors/http:hook", body).await;
        assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
    }
}

#[tokio::test]
async fn bad_bodies_and_ids_answer_bad_request() {
    let app = app(Some(Arc::new(Memory::default())));
    for body in [
        json!([1]),
        json!({"name": "x"}),
        json!({"type": "http"}),
        json!({"type": "http", "name": ""}),
        json!({"type": "nope", "name": "x"}),
    ] {
        let (s, v) = call(&app, Method::POST, "/api/v5/connectors", Some(body.clone())).await;
        assert_eq!(
            (s, v["code"].clone()),
            (400, json!("BAD_REQUEST")),
            "{body}"
        );
    }
    // Not JSON at all.
    let req = Request::post("/api/v5/connectors")
        .header("content-type", "application/json")
        .body(HttpBody::from("{"))
        .unwrap();
    assert_eq!(app.clone().oneshot(req).await.unwrap().status(), 400);
    for id in ["hook", "http:", ":hook", "http:a:b"] {
        for kind in ["connectors", "actions", "sources"] {
            let (s, v) = call(&app, Method::GET, &format!("/api/v5/{kind}/{id}"), None).await;
            assert_eq!(
                (s, v["code"].clone()),
                (400, json!("BAD_REQUEST")),
                "{kind}/{id}"
            );
            assert!(v["message"].as_str().unwrap().contains("<type>:<name>"));
        }
    }
}

#[tokio::test]
async fn actions_need_their_connector_and_keep_it() {
    let app = app(Some(Arc::new(Memory::default())));
    let (s, v) = call(&app, Method::POST, "/api/v5/actions", Some(action())).await;
    assert_eq!((s, v["code"].clone()), (400, json!("BAD_REQUEST")));
    call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    let (s, v) = call(&app, Method::POST, "/api/v5/actions", Some(action())).await;
    assert_eq!((s, v["connector"].clone()), (201, json!("hook")));
    assert_eq!(v["parameters"]["body"], "${.}");
    let (s, v) = call(&app, Method::DELETE, "/api/v5/connectors/http:hook", None).await;
    assert_eq!((s, v["code"].clone()), (400, json!("DEPENDENCY_EXISTS")));
    assert!(v["message"].as_str().unwrap().contains("http:out"), "{v}");
    let (s, v) = call(&app, Method::GET, "/api/v5/actions", None).await;
    assert_eq!((s, v[0]["name"].clone()), (200, json!("out")));
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/actions/http:out",
        Some(json!({"parameters": {"method": "put"}})),
    )
    .await;
    assert_eq!((s, v["parameters"]["method"].clone()), (200, json!("put")));
    assert_eq!(
        call(&app, Method::DELETE, "/api/v5/actions/http:out", None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&app, Method::DELETE, "/api/v5/connectors/http:hook", None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn sources_have_the_same_routes() {
    let app = app(Some(Arc::new(Memory::default())));
    call(
        &app,
        Method::POST,
        "/api/v5/connectors",
        Some(json!({"type": "mqtt", "name": "remote", "server": "127.0.0.1:1883"})),
    )
    .await;
    let src = json!({"type": "mqtt", "name": "in", "connector": "remote", "parameters": {"topic": "t/#", "qos": 1}});
    assert_eq!(
        call(&app, Method::POST, "/api/v5/sources", Some(src.clone()))
            .await
            .0,
        201
    );
    assert_eq!(
        call(&app, Method::POST, "/api/v5/sources", Some(src))
            .await
            .1["code"],
        "ALREADY_EXISTS"
    );
    let (s, v) = call(&app, Method::GET, "/api/v5/sources/mqtt:in", None).await;
    assert_eq!((s, v["parameters"]["topic"].clone()), (200, json!("t/#")));
    assert_eq!(
        call(
            &app,
            Method::PUT,
            "/api/v5/sources/mqtt:in/enable/false",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v5/sources/mqtt:in", None)
            .await
            .1["status"],
        "stopped"
    );
    let (s, v) = call(&app, Method::GET, "/api/v5/sources/mqtt:in/metrics", None).await;
    assert_eq!((s, v["metrics"]["matched"].clone()), (200, json!(0)));
    assert_eq!(
        call(
            &app,
            Method::PUT,
            "/api/v5/sources/mqtt:in/metrics/reset",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&app, Method::DELETE, "/api/v5/sources/mqtt:in", None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v5/sources", None).await.1,
        json!([])
    );
}

#[tokio::test]
async fn enable_takes_true_or_false() {
    let memory = Arc::new(Memory::default());
    let app = app(Some(memory.clone()));
    call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    call(&app, Method::POST, "/api/v5/actions", Some(action())).await;
    for (kind, id) in [("connectors", "http:hook"), ("actions", "http:out")] {
        let (s, v) = call(
            &app,
            Method::PUT,
            &format!("/api/v5/{kind}/{id}/enable/false"),
            None,
        )
        .await;
        assert_eq!((s, v), (204, Value::Null));
        let v = call(&app, Method::GET, &format!("/api/v5/{kind}/{id}"), None)
            .await
            .1;
        assert_eq!(
            (v["enable"].clone(), v["status"].clone()),
            (json!(false), json!("stopped"))
        );
        assert_eq!(
            call(
                &app,
                Method::PUT,
                &format!("/api/v5/{kind}/{id}/enable/true"),
                None
            )
            .await
            .0,
            204
        );
        assert_eq!(
            call(&app, Method::GET, &format!("/api/v5/{kind}/{id}"), None)
                .await
                .1["enable"],
            true
        );
        let (s, v) = call(
            &app,
            Method::PUT,
            &format!("/api/v5/{kind}/{id}/enable/yes"),
            None,
        )
        .await;
        assert_eq!((s, v["code"].clone()), (400, json!("BAD_REQUEST")));
    }
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/actions/http:none/enable/true",
        None,
    )
    .await;
    assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
}

#[tokio::test]
async fn action_metrics_are_read_and_reset() {
    let memory = Arc::new(Memory::default());
    let app = app(Some(memory.clone()));
    call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    call(&app, Method::POST, "/api/v5/actions", Some(action())).await;
    memory.matched.lock().insert("http:out".into(), 7);
    let (s, v) = call(&app, Method::GET, "/api/v5/actions/http:out/metrics", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["metrics"]["matched"], 7);
    assert_eq!(v["metrics"]["dropped.queue_full"], 0);
    assert_eq!(v["node_metrics"][0]["node"], "roost@test");
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/actions/http:out/metrics/reset",
        None,
    )
    .await;
    assert_eq!((s, v), (204, Value::Null));
    assert_eq!(
        call(&app, Method::GET, "/api/v5/actions/http:out/metrics", None)
            .await
            .1["metrics"]["matched"],
        0
    );
    for path in [
        "/api/v5/actions/http:none/metrics",
        "/api/v5/sources/http:none/metrics",
    ] {
        let (s, v) = call(&app, Method::GET, path, None).await;
        assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")), "{path}");
    }
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v5/actions/http:none/metrics/reset",
        None,
    )
    .await;
    assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
    // Connectors have no metrics route.
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v5/connectors/http:hook/metrics",
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn without_a_registry_reads_are_empty_and_writes_unavailable() {
    let app = app(None);
    for kind in ["connectors", "actions", "sources"] {
        assert_eq!(
            call(&app, Method::GET, &format!("/api/v5/{kind}"), None).await,
            (200, json!([]))
        );
        let (s, v) = call(
            &app,
            Method::POST,
            &format!("/api/v5/{kind}"),
            Some(connector()),
        )
        .await;
        assert_eq!(
            (s, v["code"].clone()),
            (503, json!("SERVICE_UNAVAILABLE")),
            "{kind}"
        );
        for (method, path) in [
            (Method::GET, format!("/api/v5/{kind}/http:x")),
            (Method::DELETE, format!("/api/v5/{kind}/http:x")),
            (Method::PUT, format!("/api/v5/{kind}/http:x/enable/true")),
        ] {
            let (s, v) = call(&app, method, &path, None).await;
            assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")), "{path}");
        }
    }
    let (s, v) = call(&app, Method::GET, "/api/v5/actions/http:x/metrics", None).await;
    assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
}

#[test]
fn the_document_has_every_route() {
    let (_, doc) = routes::<Bridges>().split_for_parts();
    let paths: Vec<&String> = doc.paths.paths.keys().collect();
    for kind in ["connectors", "actions", "sources"] {
        for p in ["", "/{id}", "/{id}/enable/{enable}"] {
            let want = format!("/api/v5/{kind}{p}");
            assert!(paths.contains(&&want), "{want} missing from {paths:?}");
        }
    }
    for kind in ["actions", "sources"] {
        for p in ["/{id}/metrics", "/{id}/metrics/reset"] {
            assert!(paths.contains(&&format!("/api/v5/{kind}{p}")));
        }
    }
    assert_eq!(paths.len(), 13);
}

#[tokio::test]
async fn an_action_a_rule_names_is_not_deleted() {
    let app = app(Some(Arc::new(Memory::default())));
    call(&app, Method::POST, "/api/v5/connectors", Some(connector())).await;
    let mut used = action();
    used["name"] = json!("used");
    assert_eq!(
        call(&app, Method::POST, "/api/v5/actions", Some(used))
            .await
            .0,
        201
    );
    let (s, v) = call(&app, Method::DELETE, "/api/v5/actions/http:used", None).await;
    assert_eq!((s, v["code"].clone()), (400, json!("DEPENDENCY_EXISTS")));
    assert!(v["message"].as_str().unwrap().contains("r1"), "{v}");
    assert_eq!(
        call(&app, Method::GET, "/api/v5/actions/http:used", None)
            .await
            .0,
        200
    );
    // Not there: 404 before the rules are asked.
    let (s, v) = call(&app, Method::DELETE, "/api/v5/actions/http:none", None).await;
    assert_eq!((s, v["code"].clone()), (404, json!("NOT_FOUND")));
}
