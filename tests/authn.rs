//! Authentication, black-box: the built-in user database (every hash algorithm,
//! users through the REST API and `roost ctl users`, kept across a restart), JWT
//! (HMAC, RSA and ECDSA keys, expiry, claims, the `acl` claim), the HTTP
//! authenticator against a real HTTP service, the chain order and
//! `allow_anonymous`. Refusals are CONNACK 0x86 / 0x87 for 5.0 and return codes
//! 4 / 5 for 3.1.1 [MQTT-3.2.2-6] [MQTT-3.1.4-2].

#[macro_use]
mod common;
use common::access::*;
use common::*;
use serde_json::json;

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// 5.0 reason codes and their 3.1.1 return codes.
const OK: (u8, u8) = (0x00, 0);
const BAD_PASSWORD: (u8, u8) = (0x86, 4);
const NOT_AUTHORIZED: (u8, u8) = (0x87, 5);

async fn expect(b: &Broker, client: &str, user: Option<&str>, pass: Option<&str>, codes: (u8, u8)) {
    for (v, code) in [(V5, codes.0), (V3, codes.1)] {
        let got = connack_code(b.addr(), login(v, client, user, pass)).await;
        assert_eq!(
            got, code,
            "{v:?} client {client} user {user:?} password {pass:?}"
        );
    }
}

#[tokio::test]
async fn built_in_database_allows_the_password_and_refuses_others_for_every_algorithm() {
    for name in ["argon2id", "pbkdf2", "bcrypt", "sha256"] {
        let chain = format!(
            "[{{mechanism: password_based, backend: built_in_database, \
             password_hash_algorithm: {{name: {name}, salt_position: suffix}}}}]"
        );
        let b = Broker::start_with(&[("ROOST__AUTHENTICATION", &chain)]);
        add_user(&b, "alice", "wonderland", false).await;
        expect(&b, "c1", Some("alice"), Some("wonderland"), OK).await;
        expect(&b, "c1", Some("alice"), Some("wrong"), BAD_PASSWORD).await;
        expect(&b, "c1", Some("alice"), None, BAD_PASSWORD).await;
        // Nobody knows "bob", and anonymous clients are refused once a chain exists.
        expect(&b, "c1", Some("bob"), Some("wonderland"), NOT_AUTHORIZED).await;
        expect(&b, "c1", None, None, NOT_AUTHORIZED).await;
        let (_, stats) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
        assert!(
            stats["authentication.failure"].as_u64().unwrap() >= 8,
            "{name}: {stats}"
        );
        assert!(
            stats["authentication.success"].as_u64().unwrap() >= 2,
            "{name}"
        );
    }
}

#[tokio::test]
async fn user_id_type_clientid_names_the_user_by_its_client_id() {
    let b = Broker::start_with(&[(
        "ROOST__AUTHENTICATION",
        "[{mechanism: password_based, backend: built_in_database, user_id_type: clientid}]",
    )]);
    add_user(&b, "dev-7", "pw", false).await;
    expect(&b, "dev-7", Some("whoever"), Some("pw"), OK).await;
    expect(&b, "dev-7", Some("anything"), Some("nope"), BAD_PASSWORD).await;
}

#[tokio::test]
async fn allow_anonymous_overrides_the_default() {
    // An empty chain lets everyone in by default; allow_anonymous: false shuts it.
    let b = Broker::start_with(&[("ROOST__ALLOW_ANONYMOUS", "false")]);
    expect(&b, "c1", None, None, NOT_AUTHORIZED).await;
    // With a chain, anonymous clients are refused by default; true lets them in,
    // and a wrong password is still refused.
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", BUILT_IN),
        ("ROOST__ALLOW_ANONYMOUS", "true"),
    ]);
    add_user(&b, "alice", "pw", false).await;
    expect(&b, "c1", None, None, OK).await;
    expect(&b, "c1", Some("alice"), Some("bad"), BAD_PASSWORD).await;
}

