//! Authentication and authorization backed by PostgreSQL and Redis (EMQX's
//! `password_based` backends `postgresql` / `redis` and the authorization
//! sources of the same types), black-box against real servers: a user with a
//! salted sha256 hash gets in, a wrong password is CONNACK 0x86 (5.0) / 4
//! (3.1.1), ACL rows deny a publish (PUBACK 0x87) and a subscribe (SUBACK
//! 0x87), and a backend that is down is `ignore` (the next authenticator
//! decides, else not authorized) at once, without hanging the CONNECT.

#[macro_use]
mod common;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use common::access::*;
use common::*;
use serde_json::json;
use servers::{free_port, Postgres, Redis};
use sha2::Digest as _;
use std::time::Instant;

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const OK: (u8, u8) = (0x00, 0);
const BAD_PASSWORD: (u8, u8) = (0x86, 4);
const NOT_AUTHORIZED: (u8, u8) = (0x87, 5);

async fn expect(b: &Broker, client: &str, user: &str, pass: &str, codes: (u8, u8)) {
    for (v, code) in [(V5, codes.0), (V3, codes.1)] {
        let got = connack_code(b.addr(), login(v, client, Some(user), Some(pass))).await;
        assert_eq!(
            got, code,
            "{v:?} client {client} user {user:?} password {pass:?}"
        );
    }
}

