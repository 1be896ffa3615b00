//! The operator HTTP API (`http.*`), black-box: basic auth, the live actor tree
//! and its filters, kill-by-path (chaos), stats, nodes, the actor-tree page, and
//! `roost ctl` against a running broker.

#[macro_use]
mod common;
use common::http::{get, http, kill, node, nodes, paths, tree, wait_tree, ADMIN};
use common::*;

use std::process::{Command, Stdio};
use std::time::Instant;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[tokio::test]
async fn every_request_needs_basic_auth() {
    // 18 wrong attempts below: more than http.unsuccessful_login_max_attempts
    // (tests/http_auth.rs tests the lock).
    let b = Broker::start_with(&[("ROOST__HTTP__UNSUCCESSFUL_LOGIN_MAX_ATTEMPTS", "100")]);
    let addr = b.http_addr();
    for path in [
        "/api/v5/actors",
        "/api/v5/stats",
        "/api/v5/nodes",
        "/nowhere",
    ] {
        for auth in [
            None,
            Some(("admin", "wrong")),
            Some(("root", "public")),
            Some(("admin", "")),
        ] {
            let r = http(addr, "GET", path, auth, None).await;
            assert_eq!(r.status, 401, "GET {path} with {auth:?}: {}", r.body);
            assert_eq!(
                r.header("www-authenticate"),
                Some("Basic realm=\"roost\""),
                "GET {path} with {auth:?}"
            );
        }
    }
    let r = http(
        addr,
        "POST",
        "/api/v5/actors/kill",
        None,
        Some(r#"{"path":"roost/router"}"#),
    )
    .await;
    assert_eq!(r.status, 401, "kill without credentials");
    // The dashboard's page is public (http.* documents the public paths), and
    // so is /actors, which leads into it (tests/dashboard.rs).
    for path in ["/", "/actors"] {
        let r = http(addr, "GET", path, None, None).await;
        assert_ne!(r.status, 401, "GET {path} is public: {}", r.body);
    }

    assert_eq!(get(addr, "/api/v5/actors").await.status, 200);
    assert_eq!(get(addr, "/api/v5/stats").await.status, 200);
    assert_eq!(get(addr, "/api/v5/nodes").await.status, 200);
}

#[tokio::test]
async fn credentials_come_from_the_config() {
    let b = Broker::start_with(&[
        ("ROOST__HTTP__DEFAULT_USERNAME", "ops"),
        ("ROOST__HTTP__DEFAULT_PASSWORD", "s3:cret"),
    ]);
    let addr = b.http_addr();
    let r = http(addr, "GET", "/api/v5/nodes", Some(ADMIN), None).await;
    assert_eq!(r.status, 401, "the default credentials no longer work");
    let r = http(addr, "GET", "/api/v5/nodes", Some(("ops", "s3:cret")), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn tree_has_the_supervision_structure() {
    let b = Broker::start();
    let addr = b.http_addr();
    let t = tree(addr, "").await;
    let ps = paths(&t);
    for p in [
        "roost",
        "roost/router",
        "roost/router/shard-0",
        "roost/retainer",
        "roost/registry",
        "roost/sessions",
        "roost/listeners",
        "roost/listeners/tcp",
        "roost/listeners/tcp/connections",
        "roost/listeners/tcp/acceptor",
        "roost/http",
    ] {
        assert!(ps.iter().any(|x| x == p), "{p} missing from {ps:?}");
    }
    assert_eq!(t["kind"], "supervisor");
    assert_eq!(node(&t, "roost/router/shard-0").unwrap()["kind"], "shard");
    assert_eq!(
        node(&t, "roost/sessions").unwrap()["kind"],
        "dynamic_supervisor"
    );
    let shards = node(&t, "roost/router").unwrap();
    assert!(shards["child_count"].as_u64().unwrap() >= 1);
    assert_eq!(
        shards["child_count"].as_u64().unwrap() as usize,
        shards["children"].as_array().unwrap().len()
    );
    for n in nodes(&t) {
        for field in [
            "path",
            "kind",
            "restarts",
            "mailbox",
            "started_at",
            "child_count",
            "children",
        ] {
            assert!(n.get(field).is_some(), "{field} missing in {n}");
        }
        assert_eq!(n["restarts"], 0, "{n}");
        let started = n["started_at"].as_str().unwrap();
        assert!(
            started.len() >= 20 && started.ends_with('Z') && started.contains('T'),
            "started_at is not RFC 3339: {started}"
        );
    }
}

#[tokio::test]
async fn clients_appear_as_session_and_connection() {
    let b = Broker::start();
    let addr = b.http_addr();
    let _dev = RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "dev-42")).await;
    let _other =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V3_1_1, "other")).await;

    let t = wait_tree(addr, "", "session:dev-42 and two conn: children", |t| {
        node(t, "roost/sessions/session:dev-42").is_some()
            && node(t, "roost/listeners/tcp/connections")
                .is_some_and(|c| c["children"].as_array().unwrap().len() == 2)
    })
    .await;
    let s = node(&t, "roost/sessions/session:dev-42").unwrap();
    assert_eq!(s["kind"], "session");
    assert_eq!(s["restarts"], 0);
    assert!(s["started_at"].as_str().unwrap().ends_with('Z'));
    let conns = node(&t, "roost/listeners/tcp/connections").unwrap();
    for c in conns["children"].as_array().unwrap() {
        let p = c["path"].as_str().unwrap();
        assert!(
            p.starts_with("roost/listeners/tcp/connections/conn:"),
            "{p}"
        );
        assert_eq!(c["kind"], "connection");
    }

    // ?prefix= keeps the matching actors and their ancestors only.
    let t = tree(addr, "?prefix=roost/sessions/session:dev").await;
    assert_eq!(
        paths(&t),
        ["roost", "roost/sessions", "roost/sessions/session:dev-42"],
        "prefix filter"
    );
    // child_count still counts every child.
    assert_eq!(node(&t, "roost/sessions").unwrap()["child_count"], 2);

    // ?depth=N lists N levels below the root; child_count is given at the cut.
    let t = tree(addr, "?depth=1").await;
    for c in t["children"].as_array().unwrap() {
        assert_eq!(c["children"].as_array().unwrap().len(), 0, "depth=1: {c}");
    }
    assert_eq!(node(&t, "roost/sessions").unwrap()["child_count"], 2);
    assert!(
        node(&t, "roost/router").unwrap()["child_count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let t = tree(addr, "?depth=2&prefix=roost/listeners").await;
    assert_eq!(
        paths(&t),
        ["roost", "roost/listeners", "roost/listeners/tcp"]
    );
    assert_eq!(node(&t, "roost/listeners/tcp").unwrap()["child_count"], 2);
    let t = tree(addr, "?depth=0").await;
    assert_eq!(paths(&t), ["roost"]);
    assert!(t["child_count"].as_u64().unwrap() >= 6);

    assert_eq!(get(addr, "/api/v5/actors?depth=abc").await.status, 400);

    let stats = get(addr, "/api/v5/stats?aggregate=true").await.json();
    assert_eq!(stats["connections.count"], 2, "{stats}");
    assert_eq!(stats["sessions.count"], 2, "{stats}");
    assert!(
        stats["topics.count"].is_u64() && stats["retained.count"].is_u64(),
        "{stats}"
    );
    let metrics = get(addr, "/api/v5/metrics?aggregate=true").await.json();
    assert!(metrics["messages.received"].is_u64(), "{metrics}");
}

#[tokio::test]
async fn nodes_and_page() {
    let b = Broker::start_with(&[("ROOST__NODE__NAME", "roost@test")]);
    let addr = b.http_addr();
    let n = get(addr, "/api/v5/nodes").await.json();
    let n = &n.as_array().expect("a list of nodes")[0];
    assert_eq!(n["node"], "roost@test");
    assert!(n["uptime"].is_u64() && n["version"].is_string(), "{n}");

    // The actor-tree page is the dashboard's now (tests/dashboard.rs).
    let r = get(addr, "/actors").await;
    assert!(matches!(r.status, 301..=308), "GET /actors: {}", r.status);
    assert_eq!(r.header("location"), Some("/#/actors"));
    assert_eq!(get(addr, "/nowhere").await.status, 404);
}

#[tokio::test]
async fn kill_is_refused_without_chaos() {
    let b = Broker::start();
    let addr = b.http_addr();
    let r = kill(addr, "roost/router/shard-0").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], "CHAOS_DISABLED");
    let t = tree(addr, "?prefix=roost/router/shard-0").await;
    assert_eq!(node(&t, "roost/router/shard-0").unwrap()["restarts"], 0);
}

