//! Configuration of access control: the `authentication` chain, `allow_anonymous`
//! and `authorization`, shaped like EMQX 5's (see config.yaml for every key).
//! Lists of authenticators and sources are tagged by `mechanism` / `backend` /
//! `type` exactly as in EMQX, so an EMQX user recognises them.

pub use roost_core::authz::{Action, AuthzCacheConfig, AuthzPolicy, DenyAction, Permission};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::flapping::FlappingDetectConfig;
pub use crate::throttle::AuthnThrottleConfig;

/// The sections that guard access control against abuse: flapping clients and
/// failed-authentication storms.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    pub flapping_detect: FlappingDetectConfig,
    pub authentication_throttle: AuthnThrottleConfig,
}

/// One entry of the `authentication` chain.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "mechanism", rename_all = "snake_case")]
pub enum AuthenticatorConfig {
    /// User name (or client id) and password, checked by a backend.
    PasswordBased(PasswordBackend),
    /// A JSON Web Token in the password (or user name) field.
    Jwt(JwtConfig),
    /// The verified client certificate of a TLS listener.
    Cert(CertConfig),
    /// MQTT 5.0 enhanced authentication with SCRAM-SHA-256 (AUTH packets).
    Scram(ScramConfig),
}

impl AuthenticatorConfig {
    /// The authenticator's id as EMQX's API names it: `mechanism:backend`.
    pub fn id(&self) -> &'static str {
        match self {
            AuthenticatorConfig::PasswordBased(PasswordBackend::BuiltInDatabase(_)) => {
                "password_based:built_in_database"
            }
            AuthenticatorConfig::PasswordBased(PasswordBackend::Http(_)) => "password_based:http",
            AuthenticatorConfig::PasswordBased(PasswordBackend::Postgresql(_)) => {
                "password_based:postgresql"
            }
            AuthenticatorConfig::PasswordBased(PasswordBackend::Redis(_)) => "password_based:redis",
            AuthenticatorConfig::Jwt(_) => "jwt",
            AuthenticatorConfig::Cert(_) => "cert",
            AuthenticatorConfig::Scram(_) => "scram:built_in_database",
        }
    }
}

/// `mechanism: password_based`, by `backend`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum PasswordBackend {
    /// Users kept by the broker (`node.data_dir`), managed with the REST API and
    /// `roost ctl users`.
    BuiltInDatabase(BuiltInDatabaseConfig),
    /// An HTTP service decides.
    Http(HttpAuthnConfig),
    /// A PostgreSQL `query` finds the user (see [`ExternalAuthnConfig`]).
    Postgresql(ExternalAuthnConfig),
    /// A Redis `cmd` (HGET/HMGET) finds the user.
    Redis(ExternalAuthnConfig),
}

/// `password_based` + `postgresql` | `redis` (EMQX's): the connection's
/// fields (`server`, `database`, `username`, `password`, `pool_size`,
/// `ssl`; `redis_type` for Redis), `query` (PostgreSQL: its rows give
/// `password_hash`, `salt`, `is_superuser`) or `cmd` (Redis:
/// `HMGET mqtt_user:${username} password_hash salt is_superuser`), with
/// `${username}`, `${clientid}`, `${peerhost}`, `${cert_common_name}`,
/// `${cert_subject}`. The fields other than the hash are read by the backend
/// registered with [`crate::external::set_backends`] (roost-bridges), which
/// names an unknown one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ExternalAuthnConfig {
    #[serde(default)]
    pub password_hash_algorithm: ExternalHash,
    #[serde(flatten)]
    pub backend: serde_json::Map<String, serde_json::Value>,
}

/// `type: postgresql` | `redis` as an authorization source (EMQX's): the
/// connection's fields and `query` (PostgreSQL: rows of `permission`,
/// `action`, `topic`) or `cmd` (Redis: `HGETALL mqtt_acl:${username}`, a
/// hash of topic -> action, each allowed), read by the registered backend.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ExternalAuthzConfig {
    #[serde(flatten)]
    pub backend: serde_json::Map<String, serde_json::Value>,
}

/// Which CONNECT field names a user of the built-in database.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserIdType {
    #[default]
    Username,
    Clientid,
}

/// `password_based` + `built_in_database`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BuiltInDatabaseConfig {
    pub user_id_type: UserIdType,
    pub password_hash_algorithm: PasswordHashConfig,
}

impl Default for BuiltInDatabaseConfig {
    fn default() -> Self {
        BuiltInDatabaseConfig {
            user_id_type: UserIdType::Username,
            password_hash_algorithm: PasswordHashConfig::default(),
        }
    }
}

/// How new passwords are hashed (users keep the algorithm they were stored with).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HashName {
    #[default]
    Argon2id,
    Pbkdf2,
    Bcrypt,
    Sha256,
}

/// Where the salt goes for `sha256` (EMQX's `salt_position`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SaltPosition {
    #[default]
    Prefix,
    Suffix,
    Disable,
}