#[tokio::test]
async fn users_through_the_rest_api() {
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", BUILT_IN)]);
    let base = "/api/v5/authentication/password_based:built_in_database/users";
    add_user(&b, "alice", "pw1", false).await;
    let (status, _) = api(
        &b,
        "POST",
        base,
        Some(json!({"user_id": "alice", "password": "x"})),
    )
    .await;
    assert_eq!(status, 409, "a second alice");
    let (status, list) = api(&b, "GET", base, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["data"],
        json!([{"user_id": "alice", "is_superuser": false}])
    );
    assert!(
        !list.to_string().contains("pw1"),
        "no password or hash in {list}"
    );
    // A new password takes effect at once.
    let (status, _) = api(
        &b,
        "PUT",
        &format!("{base}/alice"),
        Some(json!({"password": "pw2"})),
    )
    .await;
    assert_eq!(status, 200);
    expect(&b, "c1", Some("alice"), Some("pw1"), BAD_PASSWORD).await;
    expect(&b, "c1", Some("alice"), Some("pw2"), OK).await;
    let (status, _) = api(&b, "DELETE", &format!("{base}/alice"), None).await;
    assert_eq!(status, 204);
    expect(&b, "c1", Some("alice"), Some("pw2"), NOT_AUTHORIZED).await;
    let (status, _) = api(&b, "DELETE", &format!("{base}/alice"), None).await;
    assert_eq!(status, 404);
    // An authenticator that is not configured has no users (EMQX answers 404).
    let (status, _) = api(
        &b,
        "GET",
        "/api/v5/authentication/scram:built_in_database/users",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn users_through_roost_ctl() {
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", BUILT_IN)]);
    ctl_ok(&b, &["users", "add", "carol", "s3cret", "--superuser"]);
    ctl_ok(&b, &["users", "add", "dave", "pw"]);
    let list = ctl_ok(&b, &["users", "list"]);
    assert_eq!(list, "carol  (superuser)\ndave\n");
    expect(&b, "c1", Some("carol"), Some("s3cret"), OK).await;
    let dup = ctl(&b, &["users", "add", "carol", "x"]);
    assert_eq!(dup.status.code(), Some(1), "adding carol twice fails");
    ctl_ok(&b, &["users", "del", "carol"]);
    expect(&b, "c1", Some("carol"), Some("s3cret"), NOT_AUTHORIZED).await;
    assert_eq!(ctl_ok(&b, &["users", "list"]), "dave\n");
}

#[tokio::test]
async fn users_survive_a_restart() {
    let dir = common::broker::unique_data_dir();
    let dir_s = dir.to_str().unwrap();
    let env = [
        ("ROOST__AUTHENTICATION", BUILT_IN),
        ("ROOST__NODE__DATA_DIR", dir_s),
    ];
    let mut b = Broker::start_with(&env);
    add_user(&b, "alice", "pw", false).await;
    b.stop_graceful(Duration::from_secs(10));
    let b = Broker::start_with(&env);
    expect(&b, "c1", Some("alice"), Some("pw"), OK).await;
    expect(&b, "c1", Some("alice"), Some("bad"), BAD_PASSWORD).await;
    drop(b);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- JWT --------------------------------------------------------------------

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn jwt_hmac_allows_a_valid_token_and_refuses_forged_expired_and_mismatched_ones() {
    let b = Broker::start_with(&[(
        "ROOST__AUTHENTICATION",
        "[{mechanism: jwt, secret: s3cret, verify_claims: {sub: \"${username}\"}}]",
    )]);
    let good = hs256(json!({"sub": "alice", "exp": now() + 600}), "s3cret");
    expect(&b, "c1", Some("alice"), Some(&good), OK).await;
    // verify_claims: the token is alice's, not bob's.
    expect(&b, "c1", Some("bob"), Some(&good), BAD_PASSWORD).await;
    let forged = hs256(json!({"sub": "alice", "exp": now() + 600}), "guess");
    expect(&b, "c1", Some("alice"), Some(&forged), BAD_PASSWORD).await;
    let expired = hs256(json!({"sub": "alice", "exp": now() - 5}), "s3cret");
    expect(&b, "c1", Some("alice"), Some(&expired), BAD_PASSWORD).await;
    // Not a JWT at all: the authenticator ignores it, and nobody else knows the client.
    expect(&b, "c1", Some("alice"), Some("plain"), NOT_AUTHORIZED).await;
}

/// A PEM block.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn jwt_public_keys_rsa_and_ecdsa() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rsa_private = pem("PRIVATE KEY", rsa.as_der().unwrap().as_ref());
    let rsa_public = pem("PUBLIC KEY", rsa.public_key().as_der().unwrap().as_ref());
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let ec_private = pem("PRIVATE KEY", ec.to_pkcs8v1().unwrap().as_ref());
    let ec_public = pem("PUBLIC KEY", ec.public_key().as_der().unwrap().as_ref());

    for (alg, private, public) in [
        (jsonwebtoken::Algorithm::RS256, rsa_private, rsa_public),
        (jsonwebtoken::Algorithm::ES256, ec_private, ec_public),
    ] {
        let chain = json!([{"mechanism": "jwt", "algorithm": "public-key", "public_key": public}]);
        let b = Broker::start_with(&[("ROOST__AUTHENTICATION", &chain.to_string())]);
        let key = match alg {
            jsonwebtoken::Algorithm::RS256 => {
                jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes())
            }
            _ => jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()),
        }
        .unwrap();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).unwrap()
        };
        let good = sign(json!({"exp": now() + 600}));
        expect(&b, "c1", Some("u"), Some(&good), OK).await;
        let expired = sign(json!({"exp": now() - 5}));
        expect(&b, "c1", Some("u"), Some(&expired), BAD_PASSWORD).await;
        // A token signed with an HMAC secret is not accepted by a public-key authenticator.
        let hmac = hs256(json!({"exp": now() + 600}), "s");
        expect(&b, "c1", Some("u"), Some(&hmac), BAD_PASSWORD).await;
    }
}

