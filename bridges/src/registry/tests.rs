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
    /// Delivers `parameters.messages` messages with topic `parameters.topic`.
    fn source(
        &self,
        p: &serde_json::Value,
        ingress: Arc<dyn Ingress>,
    ) -> Result<Box<dyn SourceHandle>, ConfigError> {
        let n = p.get("messages").and_then(|v| v.as_u64()).unwrap_or(1);
        let topic = p
            .get("topic")
            .and_then(|v| v.as_str())
            .unwrap_or("x")
            .to_string();
        let task = tokio::spawn(async move {
            for i in 0..n {
                let mut m = Map::new();
                m.insert("topic".into(), Value::Str(topic.clone()));
                m.insert("payload".into(), Value::Str(format!(r#"{{"i": {i}}}"#)));
                ingress.deliver(m);
            }
        });
        Ok(Box::new(Handle(task)))
    }
}

struct Handle(tokio::task::JoinHandle<()>);

impl SourceHandle for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.abort();
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
    // A new connector config: its actions move to it; a bad one changes nothing.
    b.update(Kind::Connector, "fake:c2", json!({"url": "z"}))
        .unwrap();
    assert_eq!(b.get(Kind::Connector, "fake:c2").unwrap()["url"], "z");
    assert!(b
        .get(Kind::Action, "fake:a2")
        .unwrap()
        .get("status_reason")
        .is_none());
    let e = b.update(Kind::Connector, "fake:c2", json!({})).unwrap_err();
    assert_eq!(e.to_string(), "url: is required");
    assert_eq!(b.get(Kind::Connector, "fake:c2").unwrap()["url"], "z");
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

/// A source's messages reach a rule selecting `$bridges/fake:s1`, whose
/// action sends them to `fake:a1`; a rule's action cannot be deleted.
#[tokio::test]
async fn a_source_feeds_a_rule_that_feeds_an_action() {
    let store = Arc::new(Mem::default());
    let (b, sent) = start(&conf(), &store);
    let b = b.unwrap();
    let engine = RuleEngine::new(&Default::default(), None, Arc::default()).unwrap();
    b.attach(&engine);
    // The rule workers, without a broker (the actions here need none).
    let (workers, _) = ractor::Actor::spawn(
        None,
        roost_rules::engine::workers::RuleWorkers,
        engine.clone(),
    )
    .await
    .unwrap();
    let spec: roost_rules::RuleSpec = serde_json::from_value(json!({
        "id": "fwd",
        "sql": "SELECT payload.i AS i, topic FROM \"$bridges/fake:s1\"",
        "actions": ["fake:a1"],
    }))
    .unwrap();
    engine.create(spec).unwrap();
    assert!(matches!(
        b.delete(Kind::Action, "fake:a1"),
        Err(ManageError::InUse(_))
    ));
    b.create(
        Kind::Source,
        json!({"type": "fake", "name": "s1", "connector": "c1", "parameters": {"messages": 3, "topic": "remote/t"}}),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sent.lock().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", sent.lock());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut is: Vec<Value> = sent.lock().iter().map(|m| m["i"].clone()).collect();
    is.sort_by_key(|v| match v {
        Value::Int(i) => *i,
        _ => -1,
    });
    assert_eq!(is, [Value::Int(0), Value::Int(1), Value::Int(2)]);
    assert_eq!(sent.lock()[0]["topic"], Value::Str("remote/t".into()));
    let m = b.metrics(Kind::Source, "fake:s1").unwrap();
    assert_eq!(m["metrics"]["received"], 3);
    workers.stop(None);
}

/// What one node changes through the API, another takes from its copy of the
/// document (as the cluster carries it), newest only.
#[tokio::test]
async fn a_replicated_document_rebuilds_what_changed() {
    use roost_core::cluster::TableSink;
    let (a, _) = start(&conf(), &Arc::new(Mem::default()));
    let (b, _) = start(&conf(), &Arc::new(Mem::default()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let to_b = replica::Replica(Arc::downgrade(&b));
    let from_a = replica::Replica(Arc::downgrade(&a));
    a.create(
        Kind::Connector,
        json!({"type": "fake", "name": "c2", "url": "y"}),
    )
    .unwrap();
    a.create(
        Kind::Action,
        json!({"type": "fake", "name": "a2", "connector": "c2"}),
    )
    .unwrap();
    a.delete(Kind::Action, "fake:a1").unwrap();
    let (v, doc) = from_a.current().unwrap();
    to_b.apply(v, &doc);
    let ids = |r: &Bridges| -> Vec<String> {
        r.list(Kind::Action)
            .iter()
            .map(|o| {
                format!(
                    "{}:{}",
                    o["type"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(ids(&b), ["fake:a2"]);
    assert_eq!(b.get(Kind::Connector, "fake:c2").unwrap()["url"], "y");
    // An older copy changes nothing.
    a.update(Kind::Connector, "fake:c2", json!({"url": "z"}))
        .unwrap();
    to_b.apply(v, &from_a.current().unwrap().1);
    assert_eq!(b.get(Kind::Connector, "fake:c2").unwrap()["url"], "y");
    let (v2, doc2) = from_a.current().unwrap();
    to_b.apply(v2, &doc2);
    assert_eq!(b.get(Kind::Connector, "fake:c2").unwrap()["url"], "z");
}
