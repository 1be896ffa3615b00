//! The hooks as the runtime calls them: what gets registered for a
//! configuration, bans at `client.connect`, the chain at `client.authenticate`
//! (built-in passwords through a deferred answer, a whole SCRAM exchange, JWT),
//! and `client.authorize` with and without anything to check.

use super::*;
use crate::authn::{password, scram};
use crate::banned::{BanEntry, BanKind};
use crate::config::{
    AuthenticatorConfig, AuthorizationConfig, AuthzSourceConfig, BuiltInDatabaseConfig,
    FileSourceConfig, HashName, HttpAuthzConfig, JwtConfig, PasswordBackend, PasswordHashConfig,
    ScramConfig,
};
use base64::Engine as _;
use parking_lot::Mutex;
use roost_core::banned::{BanError, BanList};
use roost_core::hooks::Identity;
use roost_core::storage::{ObjectStore, StorageError};
use roost_core::PeerInfo;
use roost_protocol::ProtocolVersion;
use std::collections::HashMap;

/// Tables in memory.
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

fn access(
    authentication: &[AuthenticatorConfig],
    allow_anonymous: Option<bool>,
    authorization: &AuthorizationConfig,
) -> Arc<Access> {
    Access::new(
        authentication,
        allow_anonymous,
        authorization,
        &Default::default(),
        Arc::new(Mem::default()),
    )
    .unwrap()
}

fn registered(a: &Arc<Access>) -> Vec<HookPoint> {
    let mut b = HooksBuilder::default();
    a.register(&mut b);
    let hooks = b.build();
    HookPoint::ALL
        .into_iter()
        .filter(|&p| hooks.has(p))
        .collect()
}

fn peer(ip: &str) -> PeerInfo {
    PeerInfo::tcp("tcp", format!("{ip}:1883").parse().unwrap())
}

fn request(client_id: &str, username: Option<&str>, password: Option<&str>) -> AuthRequest {
    AuthRequest {
        client_id: client_id.into(),
        username: username.map(Into::into),
        password: password.map(|p| p.as_bytes().to_vec().into()),
        peer: peer("127.0.0.1"),
        method: None,
        data: None,
        reauthenticate: false,
    }
}

fn client(client_id: &str, username: Option<&str>, identity: Identity) -> Arc<ClientInfo> {
    let mut c = ClientInfo::new(client_id.into(), peer("127.0.0.1"), ProtocolVersion::V5);
    c.username = username.map(Into::into);
    c.is_superuser = identity.is_superuser;
    c.attrs = identity.attrs;
    Arc::new(c)
}

/// The answer, which must not have to wait.
fn now<T>(d: Deferred<T>) -> T {
    match d {
        Deferred::Now(t) => t,
        Deferred::Later(_) => panic!("answered later, expected now"),
    }
}

/// The answer, which must have to wait.
async fn later<T>(d: Deferred<T>) -> T {
    match d {
        Deferred::Later(f) => f.await,
        Deferred::Now(_) => panic!("answered now, expected later"),
    }
}

fn allowed(a: Authn) -> Identity {
    match a {
        Authn::Allow(id) => id,
        Authn::Deny(code) => panic!("denied with {code:?}"),
        Authn::Ignore => panic!("ignored"),
        Authn::Continue { .. } => panic!("continued"),
    }
}

fn denied(a: Authn) -> ReasonCode {
    match a {
        Authn::Deny(code) => code,
        Authn::Allow(_) => panic!("allowed"),
        Authn::Ignore => panic!("ignored"),
        Authn::Continue { .. } => panic!("continued"),
    }
}

#[test]
fn the_default_configuration_registers_client_connect_alone() {
    let a = access(&[], None, &AuthorizationConfig::default());
    assert_eq!(registered(&a), [HookPoint::ClientConnect]);
    // Anonymous clients allowed explicitly: still nothing to judge.
    let a = access(&[], Some(true), &AuthorizationConfig::default());
    assert_eq!(registered(&a), [HookPoint::ClientConnect]);
}

