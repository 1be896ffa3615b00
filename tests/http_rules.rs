//! The rule engine through the REST API, EMQX 5's paths and shapes
//! (`emqx_rule_engine_api`): rules CRUD with its errors and list filters,
//! metrics after real publishes (a republish rule seen by a real
//! subscriber), resetting them, `rule_test` (200, 412 NOT_MATCH, 400), and
//! `rule_events`.

#[macro_use]
mod common;
use common::access::{api, eventually};
use common::*;
use serde_json::{json, Value};

const ALERT_SQL: &str =
    r#"SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30"#;

fn alert_rule(id: &str) -> Value {
    json!({
        "id": id,
        "name": "hot rooms",
        "sql": ALERT_SQL,
        "actions": [{"function": "republish", "args": {
            "topic": "alerts/${clientid}", "qos": 1, "retain": false, "payload": "${t}"}}],
        "description": "temperature alerts",
    })
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn rules_create_list_show_update_delete() {
    let b = Broker::start();

    let (status, r) = api(&b, "POST", "/api/v5/rules", Some(alert_rule("hot"))).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["id"], "hot");
    assert_eq!(r["name"], "hot rooms");
    assert_eq!(r["sql"], ALERT_SQL);
    assert_eq!(r["enable"], true, "enabled by default");
    assert_eq!(r["from"], json!(["sensors/#"]));
    assert_eq!(r["description"], "temperature alerts");
    assert_eq!(r["actions"][0]["function"], "republish");
    assert_eq!(r["actions"][0]["args"]["topic"], "alerts/${clientid}");
    assert!(
        r["created_at"].as_str().is_some_and(|t| t.contains('T')),
        "RFC 3339: {r}"
    );

    // An id taken: 400, as EMQX answers.
    let (status, e) = api(&b, "POST", "/api/v5/rules", Some(alert_rule("hot"))).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("exists"), "{e}");

    // Bad SQL: 400 with the parser's message.
    let bad = json!({"id": "bad", "sql": "SELEC * FRM t", "actions": []});
    let (status, e) = api(&b, "POST", "/api/v5/rules", Some(bad)).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("sql"),
        "{e}"
    );
    // An unknown action function, an action of the wrong shape, an empty id.
    for body in [
        json!({"id": "bad", "sql": "SELECT * FROM \"t/#\"", "actions": [{"function": "no_such_action"}]}),
        json!({"id": "bad", "sql": "SELECT * FROM \"t/#\"", "actions": [42]}),
        json!({"id": "", "sql": "SELECT * FROM \"t/#\""}),
        json!({"id": "bad"}),
    ] {
        let (status, e) = api(&b, "POST", "/api/v5/rules", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {e}");
        assert_eq!(e["code"], "BAD_REQUEST", "{e}");
    }
    let (status, e) = api(&b, "GET", "/api/v5/rules/bad", None).await;
    assert_eq!(status, 404, "a refused rule is not kept: {e}");

    // No id: one is made up.
    let events = json!({
        "sql": "SELECT clientid FROM \"$events/client_connected\"",
        "actions": [{"function": "console"}],
        "enable": false,
    });
    let (status, made) = api(&b, "POST", "/api/v5/rules", Some(events)).await;
    assert_eq!(status, 201, "{made}");
    let made_id = made["id"].as_str().unwrap().to_string();
    assert!(!made_id.is_empty());
    assert_eq!(made["from"], json!(["$events/client_connected"]));

    // The list, its meta and EMQX's filters.
    let (status, all) = api(&b, "GET", "/api/v5/rules", None).await;
    assert_eq!(status, 200, "{all}");
    let mut got = ids(&all);
    got.sort();
    let mut want = vec!["hot", made_id.as_str()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        all["meta"],
        json!({"page": 1, "limit": 100, "count": 2, "hasnext": false})
    );
    for (query, want) in [
        ("like_id=ho", vec!["hot"]),
        ("enable=true", vec!["hot"]),
        ("enable=false", vec![made_id.as_str()]),
        ("from=sensors/%23", vec!["hot"]),
        ("like_from=events", vec![made_id.as_str()]),
        ("match_from=sensors/room1/x", vec!["hot"]),
        ("like_description=temperature", vec!["hot"]),
        ("like_id=nothing", vec![]),
    ] {
        let (status, l) = api(&b, "GET", &format!("/api/v5/rules?{query}"), None).await;
        assert_eq!(status, 200, "{query}: {l}");
        assert_eq!(ids(&l), want, "{query}");
    }
    let (_, p) = api(&b, "GET", "/api/v5/rules?limit=1&page=2", None).await;
    assert_eq!(
        p["meta"],
        json!({"page": 2, "limit": 1, "count": 2, "hasnext": false})
    );
    assert_eq!(ids(&p).len(), 1);
    let (status, e) = api(&b, "GET", "/api/v5/rules?limit=0", None).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = api(&b, "GET", "/api/v5/rules?enable=maybe", None).await;
    assert_eq!(status, 400, "{e}");

    // One rule; an unknown one.
    let (status, one) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, r, "GET answers what POST did");
    let (status, e) = api(&b, "GET", "/api/v5/rules/none", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{e}"
    );

    // PUT replaces: disable, new SQL; the FROM list follows.
    let mut changed = alert_rule("ignored");
    changed["enable"] = json!(false);
    changed["sql"] = json!("SELECT * FROM \"rooms/+\"");
    let (status, u) = api(&b, "PUT", "/api/v5/rules/hot", Some(changed.clone())).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["id"], "hot", "the path's id wins");
    assert_eq!(
        (&u["enable"], &u["from"]),
        (&json!(false), &json!(["rooms/+"]))
    );
    let (_, one) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(one["enable"], false);
    let (status, e) = api(&b, "PUT", "/api/v5/rules/none", Some(changed)).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{e}"
    );
    let bad = json!({"sql": "SELECT FROM WHERE"});
    let (status, e) = api(&b, "PUT", "/api/v5/rules/hot", Some(bad)).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    let (_, one) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(
        one["sql"], "SELECT * FROM \"rooms/+\"",
        "a refused PUT changes nothing"
    );

    // DELETE: 204, then 404.
    let path = format!("/api/v5/rules/{made_id}");
    let (status, e) = api(&b, "DELETE", &path, None).await;
    assert_eq!(status, 204, "{e}");
    let (status, _) = api(&b, "DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (_, all) = api(&b, "GET", "/api/v5/rules", None).await;
    assert_eq!(ids(&all), ["hot"]);
}