/// sha256(password ++ salt) in hex: EMQX's `salt_position: suffix`.
fn sha256_suffix(password: &str, salt: &str) -> String {
    sha2::Sha256::digest(format!("{password}{salt}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pg_fields(server: &str) -> serde_json::Value {
    json!({"server": server, "database": "roost", "username": "postgres", "password": "", "pool_size": 2})
}

fn pg_authn(server: &str) -> serde_json::Value {
    let mut a = pg_fields(server);
    a["mechanism"] = "password_based".into();
    a["backend"] = "postgresql".into();
    a["password_hash_algorithm"] = json!({"name": "sha256", "salt_position": "suffix"});
    a["query"] =
        "SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1".into();
    a
}

fn pg_authz(server: &str) -> serde_json::Value {
    let mut a = pg_fields(server);
    a["type"] = "postgresql".into();
    a["query"] = "SELECT permission, action, topic FROM mqtt_acl WHERE username = ${username} OR clientid = ${clientid} ORDER BY id".into();
    a
}

fn setup_pg(pg: &Postgres) {
    pg.psql(
        "roost",
        &format!(
            "CREATE TABLE mqtt_user (username text PRIMARY KEY, password_hash text, salt text, is_superuser boolean);
             INSERT INTO mqtt_user VALUES ('alice', '{}', 'NaCl', false);
             CREATE TABLE mqtt_acl (id serial, username text, clientid text, permission text, action text, topic text);
             INSERT INTO mqtt_acl (username, permission, action, topic) VALUES
               ('alice', 'deny', 'publish', 'secret/#'),
               ('alice', 'deny', 'subscribe', 'secret/#'),
               ('alice', 'allow', 'all', 'users/${{username}}/#');
             INSERT INTO mqtt_acl (clientid, permission, action, topic) VALUES ('c-alice', 'deny', 'all', 'bad/#');",
            sha256_suffix("wonderland", "NaCl")
        ),
    );
}

#[tokio::test]
async fn postgresql_users_and_acl_rows() {
    let pg = Postgres::start();
    setup_pg(&pg);
    let chain = json!([pg_authn(&pg.server())]).to_string();
    let sources = json!([pg_authz(&pg.server())]).to_string();
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", &chain),
        ("ROOST__AUTHORIZATION__SOURCES", &sources),
        ("ROOST__AUTHORIZATION__CACHE__ENABLED", "false"),
    ]);
    expect(&b, "c-alice", "alice", "wonderland", OK).await;
    expect(&b, "c-alice", "alice", "wonderland2", BAD_PASSWORD).await;
    // Nobody of that name: ignored, and anonymous clients are refused.
    expect(&b, "c-bob", "bob", "wonderland", NOT_AUTHORIZED).await;
    // The user name is a parameter, not SQL: an injection finds nobody.
    expect(&b, "c-x", "x' OR '1'='1", "wonderland", NOT_AUTHORIZED).await;

    let (mut c, _) = RawClient::connect_ok(
        b.addr(),
        login(V5, "c-alice", Some("alice"), Some("wonderland")),
    )
    .await;
    assert_eq!(
        c.publish("secret/a", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        c.publish("bad/a", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert!(!c
        .publish("users/alice/a", b"x", QoS::AtLeastOnce, false)
        .await
        .is_error());
    // No row matches: no_match (allow).
    assert!(!c
        .publish("open/a", b"x", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let ack = c
        .subscribe_opts(&[
            ("secret/#", sub_opts(QoS::AtLeastOnce)),
            ("users/alice/#", sub_opts(QoS::AtLeastOnce)),
        ])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1]
    );
    // A row added now counts at once (the cache is off).
    pg.psql("roost", "INSERT INTO mqtt_acl (username, permission, action, topic) VALUES ('alice', 'deny', 'publish', 'open/#')");
    assert_eq!(
        c.publish("open/a", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
}

#[tokio::test]
async fn redis_users_and_acl_hash() {
    let r = Redis::start();
    r.cli(&[
        "HSET",
        "mqtt_user:carol",
        "password_hash",
        &sha256_suffix("s3cret", "pepper"),
        "salt",
        "pepper",
        "is_superuser",
        "0",
    ]);
    r.cli(&[
        "HSET",
        "mqtt_acl:carol",
        "pub/#",
        "publish",
        "sub/#",
        "subscribe",
        "both/#",
        "all",
    ]);
    let chain = json!([{
        "mechanism": "password_based", "backend": "redis", "redis_type": "single",
        "server": r.server(), "database": 0,
        "password_hash_algorithm": {"name": "sha256", "salt_position": "suffix"},
        "cmd": "HMGET mqtt_user:${username} password_hash salt is_superuser"
    }])
    .to_string();
    let sources = json!([{
        "type": "redis", "redis_type": "single", "server": r.server(),
        "cmd": "HGETALL mqtt_acl:${username}"
    }])
    .to_string();
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", &chain),
        ("ROOST__AUTHORIZATION__SOURCES", &sources),
        ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
    ]);
    expect(&b, "c1", "carol", "s3cret", OK).await;
    expect(&b, "c1", "carol", "wrong", BAD_PASSWORD).await;
    expect(&b, "c1", "dave", "s3cret", NOT_AUTHORIZED).await;

    let (mut c, _) =
        RawClient::connect_ok(b.addr(), login(V5, "c1", Some("carol"), Some("s3cret"))).await;
    assert!(!c
        .publish("pub/a", b"x", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert!(!c
        .publish("both/a", b"x", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(
        c.publish("sub/a", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        c.publish("other/a", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    let ack = c
        .subscribe_opts(&[
            ("sub/#", sub_opts(QoS::AtLeastOnce)),
            ("pub/#", sub_opts(QoS::AtLeastOnce)),
        ])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized]
    );
}

#[tokio::test]
async fn a_backend_that_is_down_is_ignored_without_hanging() {
    // PostgreSQL first (running, then stopped), the built-in database next.
    let mut pg = Postgres::start();
    setup_pg(&pg);
    let redis_down = format!("127.0.0.1:{}", free_port());
    let chain = json!([
        pg_authn(&pg.server()),
        {"mechanism": "password_based", "backend": "redis", "redis_type": "single", "server": redis_down,
         "cmd": "HMGET mqtt_user:${username} password_hash salt"},
        {"mechanism": "password_based", "backend": "built_in_database"}
    ])
    .to_string();
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", &chain)]);
    add_user(&b, "erin", "builtin-pw", false).await;
    expect(&b, "c1", "alice", "wonderland", OK).await;
    // Redis is down throughout: erin is found by the built-in database.
    expect(&b, "c2", "erin", "builtin-pw", OK).await;

    pg.stop();
    let started = Instant::now();
    // Both database backends down: alice is known to nobody else.
    expect(&b, "c1", "alice", "wonderland", NOT_AUTHORIZED).await;
    expect(&b, "c2", "erin", "builtin-pw", OK).await;
    expect(&b, "c2", "erin", "nope", BAD_PASSWORD).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "six CONNECTs with the backends down took {:?}",
        started.elapsed()
    );
    assert!(
        b.wait_for_log("authn_backend_failed", Duration::from_secs(5))
            .await
            .is_some(),
        "the failure is logged"
    );

    // Back up: alice gets in again (the pool reconnects by itself).
    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let code = connack_code(b.addr(), login(V5, "c1", Some("alice"), Some("wonderland"))).await;
        if code == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice still refused ({code:#x}) after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn check_config_names_a_bad_backend_field() {
    let chain = json!([{
        "mechanism": "password_based", "backend": "postgresql", "server": "127.0.0.1",
        "database": "d", "username": "u", "query": "SELECT 1", "ssl": {"enable": true, "verify": "verify_peer"}
    }])
    .to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("check-config")
        .env("ROOST__AUTHENTICATION", &chain)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("authentication[0].ssl.cacertfile"), "{err}");
    let sources =
        json!([{"type": "redis", "redis_type": "cluster", "server": "h", "cmd": "HGETALL a"}])
            .to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("check-config")
        .env("ROOST__AUTHORIZATION__SOURCES", &sources)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authorization.sources[0].redis_type"), "{err}");
}

#[tokio::test]
async fn a_backend_that_never_answers_times_out_and_the_next_one_decides() {
    // Accepts TCP connections and never says a word (a hung database).
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole = blackhole.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in blackhole.incoming().flatten() {
            held.push(s);
        }
    });
    let dead = format!("127.0.0.1:{}", free_port());
    let chain =
        json!([pg_authn(&hole), {"mechanism": "password_based", "backend": "built_in_database"}])
            .to_string();
    // An authorization source that is down has no match: no_match decides.
    let sources = json!([pg_authz(&dead)]).to_string();
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", &chain),
        ("ROOST__AUTHORIZATION__SOURCES", &sources),
        ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
    ]);
    add_user(&b, "erin", "builtin-pw", false).await;
    let started = Instant::now();
    let mut c = RawClient::open(b.addr(), V5).await;
    c.send(&Packet::Connect(login(
        V5,
        "c1",
        Some("erin"),
        Some("builtin-pw"),
    )))
    .await;
    match c.try_recv_for(Duration::from_secs(12)).await {
        Recv::Packet(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        _ => panic!("no CONNACK within 12 s: the hung backend hung the CONNECT"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(9),
        "the lookup should give up after about 5 s, took {took:?}"
    );
    let started = Instant::now();
    assert_eq!(
        c.publish("any/topic", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "authz with the source down took {:?}",
        started.elapsed()
    );
    // The log line is written as the PUBACK goes out: wait for it.
    assert!(
        b.wait_for_log("authz_backend_failed", Duration::from_secs(3))
            .await
            .is_some(),
        "the authz failure is logged: {:?}",
        b.logs()
    );
}

/// EMQX's `enable: false` on a PostgreSQL authenticator and authorization
/// source: both are left out, so with no other authenticator every client
/// gets in (whatever its password) and alice's deny rows do not apply. With
/// `enable: true` the same entries decide again.
#[tokio::test]
async fn a_disabled_postgresql_authenticator_and_source_are_left_out() {
    let pg = Postgres::start();
    setup_pg(&pg);
    for enable in [false, true] {
        let mut authn = pg_authn(&pg.server());
        authn["enable"] = enable.into();
        let mut authz = pg_authz(&pg.server());
        authz["enable"] = enable.into();
        let chain = json!([authn]).to_string();
        let sources = json!([authz]).to_string();
        let b = Broker::start_with(&[
            ("ROOST__AUTHENTICATION", &chain),
            ("ROOST__AUTHORIZATION__SOURCES", &sources),
            ("ROOST__AUTHORIZATION__CACHE__ENABLED", "false"),
        ]);
        let wrong = if enable { BAD_PASSWORD } else { OK };
        expect(&b, "c-alice", "alice", "not-the-password", wrong).await;
        let (mut c, _) = RawClient::connect_ok(
            b.addr(),
            login(V5, "c-alice", Some("alice"), Some("wonderland")),
        )
        .await;
        let code = c.publish("secret/a", b"x", QoS::AtLeastOnce, false).await;
        assert_eq!(code.is_error(), enable, "enable: {enable}: {code:?}");
    }
}