#[test]
fn each_point_is_registered_when_the_configuration_needs_it() {
    let refuse_anonymous = access(&[], Some(false), &AuthorizationConfig::default());
    assert_eq!(
        registered(&refuse_anonymous),
        [HookPoint::ClientConnect, HookPoint::ClientAuthenticate]
    );
    let deny = AuthorizationConfig {
        no_match: Permission::Deny,
        ..Default::default()
    };
    assert_eq!(
        registered(&access(&[], None, &deny)),
        [HookPoint::ClientConnect, HookPoint::ClientAuthorize]
    );
    // A JWT may carry rules of the client's own: authorization must look.
    let jwt = AuthenticatorConfig::Jwt(JwtConfig {
        secret: "s".into(),
        ..Default::default()
    });
    assert_eq!(
        registered(&access(&[jwt], None, &AuthorizationConfig::default())),
        [
            HookPoint::ClientConnect,
            HookPoint::ClientAuthenticate,
            HookPoint::ClientAuthorize
        ]
    );
}

fn ban(kind: BanKind, who: &str) -> BanEntry {
    BanEntry {
        kind,
        who: who.into(),
        by: "test".into(),
        reason: String::new(),
        at: crate::banned::now(),
        until: None,
    }
}

fn connect(client_id: &str, username: Option<&str>, ip: &str) -> ConnectInfo {
    ConnectInfo {
        client_id: client_id.into(),
        username: username.map(Into::into),
        peer: peer(ip),
        proto_ver: ProtocolVersion::V5,
        clean_start: true,
        keepalive: 60,
    }
}

#[test]
fn a_ban_refuses_the_connect() {
    let a = access(&[], None, &AuthorizationConfig::default());
    assert_eq!(a.client_connect(&connect("c1", None, "10.0.0.1")), Ok(()));
    a.banned
        .update(|t| t.put(ban(BanKind::Clientid, "c1")))
        .unwrap();
    a.banned
        .update(|t| t.put(ban(BanKind::Username, "mallory")))
        .unwrap();
    a.banned
        .update(|t| t.put(ban(BanKind::Peerhost, "192.168.0.0/16")))
        .unwrap();
    let banned = Err(ReasonCode::Banned);
    assert_eq!(a.client_connect(&connect("c1", None, "10.0.0.1")), banned);
    assert_eq!(
        a.client_connect(&connect("c2", Some("mallory"), "10.0.0.1")),
        banned
    );
    assert_eq!(
        a.client_connect(&connect("c2", None, "192.168.3.4")),
        banned
    );
    assert_eq!(
        a.client_connect(&connect("c2", Some("alice"), "10.0.0.1")),
        Ok(())
    );
}

fn built_in_password() -> (AuthenticatorConfig, PasswordHashConfig) {
    let hash = PasswordHashConfig {
        name: HashName::Pbkdf2,
        iterations: 16,
        ..Default::default()
    };
    let cfg = AuthenticatorConfig::PasswordBased(PasswordBackend::BuiltInDatabase(
        BuiltInDatabaseConfig {
            password_hash_algorithm: hash.clone(),
            ..Default::default()
        },
    ));
    (cfg, hash)
}

#[tokio::test]
async fn a_built_in_user_authenticates_after_the_hash_and_a_wrong_password_does_not() {
    let (cfg, hash) = built_in_password();
    let a = access(&[cfg], None, &AuthorizationConfig::default());
    a.users
        .update(|u| {
            u.password
                .insert("root".into(), password::hash(&hash, b"s3cret", true));
            u.password
                .insert("bob".into(), password::hash(&hash, b"hunter2", false));
        })
        .unwrap();
    let id =
        allowed(later(a.client_authenticate(&request("c", Some("root"), Some("s3cret")))).await);
    assert!(id.is_superuser, "is_superuser as stored");
    assert!(id.attrs.is_none() && id.auth_data.is_none());
    let id =
        allowed(later(a.client_authenticate(&request("c", Some("bob"), Some("hunter2")))).await);
    assert!(!id.is_superuser);
    assert_eq!(
        denied(later(a.client_authenticate(&request("c", Some("bob"), Some("nope")))).await),
        ReasonCode::BadUserNameOrPassword
    );
    // A user the database does not know needs no hash: answered at once, and
    // with an authenticator configured anonymous clients are refused.
    assert_eq!(
        denied(now(a.client_authenticate(&request(
            "c",
            Some("eve"),
            Some("x")
        )))),
        ReasonCode::NotAuthorized
    );
    let open = access(
        &[built_in_password().0],
        Some(true),
        &AuthorizationConfig::default(),
    );
    let id = allowed(now(open.client_authenticate(&request("c", None, None))));
    assert!(!id.is_superuser);
}

