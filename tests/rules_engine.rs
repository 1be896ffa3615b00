//! The rule engine (issue 15) end to end, against the real binary: rules
//! given in the configuration (`rules.rules`, here from the environment as
//! YAML) on client events and on messages, republishing with templates;
//! a burst on a heavy rule that loses no output (rules run on the
//! publisher's side); rules stored in `node.data_dir` loaded at start.

#[macro_use]
mod common;
use common::http::get;
use common::*;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

async fn metrics(http: SocketAddr) -> BTreeMap<String, u64> {
    let r = get(http, "/api/v5/metrics?aggregate=true").await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("an object of counters")
}

/// Polls the broker's counters until `done` holds for them.
async fn wait_metrics(
    http: SocketAddr,
    what: &str,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(http).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: never held: {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rule_counters(m: &BTreeMap<String, u64>) -> BTreeMap<&str, u64> {
    m.iter()
        .filter(|(k, _)| k.starts_with("rules."))
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

#[tokio::test]
async fn a_rule_on_client_connected_republishes_who_connected() {
    let rules = r#"{ev: {sql: 'SELECT clientid, username FROM "$events/client_connected"', actions: [{function: republish, args: {topic: "watch/connected", qos: 1, payload: "${clientid}/${username}"}}]}}"#;
    let b = Broker::start_with(&[("ROOST__RULES__RULES", rules)]);
    let mut watcher = V4Client::connect(b.addr(), "watcher").await;
    watcher.subscribe("watch/connected", 1).await;
    let mut opts = V4Client::options(b.addr(), "dev1");
    opts.set_credentials("alice", "secret");
    let _dev = V4Client::connect_with(opts).await;
    // The watcher's own connection fired the rule too (maybe after its
    // subscription): wait for dev1's.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let p = watcher.recv_publish().await;
        let payload = String::from_utf8_lossy(&p.payload).into_owned();
        if payload == "dev1/alice" {
            assert_eq!(p.qos, rumqttc::QoS::AtLeastOnce);
            break;
        }
        assert_eq!(payload, "watcher/undefined", "a connection nobody made");
        assert!(Instant::now() < deadline, "no message about dev1");
    }
    let m = metrics(b.http_addr()).await;
    assert!(m["rules.matched"] >= 2, "{:?}", rule_counters(&m));
    assert!(m["rules.actions.success"] >= 2, "{:?}", rule_counters(&m));
}

#[tokio::test]
async fn a_message_rule_filters_on_the_json_payload_and_republishes_with_templates() {
    let rules = r#"{hot: {sql: 'SELECT * FROM "sensors/#" WHERE payload.x > 10', actions: [{function: republish, args: {topic: "alerts/${clientid}", qos: 1, retain: true, payload: "x=${payload.x} from ${topic}", user_properties: {src: "${topic}", rule: "hot"}, mqtt_properties: {Content-Type: "text/plain"}}}]}}"#;
    let b = Broker::start_with(&[("ROOST__RULES__RULES", rules)]);
    let mut sub = V5Client::connect(b.addr(), "alerts-sub").await;
    sub.subscribe("alerts/#", 1).await;
    let mut dev = V5Client::connect(b.addr(), "dev9").await;
    dev.publish("sensors/dev9/temp", br#"{"x": 5}"#, 1, false)
        .await;
    dev.publish("sensors/dev9/temp", br#"{"x": 42}"#, 1, false)
        .await;
    dev.publish("other/dev9", br#"{"x": 99}"#, 1, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(topic5(&p), "alerts/dev9");
    assert_eq!(&p.payload[..], b"x=42 from sensors/dev9/temp");
    assert_eq!(p.qos, rumqttc::v5::mqttbytes::QoS::AtLeastOnce);
    let props = p.properties.clone().expect("properties");
    let mut users = props.user_properties.clone();
    users.sort();
    assert_eq!(
        users,
        [
            ("rule".to_string(), "hot".to_string()),
            ("src".to_string(), "sensors/dev9/temp".to_string())
        ]
    );
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    // x = 5 did not pass the WHERE; other/dev9 is not in the FROM.
    sub.recv_no_publish_for(Duration::from_millis(300)).await;
    // Retained as the action said: a later subscriber gets it, flagged retained.
    let mut late = V5Client::connect(b.addr(), "late").await;
    late.subscribe("alerts/dev9", 0).await;
    let r = late.recv_publish().await;
    assert!(r.retain, "the republished message is retained");
    assert_eq!(&r.payload[..], b"x=42 from sensors/dev9/temp");
    let m = wait_metrics(b.http_addr(), "two matched, one passed", |m| {
        m["rules.matched"] == 2 && m["rules.passed"] == 1 && m["rules.failed"] == 1
    })
    .await;
    assert_eq!(m["rules.actions.success"], 1, "{:?}", rule_counters(&m));
}

#[tokio::test]
async fn the_default_republish_keeps_qos_payload_and_user_properties() {
    // EMQX's defaults: qos ${qos}, retain ${flags.retain}, payload ${payload},
    // user properties ${pub_props.'User-Property'}.
    let rules = r#"{fwd: {sql: 'SELECT * FROM "in/#"', actions: [{function: republish, args: {topic: "out/${topic}"}}]}}"#;
    let b = Broker::start_with(&[("ROOST__RULES__RULES", rules)]);
    let mut sub = V5Client::connect(b.addr(), "s").await;
    sub.subscribe("out/#", 2).await;
    let mut publ = V5Client::connect(b.addr(), "p").await;
    let props = PublishProperties {
        user_properties: vec![("k".into(), "v".into())],
        ..Default::default()
    };
    publ.publish_with_properties("in/a", b"raw bytes", 2, false, props)
        .await;
    let p = sub.recv_publish().await;
    assert_eq!(topic5(&p), "out/in/a");
    assert_eq!(&p.payload[..], b"raw bytes");
    assert_eq!(p.qos, rumqttc::v5::mqttbytes::QoS::ExactlyOnce);
    assert_eq!(
        p.properties.expect("properties").user_properties,
        [("k".to_string(), "v".to_string())]
    );
}

/// Rules run where the message is published (as in EMQX), not behind a
/// bounded queue: a burst on a heavy rule, with the rule workers' queue as
/// small as it goes (one worker, one job), loses no rule output. Every
/// message matched, passed and ran all twenty actions; nothing was dropped.
#[tokio::test]
async fn a_burst_on_a_heavy_rule_loses_no_output_whatever_the_queue() {
    let console = std::iter::repeat_n("{function: console}", 20)
        .collect::<Vec<_>>()
        .join(", ");
    let rules = format!(r#"{{slow: {{sql: 'SELECT * FROM "burst/#"', actions: [{console}]}}}}"#);
    let b = Broker::start_with(&[
        ("ROOST__RULES__RULES", rules.as_str()),
        ("ROOST__RULES__WORKER_POOL_SIZE", "1"),
        ("ROOST__RULES__MAX_QUEUE_LEN", "1"),
    ]);
    let mut publ = V4Client::connect(b.addr(), "burst").await;
    const N: usize = 500;
    for i in 0..N {
        publ.client
            .publish(
                "burst/x",
                rumqttc::QoS::AtLeastOnce,
                false,
                format!("{{\"i\": {i}}}").into_bytes(),
            )
            .await
            .unwrap();
    }
    let mut acks = 0;
    while acks < N {
        publ.wait_for("PUBACK", |p| matches!(p, rumqttc::Packet::PubAck(_)))
            .await;
        acks += 1;
    }
    let m = wait_metrics(b.http_addr(), "every match ran", |m| {
        m["rules.matched"] == N as u64 && m["rules.passed"] == N as u64
    })
    .await;
    let c = rule_counters(&m);
    assert_eq!(m["rules.dropped.queue_full"], 0, "{c:?}");
    assert_eq!(m["rules.failed"], 0, "{c:?}");
    assert_eq!(
        m["rules.actions.success"],
        N as u64 * 20,
        "every action of every message: {c:?}"
    );
}

#[tokio::test]
async fn rules_stored_in_the_data_dir_are_loaded_at_start() {
    let dir = common::broker::unique_data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let doc = serde_json::json!({
        "version": 1,
        "rules": [{
            "id": "stored",
            "sql": "SELECT upper(payload) AS up FROM \"st/in\"",
            "actions": [{"function": "republish", "args": {"topic": "st/out", "payload": "${up}"}}],
            "enable": true,
            "description": "from the store",
            "created_at": "2026-01-01T00:00:00Z"
        }]
    });
    std::fs::write(dir.join("rules.json"), doc.to_string()).unwrap();
    let b = Broker::start_with(&[("ROOST__NODE__DATA_DIR", dir.to_str().unwrap())]);
    let mut sub = V4Client::connect(b.addr(), "s").await;
    sub.subscribe("st/out", 0).await;
    let mut publ = V4Client::connect(b.addr(), "p").await;
    publ.publish("st/in", b"quiet", 0, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(&p.payload[..], b"QUIET");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rule_that_does_not_parse_stops_start_up_naming_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["check-config"])
        .env(
            "ROOST__RULES__RULES",
            r#"{broken: {sql: "SELECT FROM WHERE", actions: []}}"#,
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.rules.broken"), "{err}");
}

#[tokio::test]
async fn a_rule_never_runs_on_what_it_republished() {
    // "#" matches what the rule republishes: without loop protection it
    // would run again on its own output forever.
    let rules = r##"{all: {sql: 'SELECT * FROM "#"', actions: [{function: republish, args: {topic: "echo/${topic}"}}]}}"##;
    let b = Broker::start_with(&[("ROOST__RULES__RULES", rules)]);
    let mut sub = V4Client::connect(b.addr(), "s").await;
    sub.subscribe("echo/#", 0).await;
    let mut publ = V4Client::connect(b.addr(), "p").await;
    publ.publish("a", b"1", 0, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(p.topic, "echo/a");
    sub.recv_no_publish_for(Duration::from_millis(300)).await;
    let m = metrics(b.http_addr()).await;
    assert_eq!(m["rules.matched"], 1, "{:?}", rule_counters(&m));
}

/// Receives until a message on `topic` whose payload starts with `prefix`.
async fn recv_about(c: &mut V4Client, topic: &str, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(
            Instant::now() < deadline,
            "nothing on {topic} about {prefix}"
        );
        let p = c.recv_publish().await;
        let payload = String::from_utf8_lossy(&p.payload).into_owned();
        if p.topic == topic && payload.starts_with(prefix) {
            return payload;
        }
    }
}

#[tokio::test]
async fn the_event_topics_carry_emqx_s_columns() {
    let rules = r#"{
      authn: {sql: 'SELECT * FROM "$events/client_check_authn_complete"', actions: [{function: republish, args: {topic: "ev/authn", payload: "${clientid}|${username}|${reason_code}|${is_anonymous}|${event}"}}]},
      authz: {sql: 'SELECT * FROM "$events/client_check_authz_complete" WHERE action = ''subscribe''', actions: [{function: republish, args: {topic: "ev/authz", payload: "${clientid}|${topic}|${action}|${result}"}}]},
      sub: {sql: 'SELECT * FROM "$events/session_subscribed"', actions: [{function: republish, args: {topic: "ev/sub", payload: "${clientid}|${topic}|${qos}"}}]},
      dropped: {sql: 'SELECT * FROM "$events/message_dropped"', actions: [{function: republish, args: {topic: "ev/dropped", payload: "${clientid}|${topic}|${reason}|${payload}"}}]},
      disc: {sql: 'SELECT * FROM "$events/client_disconnected"', actions: [{function: republish, args: {topic: "ev/disc", payload: "${clientid}|${reason}"}}]}
    }"#;
    // A source, so that authorization judges (no_match: allow).
    let b = Broker::start_with(&[
        ("ROOST__RULES__RULES", rules),
        (
            "ROOST__AUTHORIZATION__SOURCES",
            "[{type: built_in_database}]",
        ),
    ]);
    let mut w = V4Client::connect(b.addr(), "watcher").await;
    w.subscribe("ev/#", 0).await;
    let mut opts = V4Client::options(b.addr(), "dev2");
    opts.set_credentials("bob", "pw");
    let mut dev = V4Client::connect_with(opts).await;
    assert_eq!(
        recv_about(&mut w, "ev/authn", "dev2|").await,
        "dev2|bob|success|true|client.check_authn_complete"
    );
    dev.subscribe("a/b", 1).await;
    assert_eq!(
        recv_about(&mut w, "ev/authz", "dev2|").await,
        "dev2|a/b|subscribe|allow"
    );
    assert_eq!(recv_about(&mut w, "ev/sub", "dev2|").await, "dev2|a/b|1");
    dev.publish("nobody/listens", b"lost", 0, false).await;
    assert_eq!(
        recv_about(&mut w, "ev/dropped", "dev2|").await,
        "dev2|nobody/listens|no_subscribers|lost"
    );
    dev.disconnect().await;
    assert_eq!(recv_about(&mut w, "ev/disc", "dev2|").await, "dev2|normal");
}
