//! `roost ctl rules list|show|test`, black-box: the built binary's ctl
//! against a running broker whose rules were made through the REST API and
//! have run on real publishes.

#[macro_use]
mod common;
use common::access::{api, ctl, ctl_ok, eventually};
use common::*;
use serde_json::{json, Value};

fn fails(b: &Broker, args: &[&str]) -> String {
    let out = ctl(b, args);
    assert!(
        !out.status.success(),
        "roost ctl {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn rules_are_listed_shown_and_tested() {
    let b = Broker::start();
    let rule = json!({
        "id": "hot", "name": "hot rooms", "description": "alerts",
        "sql": r#"SELECT payload.temp AS t FROM "sensors/#" WHERE payload.temp > 30"#,
        "actions": [{"function": "republish", "args": {"topic": "alerts/x", "payload": "${t}"}},
                    {"function": "console"}],
    });
    let (status, r) = api(&b, "POST", "/api/v5/rules", Some(rule)).await;
    assert_eq!(status, 201, "{r}");
    let off = json!({"id": "quiet", "sql": "SELECT * FROM \"q/#\"", "enable": false});
    let (status, r) = api(&b, "POST", "/api/v5/rules", Some(off)).await;
    assert_eq!(status, 201, "{r}");

    let list = ctl_ok(&b, &["rules", "list"]);
    let mut lines: Vec<&str> = list.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "Rule{id=hot, name=hot rooms, enabled=true, descr=alerts}",
            "Rule{id=quiet, name=, enabled=false, descr=}",
        ]
    );

    let mut p = V5Client::connect(b.addr(), "room1").await;
    p.publish("sensors/room1", br#"{"temp": 35}"#, 1, false)
        .await;
    eventually(Duration::from_secs(5), "the rule ran", || async {
        let (_, m) = api(&b, "GET", "/api/v5/rules/hot/metrics", None).await;
        m["metrics"]["matched"] == 1
    })
    .await;
    let show = ctl_ok(&b, &["rules", "show", "hot"]);
    for want in [
        "Id:\n  hot\n",
        "Name:\n  hot rooms\n",
        "Enabled:\n  true\n",
        "SQL:\n  SELECT payload.temp AS t FROM \"sensors/#\" WHERE payload.temp > 30\n",
        "From:\n  sensors/#\n",
        "  - Name: republish\n    Type: function\n    Args: ",
        "  - Name: console\n",
        "Metrics:\n",
    ] {
        assert!(show.contains(want), "{want:?} not in:\n{show}");
    }
    let matched = show
        .lines()
        .find(|l| l.trim_start().starts_with("matched "))
        .unwrap_or_else(|| panic!("no matched line:\n{show}"));
    assert!(matched.trim_end().ends_with(": 1"), "{matched}");
    assert!(fails(&b, &["rules", "show", "nothing"]).contains("Not Found."));

    // test: options build the context; the output is the selected JSON.
    let sql =
        r#"SELECT payload.temp AS t, clientid, topic FROM "sensors/#" WHERE payload.temp > 30"#;
    let out = ctl_ok(
        &b,
        &[
            "rules",
            "test",
            "--sql",
            sql,
            "--topic",
            "sensors/a",
            "--clientid",
            "c9",
            "--payload",
            r#"{"temp": 31}"#,
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v, json!({"t": 31, "clientid": "c9", "topic": "sensors/a"}));
    // A --context JSON, with an option over it.
    let out = ctl_ok(
        &b,
        &[
            "rules",
            "test",
            "--sql",
            sql,
            "--context",
            r#"{"topic": "sensors/b", "clientid": "c1", "payload": "{\"temp\": 50}"}"#,
            "--clientid",
            "c2",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v, json!({"t": 50, "clientid": "c2", "topic": "sensors/b"}));
    // No match, bad SQL, a context that is not an object.
    let err = fails(
        &b,
        &[
            "rules",
            "test",
            "--sql",
            sql,
            "--topic",
            "sensors/a",
            "--payload",
            r#"{"temp": 1}"#,
        ],
    );
    assert!(err.contains("SQL Not Match"), "{err}");
    let err = fails(&b, &["rules", "test", "--sql", "SELEC nothing"]);
    assert!(err.contains("400"), "{err}");
    let err = fails(&b, &["rules", "test", "--sql", sql, "--context", "[1, 2]"]);
    assert!(err.contains("--context"), "{err}");
}