fn scram_request(data: &[u8], reauthenticate: bool) -> AuthRequest {
    AuthRequest {
        method: Some(scram::METHOD.into()),
        data: Some(data.to_vec().into()),
        reauthenticate,
        ..request("c", None, None)
    }
}

/// Runs a whole exchange for `user` with `password`.
fn scram_exchange(a: &Access, user: &str, password: &[u8], reauthenticate: bool) -> Authn {
    let bare = format!("n={user},r=fyko+d2lbbFgONRv9qkxdawL");
    let first = format!("n,,{bare}");
    let Authn::Continue { data, state } =
        now(a.client_authenticate(&scram_request(first.as_bytes(), reauthenticate)))
    else {
        panic!("the exchange goes on after the client-first message");
    };
    let server_first = String::from_utf8(data).unwrap();
    let (client_final, signature) = scram::client_final(password, &bare, &server_first);
    match a.client_authenticate_continue(state, client_final.as_bytes()) {
        Authn::Allow(mut id) => {
            let expected = format!(
                "v={}",
                base64::engine::general_purpose::STANDARD.encode(signature)
            );
            assert_eq!(id.auth_data.take(), Some(expected.into_bytes()));
            Authn::Allow(id)
        }
        other => other,
    }
}

#[test]
fn a_scram_exchange_runs_through_authenticate_and_continue() {
    let scram_cfg = AuthenticatorConfig::Scram(ScramConfig::default());
    let a = access(&[scram_cfg], None, &AuthorizationConfig::default());
    a.users
        .update(|u| {
            u.scram
                .insert("user".into(), scram::new_user(b"pencil", 4096, true))
        })
        .unwrap();
    for reauthenticate in [false, true] {
        let id = allowed(scram_exchange(&a, "user", b"pencil", reauthenticate));
        assert_eq!(id.username.as_deref(), Some("user"));
        assert!(id.is_superuser);
        assert_eq!(
            denied(scram_exchange(&a, "user", b"pen", reauthenticate)),
            ReasonCode::NotAuthorized
        );
    }
    // An unknown user is refused at the client-first message.
    assert_eq!(
        denied(now(a.client_authenticate(&scram_request(
            b"n,,n=nobody,r=abc",
            false
        )))),
        ReasonCode::NotAuthorized
    );
    // Another method, or SCRAM without a SCRAM authenticator: 0x8C.
    let other = AuthRequest {
        method: Some("KERBEROS".into()),
        ..scram_request(b"x", false)
    };
    assert_eq!(
        denied(now(a.client_authenticate(&other))),
        ReasonCode::BadAuthenticationMethod
    );
    let (cfg, _) = built_in_password();
    let no_scram = access(&[cfg], None, &AuthorizationConfig::default());
    assert_eq!(
        denied(now(
            no_scram.client_authenticate(&scram_request(b"n,,n=user,r=a", false))
        )),
        ReasonCode::BadAuthenticationMethod
    );
}

