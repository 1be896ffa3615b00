//! The engine without a broker: the API's rules, their store, replication
//! between two engines, the index, `rule_test` and the workers' accounting.

use super::*;
use roost_core::cluster::{ClusterStatus, RemoteMatches};
use roost_core::session::SessionSnapshot;
use roost_core::storage::StorageError;
use roost_core::{BoxFuture, Message, SharedKey};
use serde_json::json;

/// An object store in memory, shared by the engines of one test.
#[derive(Default)]
struct Mem(Mutex<HashMap<String, Vec<u8>>>);

impl ObjectStore for Mem {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.lock().get(name).cloned())
    }

    fn put(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.lock().insert(name.to_string(), value.to_vec());
        Ok(())
    }
}

fn spec(id: &str, sql: &str) -> RuleSpec {
    RuleSpec {
        id: Some(id.into()),
        name: String::new(),
        sql: sql.into(),
        actions: vec![ActionSpec::Function {
            function: "console".into(),
            args: json!({}),
        }],
        enable: true,
        description: String::new(),
    }
}

fn engine(store: &Arc<Mem>) -> Arc<RuleEngine> {
    RuleEngine::new(
        &RulesConfig::default(),
        Some(store.clone() as Arc<dyn ObjectStore>),
        Arc::new(Metrics::default()),
    )
    .unwrap()
}