/// `password_hash_algorithm`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashConfig {
    pub name: HashName,
    /// `sha256` only.
    pub salt_position: SaltPosition,
    /// `pbkdf2` only (HMAC-SHA256 rounds).
    pub iterations: u32,
    /// `bcrypt` only (the cost).
    pub salt_rounds: u32,
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        PasswordHashConfig {
            name: HashName::Argon2id,
            salt_position: SaltPosition::Prefix,
            iterations: 4096,
            salt_rounds: 10,
        }
    }
}

/// `password_based` + `http`: POST to `url`; the answer decides.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthnConfig {
    /// `http://host:port/path` (plain HTTP).
    pub url: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// The JSON body; values may hold `${username}`, `${clientid}`, `${password}`,
    /// `${peerhost}`, `${cert_common_name}`.
    pub body: BTreeMap<String, String>,
    /// No answer within this long = ignore (the next authenticator decides).
    #[serde(with = "roost_core::config::duration")]
    pub request_timeout: Duration,
}

impl Default for HttpAuthnConfig {
    fn default() -> Self {
        HttpAuthnConfig {
            url: String::new(),
            headers: BTreeMap::new(),
            body: [
                ("username", "${username}"),
                ("password", "${password}"),
                ("clientid", "${clientid}"),
                ("peerhost", "${peerhost}"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Which CONNECT field carries the token.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum JwtFrom {
    #[default]
    Password,
    Username,
}

/// How a token is signed.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum JwtAlgorithm {
    /// HS256 / HS384 / HS512 with `secret`.
    #[default]
    HmacBased,
    /// RS256/384/512, PS256/384/512, ES256/384 with `public_key` (PEM).
    PublicKey,
}

/// `mechanism: jwt`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    pub from: JwtFrom,
    pub algorithm: JwtAlgorithm,
    pub secret: String,
    pub secret_base64_encoded: bool,
    pub public_key: String,
    /// Claims that must equal these values (`${username}` and `${clientid}` allowed).
    pub verify_claims: BTreeMap<String, String>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            from: JwtFrom::Password,
            algorithm: JwtAlgorithm::HmacBased,
            secret: String::new(),
            secret_base64_encoded: false,
            public_key: String::new(),
            verify_claims: BTreeMap::new(),
        }
    }
}

/// What a client certificate must match.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CertMatch {
    /// Any verified certificate is enough.
    #[default]
    Any,
    /// The certificate's common name must be the CONNECT user name.
    CnIsUsername,
    /// The certificate's common name must be the client id.
    CnIsClientid,
}

/// `mechanism: cert`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CertConfig {
    #[serde(rename = "match")]
    pub match_: CertMatch,
}

/// `mechanism: scram` (built-in database only, SHA-256 only, as EMQX's).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScramConfig {
    /// Must be `built_in_database`.
    pub backend: String,
    /// Must be `sha256`.
    pub algorithm: String,
    /// PBKDF2 rounds for new users.
    pub iteration_count: u32,
}

impl Default for ScramConfig {
    fn default() -> Self {
        ScramConfig {
            backend: "built_in_database".into(),
            algorithm: "sha256".into(),
            iteration_count: 4096,
        }
    }
}

/// `authorization.*`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// EMQX 5 default: allow.
    pub no_match: Permission,
    pub deny_action: DenyAction,
    pub cache: AuthzCacheConfig,
    /// Checked in order; the first that matches decides.
    pub sources: Vec<AuthzSourceConfig>,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        AuthorizationConfig {
            no_match: Permission::Allow,
            deny_action: DenyAction::Ignore,
            cache: AuthzCacheConfig::default(),
            sources: Vec::new(),
        }
    }
}

impl AuthorizationConfig {
    /// What the runtime does itself with authorization (the denial's effect,
    /// its per-client cache): it reads these, not the sources.
    pub fn policy(&self) -> AuthzPolicy {
        AuthzPolicy {
            deny_action: self.deny_action,
            cache: self.cache.clone(),
        }
    }
}

/// One entry of `authorization.sources`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthzSourceConfig {
    /// Rules in an EMQX `acl.conf`-syntax file, read at start-up.
    File(FileSourceConfig),
    /// Rules kept by the broker, managed with the REST API.
    BuiltInDatabase(BuiltInSourceConfig),
    /// An HTTP service decides.
    Http(HttpAuthzConfig),
    /// ACL rows from a PostgreSQL `query`.
    Postgresql(ExternalAuthzConfig),
    /// ACL from a Redis `cmd`.
    Redis(ExternalAuthzConfig),
}

/// `type: file`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    pub path: String,
}

/// `type: built_in_database` (no settings).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct BuiltInSourceConfig {}

/// `type: http`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthzConfig {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    /// Values may hold `${username}`, `${clientid}`, `${peerhost}`, `${topic}`,
    /// `${action}`, `${cert_common_name}`.
    pub body: BTreeMap<String, String>,
    #[serde(with = "roost_core::config::duration")]
    pub request_timeout: Duration,
}