#[tokio::test]
async fn jwt_acl_claim_and_superuser_claim_drive_authorization() {
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", "[{mechanism: jwt, secret: k}]"),
        ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
    ]);
    let token = hs256(
        json!({"acl": [
            {"permission": "allow", "action": "publish", "topic": "devices/${clientid}/up"},
            {"permission": "allow", "action": "subscribe", "topic": "devices/${clientid}/down"}
        ]}),
        "k",
    );
    let (mut c, _) =
        RawClient::connect_ok(b.addr(), login(V5, "d1", Some("x"), Some(&token))).await;
    assert!(!c
        .publish("devices/d1/up", b"1", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(
        c.publish("devices/d2/up", b"1", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::NotAuthorized
    );
    let ack = c.subscribe("devices/d1/down", QoS::AtMostOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
    let ack = c.subscribe("devices/d1/up", QoS::AtMostOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::NotAuthorized]);
    // is_superuser: true bypasses every rule.
    let admin = hs256(json!({"is_superuser": true}), "k");
    let (mut c, _) =
        RawClient::connect_ok(b.addr(), login(V5, "root", Some("x"), Some(&admin))).await;
    assert!(!c
        .publish("anything/at/all", b"1", QoS::AtLeastOnce, false)
        .await
        .is_error());
}

// ---- HTTP -------------------------------------------------------------------

#[tokio::test]
async fn http_authenticator_allow_deny_ignore_and_a_dead_service() {
    let (svc, seen) = http_service(|body| match body["username"].as_str() {
        Some("alice") if body["password"] == "pw" => {
            (200, json!({"result": "allow", "is_superuser": false}))
        }
        Some("nocontent") => (204, json!(null)),
        Some("bob") => (200, json!({"result": "deny"})),
        Some("broken") => (500, json!({"oops": true})),
        _ => (200, json!({"result": "ignore"})),
    })
    .await;
    let chain = json!([
        {"mechanism": "password_based", "backend": "http", "url": format!("http://{svc}/auth"),
         "headers": {"X-Token": "t0k"},
         "body": {"username": "${username}", "password": "${password}", "clientid": "${clientid}", "peerhost": "${peerhost}"}},
        {"mechanism": "password_based", "backend": "built_in_database"}
    ]);
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", &chain.to_string())]);
    add_user(&b, "carol", "local", false).await;
    expect(&b, "c1", Some("alice"), Some("pw"), OK).await;
    expect(&b, "c1", Some("nocontent"), Some("x"), OK).await;
    expect(&b, "c1", Some("bob"), Some("pw"), NOT_AUTHORIZED).await;
    // ignore (and a failing service) pass the client on to the next authenticator.
    expect(&b, "c1", Some("carol"), Some("local"), OK).await;
    expect(&b, "c1", Some("carol"), Some("bad"), BAD_PASSWORD).await;
    expect(&b, "c1", Some("broken"), Some("x"), NOT_AUTHORIZED).await;
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first["username"], "alice");
    assert_eq!(first["password"], "pw");
    assert_eq!(first["clientid"], "c1");
    assert_eq!(first["peerhost"], "127.0.0.1");
    assert_eq!(first["x-token"], "t0k");

    // A service that is down is ignored, so the chain goes on.
    let chain = json!([
        {"mechanism": "password_based", "backend": "http", "url": "http://127.0.0.1:9/auth", "request_timeout": "1s"},
        {"mechanism": "password_based", "backend": "built_in_database"}
    ]);
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", &chain.to_string())]);
    add_user(&b, "carol", "local", false).await;
    expect(&b, "c1", Some("carol"), Some("local"), OK).await;
}

#[tokio::test]
async fn a_bad_authenticator_stops_start_up_naming_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("check-config")
        .env(
            "ROOST__AUTHENTICATION",
            "[{mechanism: jwt, algorithm: hmac-based, secrett: x}]",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown key authentication[0].secrett"),
        "{err}"
    );
}
