//! The registry with a fake type: config.yaml's objects, the API's, the
//! store, references, and the rule engine's way in.

use super::*;
use crate::driver::{BoxFuture, ConfigError, SendError, Sink};
use roost_core::storage::StorageError;
use roost_rules::Value;
use serde_json::json;
use std::time::Duration;

#[derive(Default)]
struct Mem(Mutex<HashMap<String, Vec<u8>>>);

impl ObjectStore for Mem {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.lock().get(name).cloned())
    }
    fn put(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.lock().insert(name.into(), value.to_vec());
        Ok(())
    }
}

/// Type `fake`: a connector needs `url`; an action's `parameters.method` is
/// `post` or `get`; what is sent is kept in `SENT`.
struct Fake(Arc<Mutex<Vec<Map>>>);
struct FakeConn(Arc<Mutex<Vec<Map>>>);
struct FakeSink(Arc<Mutex<Vec<Map>>>);

impl Driver for Fake {
    fn kind(&self) -> &'static str {
        "fake"
    }
    fn connector(
        &self,
        _: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        if !conf.get("url").is_some_and(|u| u.is_string()) {
            return Err(ConfigError::new("url", "is required"));
        }
        Ok(Arc::new(FakeConn(self.0.clone())))
    }
}

impl Connector for FakeConn {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn action(&self, p: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        match p.get("method").and_then(|m| m.as_str()) {
            None | Some("post") | Some("get") => Ok(Arc::new(FakeSink(self.0.clone()))),
            Some(m) => Err(ConfigError::new(
                "parameters.method",
                format!("{m:?} is not post or get"),
            )),
        }
    }
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

impl Sink for FakeSink {
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        self.0.lock().extend(batch.iter().cloned());
        Box::pin(async { Ok(()) })
    }
}

fn sections(y: serde_json::Value) -> BridgesSections {
    serde_json::from_value(y).unwrap()
}

/// What the fake sinks were sent.
type Sent = Arc<Mutex<Vec<Map>>>;

fn start(s: &BridgesSections, store: &Arc<Mem>) -> (Result<Arc<Bridges>, StartError>, Sent) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let b = Bridges::new(
        s,
        Some(store.clone() as Arc<dyn ObjectStore>),
        vec![Arc::new(Fake(sent.clone()))],
        BridgesContext {
            node: "roost@127.0.0.1".into(),
            data_dir: std::env::temp_dir().join(format!("roost-reg-{}", std::process::id())),
        },
    );
    (b, sent)
}

fn conf() -> BridgesSections {
    sections(json!({
        "connectors": {"fake": {"c1": {"url": "x"}}},
        "actions": {"fake": {"a1": {"connector": "c1", "parameters": {"method": "post"}}}},
        "sources": {},
    }))
}

#[tokio::test]
async fn config_objects_run_and_bad_keys_are_named() {
    let store = Arc::new(Mem::default());
    let (b, sent) = start(&conf(), &store);
    let b = b.unwrap();
    let engine = RuleEngine::new(&Default::default(), None, Arc::default()).unwrap();
    b.attach(&engine);
    let provider = engine_provider(&b, "fake");
    let mut out = Map::new();
    out.insert("x".into(), Value::Int(1));
    provider.send("a1", "r", &out).unwrap();
    assert!(provider
        .send("nope", "r", &out)
        .unwrap_err()
        .contains("not found"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sent.lock().is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let m = b.metrics(Kind::Action, "fake:a1").unwrap();
    assert_eq!(m["metrics"]["success"], 1);
    assert_eq!(b.get(Kind::Action, "fake:a1").unwrap()["connector"], "c1");

    let mut bad = conf();
    bad.actions.get_mut("fake").unwrap().get_mut("a1").unwrap()["parameters"]["method"] =
        json!("fly");
    let e = start(&bad, &store).0.err().unwrap();
    assert_eq!(e.key, "actions.fake.a1.parameters.method", "{e}");
    let mut bad = conf();
    bad.actions.get_mut("fake").unwrap().get_mut("a1").unwrap()["resource_opts"] =
        json!({"batch_sise": 3});
    let e = start(&bad, &store).0.err().unwrap();
    assert!(
        e.to_string().starts_with("actions.fake.a1.resource_opts"),
        "{e}"
    );
    assert!(e.to_string().contains("batch_sise"), "{e}");
    let mut bad = conf();
    bad.connectors.insert("nosuch".into(), Default::default());
    let e = start(&bad, &store).0.err().unwrap();
    assert_eq!(e.key, "connectors.nosuch");
}

fn engine_provider(b: &Arc<Bridges>, kind: &'static str) -> Provider {
    Provider {
        kind,
        bridges: Arc::downgrade(b),
    }
}

#[tokio::test]
async fn the_api_creates_updates_deletes_and_the_store_keeps_it() {
    let store = Arc::new(Mem::default());
    let (b, _) = start(&conf(), &store);
    let b = b.unwrap();
    let c2 = json!({"type": "fake", "name": "c2", "url": "y"});
    b.create(Kind::Connector, c2.clone()).unwrap();
    assert!(matches!(
        b.create(Kind::Connector, c2),
        Err(ManageError::AlreadyExists(_))
    ));
    let a2 =
        json!({"type": "fake", "name": "a2", "connector": "c2", "parameters": {"method": "get"}});
    b.create(Kind::Action, a2).unwrap();
    let e = b
        .create(
            Kind::Action,
            json!({"type": "fake", "name": "a3", "connector": "c2", "parameters": {"method": "x"}}),
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("parameters.method:"), "{e}");
    assert!(matches!(
        b.delete(Kind::Connector, "fake:c2"),
        Err(ManageError::InUse(_))
    ));
    b.update(
        Kind::Action,
        "fake:a2",
        json!({"connector": "c2", "parameters": {"method": "post"}, "enable": false}),
    )
    .unwrap();
    assert_eq!(b.get(Kind::Action, "fake:a2").unwrap()["status"], "stopped");
    b.enable(Kind::Action, "fake:a2", true).unwrap();
    b.delete(Kind::Action, "fake:a1").unwrap();
    drop(b);
    // Restart over the same store and config: a2 is back, a1 stays deleted.
    let (b, _) = start(&conf(), &store);
    let b = b.unwrap();
    let ids: Vec<String> = b
        .list(Kind::Action)
        .iter()
        .map(|o| {
            format!(
                "{}:{}",
                o["type"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ids, ["fake:a2"]);
    let a2 = b.get(Kind::Action, "fake:a2").unwrap();
    assert_eq!(a2["parameters"]["method"], "post");
    assert_eq!(a2["enable"], true);
    b.delete(Kind::Action, "fake:a2").unwrap();
    b.delete(Kind::Connector, "fake:c2").unwrap();
    assert!(matches!(
        b.get(Kind::Connector, "fake:c2"),
        Err(ManageError::NotFound(_))
    ));
}