#[tokio::test]
async fn kill_restarts_a_shard_and_pubsub_still_works() {
    let b = Broker::start_with(&[("ROOST__CHAOS__ENABLED", "true")]);
    let addr = b.http_addr();

    let r = kill(addr, "roost/router/shard-0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({ "killed": "roost/router/shard-0" })
    );
    wait_tree(addr, "?prefix=roost/router", "shard-0 restarted", |t| {
        node(t, "roost/router/shard-0").is_some_and(|s| s["restarts"].as_u64() >= Some(1))
    })
    .await;

    // Subscribes reach every shard (one topic per first level), so a dead shard would show.
    let (mut sub, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "sub")).await;
    let topics: Vec<String> = (0..16).map(|i| format!("t{i}/x")).collect();
    for t in &topics {
        sub.subscribe(t, QoS::AtLeastOnce).await;
    }
    let (mut publ, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "pub")).await;
    for t in &topics {
        publ.publish(t, b"after kill", QoS::AtLeastOnce, false)
            .await;
    }
    let got = sub.recv_messages(topics.len()).await;
    let mut got: Vec<String> = got.iter().map(|p| p.topic.clone()).collect();
    got.sort();
    let mut want = topics.clone();
    want.sort();
    assert_eq!(got, want);

    let r = kill(addr, "roost/router/shard-999").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "NOT_FOUND");
    assert_eq!(
        kill(addr, "roost").await.status,
        400,
        "the root is not killable"
    );
    let r = http(addr, "POST", "/api/v5/actors/kill", Some(ADMIN), Some("{}")).await;
    assert!(
        matches!(r.status, 400 | 422),
        "a body without path: {}",
        r.status
    );

    // Killing the HTTP server itself: its supervisor restarts it on the same port.
    let r = kill(addr, "roost/http").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = tree(addr, "?prefix=roost/http").await;
        if node(&t, "roost/http").is_some_and(|h| h["restarts"].as_u64() >= Some(1)) {
            break;
        }
        assert!(Instant::now() < deadline, "roost/http not restarted: {t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn ctl_prints_the_tree_kills_and_reports_errors() {
    let b = Broker::start();
    let url = format!("http://{}", b.http_addr());
    let _c = RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "ctl-dev")).await;

    let out = roost_ctl(&["--url", &url, "actors", "tree"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "ctl actors tree: {}",
        text(&out.stderr)
    );
    for name in [
        "roost",
        "router",
        "shard-0",
        "registry",
        "sessions",
        "session:ctl-dev",
        "connections",
        "conn:",
        "http",
    ] {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
    let shard = stdout.lines().find(|l| l.contains("shard-0")).unwrap();
    assert!(
        shard.contains("shard") && shard.contains("restarts 0") && shard.contains("up "),
        "{shard}"
    );

    let out = roost_ctl(&["actors", "tree", "sessions", "--depth", "2", "--url", &url]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("session:ctl-dev"), "{stdout}");
    assert!(!stdout.contains("shard-0"), "prefix filter:\n{stdout}");

    let out = roost_ctl(&["--url", &url, "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("connections"),
        "{}",
        text(&out.stdout)
    );

    let out = roost_ctl(&["--url", &url, "actors", "kill", "roost/router/shard-0"]);
    assert!(!out.status.success(), "kill without chaos must fail");
    assert!(text(&out.stderr).contains("403"), "{}", text(&out.stderr));

    let out = roost_ctl(&["--url", &url, "--password", "nope", "actors", "tree"]);
    assert!(!out.status.success(), "a wrong password must fail");
    let err = text(&out.stderr);
    assert!(err.contains("401") && err.contains("password"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["ctl", "--url", &url, "stats"])
        .env("ROOST_CTL_PASSWORD", "nope")
        .output()
        .unwrap();
    assert!(!out.status.success(), "ROOST_CTL_PASSWORD is used");

    // Nothing listens on a port we just had and released.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = roost_ctl(&["--url", &format!("http://{free}"), "stats"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot connect"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn ctl_kill_with_chaos() {
    let b = Broker::start_with(&[("ROOST__CHAOS__ENABLED", "true")]);
    let addr = b.http_addr();
    let url = format!("http://{addr}");
    let out = roost_ctl(&["--url", &url, "actors", "kill", "router/shard-1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("killed roost/router/shard-1"),
        "{}",
        text(&out.stdout)
    );
    wait_tree(
        addr,
        "?prefix=roost/router/shard-1",
        "shard-1 restarted",
        |t| node(t, "roost/router/shard-1").is_some_and(|s| s["restarts"].as_u64() >= Some(1)),
    )
    .await;
    let out = roost_ctl(&["--url", &url, "actors", "kill", "roost/nope"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));
}

#[test]
fn taken_http_port_fails_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("start")
        // Its own store: parallel brokers cannot share one (it is locked).
        .env("ROOST__NODE__DATA_DIR", common::broker::unique_data_dir())
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
        .env("ROOST__HTTP__BIND", &port)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("roost start kept running with its HTTP port taken");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success(), "exit status {status}");
    let err = text(&out.stderr);
    assert!(
        err.contains("listener http") && err.contains(&port),
        "stderr: {err}"
    );
    drop(taken);
}
