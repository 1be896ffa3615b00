//! schemathesis (PyPI) against the OpenAPI document at `/api-docs`: every
//! operation of the REST API, a bounded number of generated requests each
//! (authenticated with the admin's basic auth), checked for no 5xx and for
//! answers that match the document (status codes, content types, bodies).
//!
//! The broker runs with its defaults, so the chaos kill answers 403 and the
//! cluster join/leave 400 (not clustered): they are exercised, harmlessly.
//! Clients, subscriptions, queued messages, retained messages and a rule exist, so
//! the listings have content. `.ci/run` installs schemathesis; without it
//! the test says SKIP.

#[macro_use]
mod common;
use common::http::ADMIN;
use common::*;

/// Generated requests per operation (and phase): the whole run stays
/// around a minute or two on a CI machine.
const EXAMPLES: &str = "25";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let Ok(version) = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
    else {
        eprintln!("SKIP: schemathesis is not installed (pip install schemathesis)");
        return;
    };
    eprintln!("{}", String::from_utf8_lossy(&version.stdout).trim());

    // schemathesis sends wrong logins on purpose (POST /api/v5/login): with
    // the default lock (5 failures) they would lock out 127.0.0.1, and every
    // later request would answer 401 LOGIN_LOCKED.
    let b = Broker::start_with(&[("ROOST__HTTP__UNSUCCESSFUL_LOGIN_MAX_ATTEMPTS", "1000000")]);
    let (mqtt, addr) = (b.addr(), b.http_addr());
    // Content for the listings: a connected subscriber with unacknowledged
    // messages, an offline session with queued ones, retained messages.
    let (mut live, _) =
        RawClient::connect_ok(mqtt, persistent_connect(ProtocolVersion::V5, "live", 600)).await;
    live.subscribe("s/#", QoS::AtLeastOnce).await;
    live.subscribe("$share/g/s/#", QoS::AtMostOnce).await;
    let (mut away, _) =
        RawClient::connect_ok(mqtt, persistent_connect(ProtocolVersion::V5, "away", 600)).await;
    away.subscribe("s/#", QoS::AtLeastOnce).await;
    away.send(&Packet::Disconnect(Disconnect::default())).await;
    away.expect_closed().await;
    let mut p = V5Client::connect(mqtt, "pub").await;
    for i in 0..3 {
        p.publish(&format!("s/{i}"), b"payload", 1, true).await;
    }
    // A rule, for the rule endpoints to find (schemathesis may change or delete it).
    let rule = serde_json::json!({"id": "r1", "sql": "SELECT payload.x AS x FROM \"s/#\"",
        "actions": [{"function": "republish", "args": {"topic": "out/${x}"}}]});
    let (status, body) = common::access::api(&b, "POST", "/api/v5/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");

    let dir = common::broker::unique_data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let auth = format!("{}:{}", ADMIN.0, ADMIN.1);
    let out = tokio::process::Command::new("schemathesis")
        .current_dir(&dir)
        .args([
            "run",
            &format!("http://{addr}/api-docs"),
            "--auth",
            &auth,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
            "--max-examples",
            EXAMPLES,
            "--phases",
            "coverage,fuzzing",
            // Hypothesis' health check that too many generated values were
            // discarded (path parameters that would change the path) says
            // nothing about the API; it fails runs at random.
            "--suppress-health-check",
            "filter_too_much",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            // One worker: with two, Hypothesis' lambda-description cache races
            // between threads and schemathesis reports its own "Runtime Error"
            // ("AST constructor recursion depth mismatch"), which says nothing
            // about the API (CI, 2026-12-06).
            "--workers",
            "1",
            "--no-color",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("passed"), "{stdout}");
    // The broker is still up and answering.
    assert_eq!(common::http::get(addr, "/api/v5/nodes").await.status, 200);
}