fn acl_file(name: &str, text: &str) -> AuthzSourceConfig {
    let path = std::env::temp_dir().join(format!(
        "roost-access-hooks-{name}-{}.conf",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    AuthzSourceConfig::File(FileSourceConfig {
        path: path.display().to_string(),
    })
}

#[test]
fn authorize_ignores_when_nothing_decides_and_follows_the_acl_file() {
    let open = access(&[], None, &AuthorizationConfig::default());
    let c = client("c1", Some("u1"), Identity::default());
    assert_eq!(
        now(open.client_authorize(&c, Action::Publish, "a/b")),
        Authz::Ignore
    );

    let file = acl_file(
        "deny",
        "{deny, all, all, [\"secret/#\"]}.\n{allow, {username, \"u1\"}, publish, [\"u/${username}/#\"]}.\n",
    );
    let cfg = AuthorizationConfig {
        no_match: Permission::Deny,
        sources: vec![file],
        ..Default::default()
    };
    let a = access(&[], None, &cfg);
    if let AuthzSourceConfig::File(f) = &cfg.sources[0] {
        // Read at start-up: not needed any more.
        std::fs::remove_file(&f.path).unwrap();
    }
    let check = |c: &Arc<ClientInfo>, action, topic| now(a.client_authorize(c, action, topic));
    assert_eq!(check(&c, Action::Publish, "secret/x"), Authz::Deny);
    assert_eq!(check(&c, Action::Publish, "u/u1/x"), Authz::Allow);
    assert_eq!(
        check(&c, Action::Publish, "u/u2/x"),
        Authz::Deny,
        "no_match"
    );
    // A shared subscription is checked on its filter.
    assert_eq!(
        check(&c, Action::Subscribe, "$share/g/secret/#"),
        Authz::Deny
    );
    // Superusers bypass the sources.
    let root = client(
        "c2",
        None,
        Identity {
            is_superuser: true,
            ..Default::default()
        },
    );
    assert_eq!(check(&root, Action::Publish, "secret/x"), Authz::Allow);
}

#[tokio::test]
async fn the_jwt_acl_claim_travels_in_the_client_attributes() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let jwt = AuthenticatorConfig::Jwt(JwtConfig {
        secret: "s3cret".into(),
        ..Default::default()
    });
    let a = access(&[jwt], None, &AuthorizationConfig::default());
    let claims = serde_json::json!({"acl": [
        {"permission": "allow", "action": "publish", "topic": "own/${clientid}"},
        {"permission": "deny", "action": "all", "topic": "#"}
    ]});
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    let id = allowed(now(a.client_authenticate(&request(
        "c1",
        Some("u"),
        Some(&token),
    ))));
    assert!(
        id.attrs.is_some(),
        "the acl claim is kept for authorization"
    );
    let c = client("c1", Some("u"), id);
    assert_eq!(
        now(a.client_authorize(&c, Action::Publish, "own/c1")),
        Authz::Allow
    );
    assert_eq!(
        now(a.client_authorize(&c, Action::Subscribe, "other")),
        Authz::Deny
    );
    // A token without an acl claim: nothing to check.
    let plain = encode(
        &Header::default(),
        &serde_json::json!({"sub": "u"}),
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    let id = allowed(now(a.client_authenticate(&request(
        "c2",
        Some("u"),
        Some(&plain),
    ))));
    assert!(id.attrs.is_none());
    let c = client("c2", Some("u"), id);
    assert_eq!(
        now(a.client_authorize(&c, Action::Publish, "other")),
        Authz::Ignore
    );
    assert_eq!(
        denied(now(a.client_authenticate(&request(
            "c3",
            None,
            Some("not a token")
        )))),
        ReasonCode::NotAuthorized
    );
}

#[tokio::test]
async fn an_http_source_is_asked_later_and_no_answer_falls_to_no_match() {
    // Nothing listens on port 1 of localhost: no answer, so no opinion.
    let cfg = AuthorizationConfig {
        no_match: Permission::Deny,
        sources: vec![AuthzSourceConfig::Http(HttpAuthzConfig {
            url: "http://127.0.0.1:1/authz".into(),
            ..Default::default()
        })],
        ..Default::default()
    };
    let a = access(&[], None, &cfg);
    let c = client("c1", None, Identity::default());
    assert_eq!(
        later(a.client_authorize(&c, Action::Publish, "t")).await,
        Authz::Deny
    );
}

#[test]
fn the_ban_list_covers_whom_its_bans_name_and_refuses_a_bad_range() {
    let a = access(&[], None, &AuthorizationConfig::default());
    let bans = a.ban_list();
    let clients = [
        client("c1", None, Identity::default()),
        client("c2", Some("mallory"), Identity::default()),
        client("c3", Some("alice"), Identity::default()),
    ];
    let covered = |bans: &Arc<dyn BanList>| -> Vec<String> {
        let covers = bans.covering();
        clients
            .iter()
            .filter(|c| covers(c))
            .map(|c| c.client_id.to_string())
            .collect()
    };
    assert!(covered(&bans).is_empty());
    bans.put(ban(BanKind::Username, "mallory")).unwrap();
    assert_eq!(covered(&bans), ["c2"]);
    // Stored in the banned table: the next CONNECT of mallory is refused.
    assert!(a.check_banned("c9", Some("mallory"), &clients[0].peer));
    let mut expired = ban(BanKind::Clientid, "c1");
    expired.until = Some(1);
    bans.put(expired).unwrap();
    assert_eq!(covered(&bans), ["c2"]);
    assert_eq!(bans.list().len(), 1, "expired bans are not listed");
    assert!(matches!(
        bans.put(ban(BanKind::Peerhost, "10.0.0.300")),
        Err(BanError::Invalid(_))
    ));
    assert!(bans.remove(BanKind::Username, "mallory").unwrap());
    assert!(!bans.remove(BanKind::Username, "mallory").unwrap());
    assert!(covered(&bans).is_empty());
}
