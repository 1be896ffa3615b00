//! `roost ctl connectors|actions|sources`, black-box: the built binary's ctl
//! against a running broker whose connector, action and rule were made
//! through the REST API and have sent real publishes to a webhook.

#[macro_use]
mod common;
use common::access::{api, ctl, ctl_ok, eventually, http_service};
use common::*;
use serde_json::json;

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
async fn connectors_and_actions_are_listed_shown_toggled_and_deleted() {
    let (hook, seen) = http_service(|_| (200, json!({}))).await;
    let b = Broker::start();
    let body =
        json!({"type": "http", "name": "hook", "url": format!("http://{hook}"), "pool_size": 2});
    assert_eq!(
        api(&b, "POST", "/api/v5/connectors", Some(body)).await.0,
        201
    );
    let body = json!({"type": "http", "name": "out", "connector": "hook",
                      "parameters": {"method": "post", "path": "/in", "body": "${.}"}});
    assert_eq!(api(&b, "POST", "/api/v5/actions", Some(body)).await.0, 201);
    let rule = json!({"id": "r", "sql": "SELECT payload FROM \"t/#\"", "actions": ["http:out"]});
    assert_eq!(api(&b, "POST", "/api/v5/rules", Some(rule)).await.0, 201);
    eventually(
        Duration::from_secs(10),
        "the connector connected",
        || async {
            api(&b, "GET", "/api/v5/connectors/http:hook", None).await.1["status"] == "connected"
        },
    )
    .await;

    assert_eq!(
        ctl_ok(&b, &["connectors", "list"]),
        "Connector{id=http:hook, enabled=true, status=connected}\n"
    );
    let mut p = V5Client::connect(b.addr(), "c1").await;
    p.publish("t/1", b"hello", 1, false).await;
    eventually(Duration::from_secs(10), "the webhook got it", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    eventually(Duration::from_secs(10), "the action counted it", || async {
        api(&b, "GET", "/api/v5/actions/http:out/metrics", None)
            .await
            .1["metrics"]["success"]
            == 1
    })
    .await;
    let list = ctl_ok(&b, &["actions", "list"]);
    assert!(
        list.starts_with("Action{id=http:out, connector=hook, enabled=true, status="),
        "{list}"
    );
    let show = ctl_ok(&b, &["actions", "show", "http:out"]);
    for want in [
        "Id:\n  http:out\n",
        "Enabled:\n  true\n",
        "Connector:\n  hook\n",
        "Config:\n",
        "\"path\": \"/in\"",
        "Metrics:\n",
    ] {
        assert!(show.contains(want), "{want:?} not in:\n{show}");
    }
    let line = |name: &str| {
        show.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line:\n{show}"))
            .to_string()
    };
    assert!(line("matched").trim_end().ends_with(": 1"), "{show}");
    assert!(line("success").trim_end().ends_with(": 1"), "{show}");
    assert!(
        line("dropped.queue_full").trim_end().ends_with(": 0"),
        "{show}"
    );
    let show = ctl_ok(&b, &["connectors", "show", "http:hook"]);
    assert!(
        show.contains("Status:\n  connected\n") && !show.contains("Metrics:"),
        "{show}"
    );

    // disable / enable.
    assert_eq!(ctl_ok(&b, &["actions", "disable", "http:out"]), "ok\n");
    let (_, a) = api(&b, "GET", "/api/v5/actions/http:out", None).await;
    assert_eq!(a["enable"], false);
    assert!(ctl_ok(&b, &["actions", "list"]).contains("enabled=false, status=stopped"));
    assert_eq!(ctl_ok(&b, &["actions", "enable", "http:out"]), "ok\n");
    assert_eq!(
        api(&b, "GET", "/api/v5/actions/http:out", None).await.1["enable"],
        true
    );

    // Not there; still used; then deleted in order.
    assert!(fails(&b, &["actions", "show", "http:none"]).contains("Not Found."));
    assert!(fails(&b, &["sources", "delete", "mqtt:none"]).contains("Not Found."));
    let err = fails(&b, &["connectors", "delete", "http:hook"]);
    assert!(err.contains("400"), "{err}");
    assert_eq!(api(&b, "DELETE", "/api/v5/rules/r", None).await.0, 204);
    assert_eq!(ctl_ok(&b, &["actions", "delete", "http:out"]), "ok\n");
    assert_eq!(ctl_ok(&b, &["connectors", "delete", "http:hook"]), "ok\n");
    assert_eq!(ctl_ok(&b, &["connectors", "list"]), "");
    assert_eq!(ctl_ok(&b, &["sources", "list"]), "");
}