#[test]
fn created_rules_are_stored_and_loaded_by_the_next_engine() {
    let store = Arc::new(Mem::default());
    let a = engine(&store);
    let info = a.create(spec("r1", r#"SELECT * FROM "t/#""#)).unwrap();
    assert_eq!(info.from, vec!["t/#".to_string()]);
    assert!(matches!(
        a.create(spec("r1", r#"SELECT * FROM "t/#""#)),
        Err(RuleError::Exists(_))
    ));
    a.create(spec("r2", r#"SELECT * FROM "$events/client_connected""#))
        .unwrap();
    let mut changed = spec("r2", r#"SELECT clientid FROM "$events/client_connected""#);
    changed.enable = false;
    a.update("r2", changed).unwrap();
    // Restart: a new engine over the same store.
    let b = engine(&store);
    let ids: Vec<String> = b.list().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["r1", "r2"]);
    let r2 = b.get("r2").unwrap();
    assert!(!r2.enable);
    assert_eq!(r2.sql, r#"SELECT clientid FROM "$events/client_connected""#);
    assert_eq!(r2.created_at, a.get("r2").unwrap().created_at);
    assert!(b.delete("r1").unwrap());
    assert!(!b.delete("r1").unwrap());
    assert_eq!(engine(&store).list().len(), 1);
}

#[test]
fn bad_rules_are_refused_with_why() {
    let store = Arc::new(Mem::default());
    let e = engine(&store);
    assert!(matches!(
        e.create(spec("x", "SELEKT * FROM \"t\"")),
        Err(RuleError::Sql(_))
    ));
    assert!(matches!(
        e.create(spec("x", r#"SELECT * FROM "$events/no_such_event""#)),
        Err(RuleError::Action(_))
    ));
    let mut s = spec("x", r#"SELECT * FROM "t""#);
    s.actions = vec![ActionSpec::Function {
        function: "republish".into(),
        args: json!({}),
    }];
    assert!(matches!(e.create(s), Err(RuleError::Action(m)) if m.contains("topic")));
    let mut s = spec("x", r#"SELECT * FROM "t""#);
    s.actions = vec![ActionSpec::Reference("no_colon".into())];
    assert!(matches!(e.create(s), Err(RuleError::Action(_))));
    assert!(matches!(
        e.update("nobody", spec("nobody", r#"SELECT * FROM "t""#)),
        Err(RuleError::NotFound(_))
    ));
    assert!(e.list().is_empty());
}

#[test]
fn the_index_selects_by_topic_filter_and_event_and_skips_disabled_rules() {
    let store = Arc::new(Mem::default());
    let e = engine(&store);
    assert!(!e.index.has(EventKind::MessagePublish));
    e.create(spec(
        "a",
        r#"SELECT * FROM "s/+/temp", "$events/client_connected""#,
    ))
    .unwrap();
    let mut off = spec("b", r#"SELECT * FROM "s/#""#);
    off.enable = false;
    e.create(off).unwrap();
    assert!(e.index.has(EventKind::MessagePublish));
    assert!(e.index.has(EventKind::ClientConnected));
    assert!(!e.index.has(EventKind::MessageDropped));
    let hits = |topic: &str| {
        e.index.with(|i| {
            let mut ids = Vec::new();
            i.topics
                .for_each_match(topic, |m| ids.extend(m.keys().map(|k| k.to_string())));
            ids
        })
    };
    assert_eq!(hits("s/1/temp"), ["a"]);
    assert!(hits("s/1/hum").is_empty());
    e.delete("a").unwrap();
    assert!(hits("s/1/temp").is_empty());
    assert!(!e.index.has(EventKind::ClientConnected));
}

/// Two engines joined by a cluster that delivers `replicate` to the other
/// side's sink at once (`LinkEnd(wire, i)`: node `i` of two).
#[derive(Default)]
struct Wire {
    sinks: Mutex<Vec<Arc<dyn TableSink>>>,
}

struct LinkEnd(Arc<Wire>, usize);

impl ClusterLink for LinkEnd {
    fn route_changed(&self, _: &str, _: Option<&Arc<str>>, _: bool) {}
    fn remote_matches(&self, _: &str, _: &mut RemoteMatches) {}
    fn forward(
        &self,
        _: &Arc<str>,
        _: &Arc<Message>,
        _: bool,
        _: Vec<Arc<SharedKey>>,
    ) -> Option<Arc<dyn roost_core::cluster::Hold>> {
        None
    }
    fn retained(&self, _: &Arc<Message>) {}
    fn status(&self) -> ClusterStatus {
        ClusterStatus {
            enabled: true,
            node: String::new(),
            members: Vec::new(),
        }
    }
    fn join(&self, _: String) {}
    fn leave(&self) {}
    fn takeover(&self, _: Arc<str>, _: bool) -> BoxFuture<'static, Option<SessionSnapshot>> {
        Box::pin(async { None })
    }
    fn replicate(&self, _table: &str, version: u64, doc: Vec<u8>) {
        let other = self.0.sinks.lock().get(1 - self.1).cloned();
        if let Some(sink) = other {
            sink.apply(version, &doc);
        }
    }
    fn register_table(&self, _table: &str, sink: Arc<dyn TableSink>) {
        self.0.sinks.lock().push(sink);
    }
}

#[test]
fn rules_replicate_to_the_other_node_and_the_newest_copy_wins() {
    let wire = Arc::new(Wire::default());
    let (s1, s2) = (Arc::new(Mem::default()), Arc::new(Mem::default()));
    let (n1, n2) = (engine(&s1), engine(&s2));
    n1.replicate_through(Arc::new(LinkEnd(wire.clone(), 0)));
    n2.replicate_through(Arc::new(LinkEnd(wire.clone(), 1)));
    n1.create(spec("r1", r#"SELECT * FROM "t/#""#)).unwrap();
    assert_eq!(n2.get("r1").unwrap().sql, r#"SELECT * FROM "t/#""#);
    assert!(n2.index.has(EventKind::MessagePublish));
    // Stored on node 2 too: its next start has it.
    assert_eq!(engine(&s2).list().len(), 1);
    n2.update("r1", spec("r1", r#"SELECT * FROM "u/#""#))
        .unwrap();
    assert_eq!(n1.get("r1").unwrap().sql, r#"SELECT * FROM "u/#""#);
    n1.delete("r1").unwrap();
    assert!(n2.get("r1").is_none());
    // An older copy (a node that was away) does not undo newer changes.
    let sink = wire.sinks.lock()[1].clone();
    let old = Document {
        version: 1,
        rules: vec![StoredRule {
            spec: spec("stale", r#"SELECT * FROM "t""#),
            created_at: rfc3339_now(),
        }],
    };
    sink.apply(1, &old.encode());
    assert!(n2.get("stale").is_none());
    // What a reconnecting peer is sent: the current copy.
    let (version, doc) = sink.current().unwrap();
    assert!(version > 1);
    assert!(Document::decode(&doc).unwrap().rules.is_empty());
}

#[test]
fn rule_test_answers_the_selected_fields_or_no_match() {
    let out = RuleEngine::test(
        r#"SELECT payload.x AS x, clientid FROM "t/#" WHERE payload.x > 1"#,
        &json!({"event_type": "message_publish", "topic": "t/a", "payload": "{\"x\": 2}", "clientid": "c1"}),
    )
    .unwrap();
    assert_eq!(out, json!({"x": 2, "clientid": "c1"}));
    let no = RuleEngine::test(
        r#"SELECT * FROM "t/#" WHERE payload.x > 5"#,
        &json!({"topic": "t/a", "payload": "{\"x\": 2}"}),
    );
    assert!(matches!(no, Err(TestError::NoMatch)));
    let other_topic = RuleEngine::test(r#"SELECT * FROM "u/#""#, &json!({"topic": "t/a"}));
    assert!(matches!(other_topic, Err(TestError::NoMatch)));
    let event = RuleEngine::test(
        r#"SELECT clientid, event FROM "$events/client_connected""#,
        &json!({"event_type": "client_connected", "clientid": "dev1"}),
    )
    .unwrap();
    assert_eq!(
        event,
        json!({"clientid": "dev1", "event": "client.connected"})
    );
    assert!(matches!(
        RuleEngine::test(r#"SELECT * FROM "t""#, &json!({"event_type": "nope"})),
        Err(TestError::Context(_))
    ));
    assert!(matches!(
        RuleEngine::test(r#"SELECT * FROM "t""#, &json!([1])),
        Err(TestError::Context(_))
    ));
}

#[test]
fn every_event_has_columns_and_a_ready_sql() {
    let events = RuleEngine::events();
    assert_eq!(events.len(), 12);
    for e in &events {
        assert!(e.columns.contains(&"timestamp".to_string()), "{}", e.event);
        assert!(e.columns.contains(&"node".to_string()));
        assert!(Sql::parse(&e.sql_example).is_ok(), "{}", e.sql_example);
    }
    assert!(events
        .iter()
        .any(|e| e.event == "$events/client_check_authz_complete"));
}

/// Runs a job's rule as a worker would and reads the counters.
#[test]
fn a_worker_counts_passed_no_result_exception_and_failed_actions() {
    let store = Arc::new(Mem::default());
    let e = engine(&store);
    let mut s = spec(
        "r",
        r#"SELECT payload.x / payload.y AS q FROM "t/#" WHERE payload.x > 0"#,
    );
    s.actions.push(ActionSpec::Reference("http:nowhere".into()));
    e.create(s).unwrap();
    let rule = e.state.lock().registry.rules["r"].clone();
    let publish = |payload: &'static str| {
        events::Timed::now(events::Event::Publish {
            msg: Arc::new(Message::new(
                "t/a".into(),
                bytes::Bytes::from_static(payload.as_bytes()),
                roost_protocol::QoS::AtMostOnce,
                false,
                "c".into(),
                &roost_protocol::Properties::default(),
            )),
            from: None,
        })
    };
    workers::run(&e, &rule, &publish(r#"{"x": 4, "y": 2}"#));
    workers::run(&e, &rule, &publish(r#"{"x": -1, "y": 2}"#));
    workers::run(&e, &rule, &publish(r#"{"x": 1, "y": "a"}"#));
    let m = e.metrics("r").unwrap();
    assert_eq!(
        (m.passed, m.failed_no_result, m.failed_exception),
        (1, 1, 1)
    );
    assert_eq!(m.failed, 2);
    // console succeeded, the unknown http action failed; neither stopped the other.
    assert_eq!(
        (m.actions_success, m.actions_failed, m.actions_total),
        (1, 1, 2)
    );
    assert_eq!(e.metrics.rules_actions_failed.get(), 1);
    assert!(e.reset_metrics("r"));
    assert_eq!(e.metrics("r").unwrap(), RuleMetrics::default());
}

/// Keeps what the actions of type `cap` are handed.
#[derive(Default)]
struct Capture(Mutex<Vec<(String, Map)>>);

impl ActionProvider for Capture {
    fn send(&self, name: &str, _rule_id: &str, output: &Map) -> Result<(), String> {
        self.0.lock().push((name.to_string(), output.clone()));
        Ok(())
    }
}

#[test]
fn a_source_message_reaches_the_rules_selecting_its_bridges_topic() {
    let store = Arc::new(Mem::default());
    let e = engine(&store);
    let mut s = spec(
        "src",
        r#"SELECT payload.t AS t, topic FROM "$bridges/mqtt:in" WHERE payload.t > 1"#,
    );
    s.actions = vec![ActionSpec::Reference("cap:x".into())];
    e.create(s).unwrap();
    assert!(e
        .create(spec("bad", r#"SELECT * FROM "$bridges/nocolon""#))
        .is_err());
    let cap = Arc::new(Capture::default());
    e.register_provider("cap", cap.clone());
    let msg = |t: i64| {
        let mut m = Map::new();
        m.insert("topic".into(), Value::Str("remote/1".into()));
        m.insert("payload".into(), Value::Str(format!(r#"{{"t": {t}}}"#)));
        m
    };
    e.ingest_source("mqtt:in", msg(5));
    e.ingest_source("mqtt:in", msg(0));
    // Another source: no rule selects it.
    e.ingest_source("mqtt:other", msg(7));
    // Run where they were handed in: no worker, no queue.
    let got = cap.0.lock().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "x");
    assert_eq!(got[0].1.get("t"), Some(&Value::Int(5)));
    assert_eq!(got[0].1.get("topic"), Some(&Value::Str("remote/1".into())));
    let m = e.metrics("src").unwrap();
    assert_eq!((m.matched, m.passed, m.failed_no_result), (2, 1, 1));
}