impl Default for HttpAuthzConfig {
    fn default() -> Self {
        HttpAuthzConfig {
            url: String::new(),
            headers: BTreeMap::new(),
            body: [
                ("username", "${username}"),
                ("clientid", "${clientid}"),
                ("peerhost", "${peerhost}"),
                ("topic", "${topic}"),
                ("action", "${action}"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section prints (the whole configuration goes through a YAML
    /// serializer for `roost check-config --print`, say) and reads back as
    /// the same value, non-default values, durations and tags included.
    #[test]
    fn sections_serialize_and_read_back_the_same() {
        let authentication = vec![
            AuthenticatorConfig::PasswordBased(PasswordBackend::BuiltInDatabase(
                BuiltInDatabaseConfig {
                    user_id_type: UserIdType::Clientid,
                    password_hash_algorithm: PasswordHashConfig {
                        name: HashName::Sha256,
                        salt_position: SaltPosition::Suffix,
                        iterations: 7,
                        salt_rounds: 5,
                    },
                },
            )),
            AuthenticatorConfig::PasswordBased(PasswordBackend::Http(HttpAuthnConfig {
                url: "http://127.0.0.1:8080/auth".into(),
                headers: [("x-key".to_string(), "v".to_string())].into(),
                request_timeout: Duration::from_millis(1500),
                ..Default::default()
            })),
            AuthenticatorConfig::Jwt(JwtConfig {
                from: JwtFrom::Username,
                algorithm: JwtAlgorithm::PublicKey,
                public_key: "-----BEGIN PUBLIC KEY-----".into(),
                verify_claims: [("sub".to_string(), "${username}".to_string())].into(),
                ..Default::default()
            }),
            AuthenticatorConfig::Cert(CertConfig {
                match_: CertMatch::CnIsClientid,
            }),
            AuthenticatorConfig::Scram(ScramConfig {
                iteration_count: 10_000,
                ..Default::default()
            }),
        ];
        let authorization = AuthorizationConfig {
            no_match: Permission::Deny,
            deny_action: DenyAction::Disconnect,
            cache: AuthzCacheConfig {
                enabled: false,
                max_size: 7,
                ttl: Duration::from_secs(90),
            },
            sources: vec![
                AuthzSourceConfig::File(FileSourceConfig {
                    path: "acl.conf".into(),
                }),
                AuthzSourceConfig::BuiltInDatabase(BuiltInSourceConfig {}),
                AuthzSourceConfig::Http(HttpAuthzConfig {
                    url: "http://127.0.0.1:8080/authz".into(),
                    request_timeout: Duration::from_secs(2),
                    ..Default::default()
                }),
            ],
        };
        let text = serde_json::to_string(&authentication).unwrap();
        assert!(text.contains(r#""mechanism":"password_based","backend":"built_in_database""#));
        assert!(text.contains(r#""match":"cn_is_clientid""#), "{text}");
        let back: Vec<AuthenticatorConfig> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, authentication);

        let text = serde_json::to_string(&authorization).unwrap();
        assert!(text.contains(r#""ttl":"1m 30s""#), "{text}");
        let back: AuthorizationConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, authorization);
        assert_eq!(authorization.policy().deny_action, DenyAction::Disconnect);
    }
}

/// `password_hash_algorithm` of an external backend (EMQX's): a simple hash
/// with the salt before or after the password, bcrypt, or pbkdf2.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExternalHash {
    Plain {
        #[serde(default)]
        salt_position: SaltPosition,
    },
    Md5 {
        #[serde(default)]
        salt_position: SaltPosition,
    },
    Sha {
        #[serde(default)]
        salt_position: SaltPosition,
    },
    Sha256 {
        #[serde(default)]
        salt_position: SaltPosition,
    },
    Sha512 {
        #[serde(default)]
        salt_position: SaltPosition,
    },
    /// The stored hash is the whole `$2b$...` string, salt included.
    Bcrypt {},
    Pbkdf2 {
        mac_fun: MacFun,
        #[serde(default = "pbkdf2_iterations")]
        iterations: u32,
        /// Bytes of the derived key; the MAC's output size when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dk_length: Option<u32>,
    },
}

fn pbkdf2_iterations() -> u32 {
    4096
}

impl Default for ExternalHash {
    /// EMQX's default: sha256, salt first.
    fn default() -> Self {
        ExternalHash::Sha256 {
            salt_position: SaltPosition::Prefix,
        }
    }
}

/// pbkdf2's `mac_fun` (of EMQX's md4, md5, ripemd160, sha, sha224, sha256,
/// sha384, sha512: the SHA-2 family and md5).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MacFun {
    Md5,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl ExternalHash {
    /// Whether checking is slow on purpose (run off the async threads).
    pub fn is_slow(&self) -> bool {
        matches!(self, ExternalHash::Bcrypt {} | ExternalHash::Pbkdf2 { .. })
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            ExternalHash::Pbkdf2 { iterations: 0, .. } => {
                Err("password_hash_algorithm.iterations: must be at least 1".into())
            }
            ExternalHash::Pbkdf2 {
                dk_length: Some(0), ..
            } => Err("password_hash_algorithm.dk_length: must be at least 1".into()),
            _ => Ok(()),
        }
    }
}