async fn metrics(b: &Broker, id: &str) -> Value {
    let (status, m) = api(b, "GET", &format!("/api/v5/rules/{id}/metrics"), None).await;
    assert_eq!(status, 200, "{m}");
    m
}

#[tokio::test]
async fn a_republish_rule_runs_and_counts() {
    let b = Broker::start();
    let (status, r) = api(&b, "POST", "/api/v5/rules", Some(alert_rule("hot"))).await;
    assert_eq!(status, 201, "{r}");

    let mut sub = V5Client::connect(b.addr(), "watcher").await;
    sub.subscribe("alerts/#", 1).await;
    let mut publisher = V5Client::connect(b.addr(), "room1").await;
    publisher
        .publish("sensors/room1", br#"{"temp": 35}"#, 1, false)
        .await;
    publisher
        .publish("sensors/room1", br#"{"temp": 20}"#, 1, false)
        .await;
    publisher
        .publish("other/topic", br#"{"temp": 99}"#, 1, false)
        .await;

    let p = sub.recv_publish().await;
    assert_eq!(&p.topic[..], b"alerts/room1", "the template's topic");
    assert_eq!(&p.payload[..], b"35", "the template's payload");
    sub.recv_no_publish_for(Duration::from_millis(300)).await;

    eventually(Duration::from_secs(5), "the rule's counters", || async {
        let m = metrics(&b, "hot").await;
        m["metrics"]["matched"] == 2 && m["metrics"]["actions.success"] == 1
    })
    .await;
    let m = metrics(&b, "hot").await;
    assert_eq!(m["id"], "hot");
    let counters = &m["metrics"];
    assert_eq!(counters["matched"], 2, "{m}");
    assert_eq!(counters["passed"], 1, "{m}");
    assert_eq!(counters["actions.total"], 1, "{m}");
    assert_eq!(counters["actions.success"], 1, "{m}");
    assert_eq!(counters["actions.failed"], 0, "{m}");
    assert_eq!(counters["failed.exception"], 0, "{m}");
    for k in [
        "failed",
        "failed.no_result",
        "matched.rate",
        "matched.rate.max",
        "matched.rate.last5m",
    ] {
        assert!(counters[k].is_number(), "{k} in {m}");
    }
    let nodes = m["node_metrics"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{m}");
    assert!(
        nodes[0]["node"].as_str().is_some_and(|n| n.contains('@')),
        "{m}"
    );
    assert_eq!(
        nodes[0]["metrics"], m["metrics"],
        "one node: the sum is its own"
    );

    let (status, e) = api(&b, "PUT", "/api/v5/rules/hot/metrics/reset", None).await;
    assert_eq!(status, 204, "{e}");
    let m = metrics(&b, "hot").await;
    assert_eq!(
        (
            &m["metrics"]["matched"],
            &m["metrics"]["passed"],
            &m["metrics"]["actions.success"]
        ),
        (&json!(0), &json!(0), &json!(0)),
        "{m}"
    );
    let (status, e) = api(&b, "PUT", "/api/v5/rules/none/metrics/reset", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{e}"
    );
    let (status, e) = api(&b, "GET", "/api/v5/rules/none/metrics", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{e}"
    );

    // A disabled rule neither runs nor counts.
    let mut off = alert_rule("x");
    off["enable"] = json!(false);
    let (status, e) = api(&b, "PUT", "/api/v5/rules/hot", Some(off)).await;
    assert_eq!(status, 200, "{e}");
    publisher
        .publish("sensors/room1", br#"{"temp": 40}"#, 1, false)
        .await;
    sub.recv_no_publish_for(Duration::from_millis(500)).await;
    assert_eq!(metrics(&b, "hot").await["metrics"]["matched"], 0);
}

#[tokio::test]
async fn rule_test_answers_the_output_or_not_match() {
    let b = Broker::start();
    let test = |sql: &str, context: Value| json!({"sql": sql, "context": context});

    let ctx = json!({
        "event_type": "message_publish", "topic": "sensors/room1", "qos": 1,
        "clientid": "c1", "username": "u1", "payload": "{\"temp\": 35, \"room\": \"kitchen\"}",
    });
    let (status, out) = api(
        &b,
        "POST",
        "/api/v5/rule_test",
        Some(test(ALERT_SQL, ctx.clone())),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out, json!({"t": 35, "clientid": "c1"}));

    let sql = r#"SELECT payload.room AS room, topic, qos, username FROM "sensors/#""#;
    let (status, out) = api(
        &b,
        "POST",
        "/api/v5/rule_test",
        Some(test(sql, ctx.clone())),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"room": "kitchen", "topic": "sensors/room1", "qos": 1, "username": "u1"})
    );

    // The WHERE does not hold; the FROM does not match.
    let cold = json!({"topic": "sensors/room1", "payload": "{\"temp\": 20}"});
    let (status, e) = api(&b, "POST", "/api/v5/rule_test", Some(test(ALERT_SQL, cold))).await;
    assert_eq!(status, 412, "{e}");
    assert_eq!(e, json!({"code": "NOT_MATCH", "message": "SQL Not Match"}));
    let elsewhere = json!({"topic": "other/room1", "payload": "{\"temp\": 35}"});
    let (status, e) = api(
        &b,
        "POST",
        "/api/v5/rule_test",
        Some(test(ALERT_SQL, elsewhere)),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (412, Some("NOT_MATCH")),
        "{e}"
    );

    // An event topic.
    let sql = r#"SELECT clientid, username FROM "$events/client_connected""#;
    let connected = json!({"event_type": "client_connected", "clientid": "dev1", "username": "u"});
    let (status, out) = api(&b, "POST", "/api/v5/rule_test", Some(test(sql, connected))).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out, json!({"clientid": "dev1", "username": "u"}));

    // Bad SQL, a context that is not an object, no SQL at all.
    let (status, e) = api(&b, "POST", "/api/v5/rule_test", Some(test("SELEC 1", ctx))).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    let (status, e) = api(
        &b,
        "POST",
        "/api/v5/rule_test",
        Some(json!({"sql": ALERT_SQL, "context": [1]})),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    let (status, e) = api(
        &b,
        "POST",
        "/api/v5/rule_test",
        Some(json!({"context": {}})),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    // Nothing was created by testing.
    let (_, all) = api(&b, "GET", "/api/v5/rules", None).await;
    assert_eq!(all["meta"]["count"], 0);
}

#[tokio::test]
async fn rule_events_lists_emqx_event_topics() {
    let b = Broker::start();
    let (status, events) = api(&b, "GET", "/api/v5/rule_events", None).await;
    assert_eq!(status, 200, "{events}");
    let list = events
        .as_array()
        .unwrap_or_else(|| panic!("a list: {events}"));
    let names: Vec<&str> = list.iter().filter_map(|e| e["event"].as_str()).collect();
    for want in [
        "$events/client_connected",
        "$events/client_disconnected",
        "$events/session_subscribed",
        "$events/message_delivered",
        "$events/message_dropped",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let connected = list
        .iter()
        .find(|e| e["event"] == "$events/client_connected")
        .unwrap();
    let columns: Vec<&str> = connected["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        columns.contains(&"clientid") && columns.contains(&"peername"),
        "{columns:?}"
    );
    assert!(
        connected["sql_example"]
            .as_str()
            .is_some_and(|s| s.contains("$events/client_connected")),
        "{connected}"
    );
    // Each example runs through rule_test without a parse error.
    for e in list {
        let sql = e["sql_example"].as_str().unwrap();
        let (status, out) = api(
            &b,
            "POST",
            "/api/v5/rule_test",
            Some(json!({"sql": sql, "context": {"event_type": e["event"].as_str().unwrap().trim_start_matches("$events/")}})),
        )
        .await;
        assert!(status == 200 || status == 412, "{sql}: {status} {out}");
    }
}
