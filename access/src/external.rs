//! Authentication and authorization by an external database: EMQX's
//! `password_based` authenticators with `backend: postgresql | redis`, and
//! the authorization sources `type: postgresql | redis`.
//!
//! This crate knows what to ask and how to judge the answer: the client's
//! fields for the query's `${...}` placeholders ([`Vars`]), a user's stored
//! hash checked against the CONNECT password ([`check_password`], EMQX's
//! `password_hash_algorithm`), ACL rows turned into rules. How to ask (the
//! connection pools, the SQL or the Redis command) belongs to the
//! data-integration crate, which sits above this one: the binary registers
//! it once with [`set_backends`], before the configuration is checked.

use crate::authz::rule::{ActionSpec, Rule, TopicPattern, Who};
use crate::config::{ExternalHash, MacFun, Permission, SaltPosition};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use subtle::ConstantTimeEq as _;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a query's placeholders may read: `username`, `clientid`,
/// `peerhost`, `cert_common_name`, `cert_subject` (EMQX's names).
pub type Vars = BTreeMap<String, String>;

/// The placeholders' values for a client.
pub fn vars(username: Option<&str>, clientid: &str, peer: &roost_core::PeerInfo) -> Vars {
    let cert = peer.cert.as_ref();
    [
        ("username", username.unwrap_or_default().to_string()),
        ("clientid", clientid.to_string()),
        ("peerhost", peer.addr.ip().to_canonical().to_string()),
        (
            "cert_common_name",
            cert.and_then(|c| c.common_name.clone()).unwrap_or_default(),
        ),
        (
            "cert_subject",
            cert.and_then(|c| c.distinguished_name.clone())
                .unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// How long a backend may take to answer before the authenticator ignores
/// the client (the next one decides) or the source has no match: a database
/// that hangs must not hang CONNECTs.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// An external authenticator's or source's `enable` (EMQX's, default
/// true): a disabled one is left out of the chain. `Err` names a value that
/// is not a boolean.
pub fn enabled(backend: &serde_json::Map<String, serde_json::Value>) -> Result<bool, String> {
    match backend.get("enable") {
        None => Ok(true),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("enable: must be true or false, not {other}")),
    }
}

/// A user as the backend stored it (EMQX's fields `password_hash`, `salt`,
/// `is_superuser`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRecord {
    pub password_hash: String,
    pub salt: String,
    pub is_superuser: bool,
}

/// One ACL row (EMQX's columns): `permission` allow|deny, `action`
/// publish|subscribe|all, `topic` a filter with `${username}`/`${clientid}`
/// or `eq <topic>`.
#[derive(Debug, Clone, PartialEq)]
pub struct AclRow {
    pub permission: String,
    pub action: String,
    pub topic: String,
}

impl AclRow {
    /// The row as a rule; `None` (and the row skipped) when a field is not
    /// one EMQX knows.
    pub fn rule(&self) -> Option<Rule> {
        let permission = match self.permission.trim() {
            "allow" => Permission::Allow,
            "deny" => Permission::Deny,
            _ => return None,
        };
        let action = match self.action.trim() {
            "publish" => ActionSpec::Publish,
            "subscribe" => ActionSpec::Subscribe,
            "all" => ActionSpec::All,
            _ => return None,
        };
        let topic = match self.topic.strip_prefix("eq ") {
            Some(t) => TopicPattern::Eq(t.to_string()),
            None => TopicPattern::Filter(self.topic.clone()),
        };
        Some(Rule {
            permission,
            who: Who::All,
            action,
            topics: vec![topic],
        })
    }
}

/// Finds the user a CONNECT names: `Ok(None)` when there is none (the
/// authenticator then ignores the client), `Err` when the backend failed.
pub trait UserLookup: Send + Sync + 'static {
    fn find_user<'a>(&'a self, vars: &'a Vars)
        -> BoxFuture<'a, Result<Option<UserRecord>, String>>;
}

/// Finds a client's ACL rows, in the order they are checked.
pub trait AclLookup: Send + Sync + 'static {
    fn acl_rows<'a>(&'a self, vars: &'a Vars) -> BoxFuture<'a, Result<Vec<AclRow>, String>>;
}

/// Builds lookups from configuration entries.
pub trait Backends: Send + Sync + 'static {
    /// For `authentication[i]` with `backend` (`postgresql`, `redis`), given
    /// the entry's fields other than `mechanism`, `backend` and
    /// `password_hash_algorithm`. The error is `field: why`. Must not need a
    /// running server (nor a tokio runtime): `roost check-config` calls it.
    fn user_lookup(
        &self,
        backend: &str,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn UserLookup>, String>;

    /// For `authorization.sources[i]` of `type` (`postgresql`, `redis`),
    /// given the entry's fields other than `type`.
    fn acl_lookup(
        &self,
        kind: &str,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn AclLookup>, String>;
}

static BACKENDS: OnceLock<Arc<dyn Backends>> = OnceLock::new();

/// Registers the external backends (once per process; a second call is
/// ignored and returns false).
pub fn set_backends(backends: Arc<dyn Backends>) -> bool {
    BACKENDS.set(backends).is_ok()
}

pub(crate) fn backends(what: &str) -> Result<&'static Arc<dyn Backends>, String> {
    BACKENDS
        .get()
        .ok_or_else(|| format!("backend: {what} is not available in this build"))
}

/// Whether `password` is the user's, as EMQX's `emqx_passwd:check_pass`:
/// hex digests compare without regard to case, in constant time.
pub fn check_password(hash: &ExternalHash, user: &UserRecord, password: &[u8]) -> bool {
    let salted = |pos: &SaltPosition| -> Vec<u8> {
        let salt = user.salt.as_bytes();
        match pos {
            SaltPosition::Prefix => [salt, password].concat(),
            SaltPosition::Suffix => [password, salt].concat(),
            SaltPosition::Disable => password.to_vec(),
        }
    };
    let hex_eq = |digest: &[u8]| {
        let ours = crate::authn::password::hex(digest);
        let theirs = user.password_hash.trim().to_ascii_lowercase();
        bool::from(ours.as_bytes().ct_eq(theirs.as_bytes()))
    };
    match hash {
        ExternalHash::Plain { salt_position } => {
            bool::from(salted(salt_position).ct_eq(user.password_hash.as_bytes()))
        }
        ExternalHash::Md5 { salt_position } => hex_eq(&md5::Md5::digest(salted(salt_position))),
        ExternalHash::Sha { salt_position } => {
            use sha1::Digest as _;
            hex_eq(&sha1::Sha1::digest(salted(salt_position)))
        }
        ExternalHash::Sha256 { salt_position } => {
            hex_eq(&sha2::Sha256::digest(salted(salt_position)))
        }
        ExternalHash::Sha512 { salt_position } => {
            hex_eq(&sha2::Sha512::digest(salted(salt_position)))
        }
        ExternalHash::Bcrypt {} => {
            bcrypt::verify(password, user.password_hash.trim()).unwrap_or(false)
        }
        ExternalHash::Pbkdf2 {
            mac_fun,
            iterations,
            dk_length,
        } => {
            let salt = user.salt.as_bytes();
            let rounds = (*iterations).max(1);
            let len = |natural: usize| dk_length.map_or(natural, |l| l as usize);
            macro_rules! derive {
                ($d:ty, $natural:expr) => {{
                    let mut out = vec![0u8; len($natural)];
                    pbkdf2::pbkdf2_hmac::<$d>(password, salt, rounds, &mut out);
                    out
                }};
            }
            let key = match mac_fun {
                MacFun::Md5 => derive!(md5::Md5, 16),
                MacFun::Sha224 => derive!(sha2::Sha224, 28),
                MacFun::Sha256 => derive!(sha2::Sha256, 32),
                MacFun::Sha384 => derive!(sha2::Sha384, 48),
                MacFun::Sha512 => derive!(sha2::Sha512, 64),
            };
            hex_eq(&key)
        }
    }
}

/// EMQX's `is_superuser` values: true/false, 1/0, "true"/"false", "1"/"0".
pub fn is_superuser(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("true" | "1" | "t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(hash: &str, salt: &str) -> UserRecord {
        UserRecord {
            password_hash: hash.into(),
            salt: salt.into(),
            is_superuser: false,
        }
    }

    #[test]
    fn emqx_documented_hashes_check() {
        // EMQX's PostgreSQL guide: user123 / secret, salt "salt", sha256 suffix.
        let u = user(
            "f84fa2149dbb62ed4e0cf1f550d2949b33a6513d3a7707e08502511c79ccb0ee",
            "salt",
        );
        let suffix = ExternalHash::Sha256 {
            salt_position: SaltPosition::Suffix,
        };
        assert!(check_password(&suffix, &u, b"secret"));
        assert!(!check_password(&suffix, &u, b"secret2"));
        let prefix = ExternalHash::Sha256 {
            salt_position: SaltPosition::Prefix,
        };
        assert!(!check_password(&prefix, &u, b"secret"));
        let plain = ExternalHash::Plain {
            salt_position: SaltPosition::Disable,
        };
        assert!(check_password(&plain, &user("pw", "x"), b"pw"));
        let md5 = ExternalHash::Md5 {
            salt_position: SaltPosition::Disable,
        };
        // md5("password")
        assert!(check_password(
            &md5,
            &user("5F4DCC3B5AA765D61D8327DEB882CF99", ""),
            b"password"
        ));
        let sha = ExternalHash::Sha {
            salt_position: SaltPosition::Disable,
        };
        // sha1("password")
        assert!(check_password(
            &sha,
            &user("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", ""),
            b"password"
        ));
        let bcrypt_hash = bcrypt::hash_with_salt(b"pw", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert!(check_password(
            &ExternalHash::Bcrypt {},
            &user(&bcrypt_hash, ""),
            b"pw"
        ));
        assert!(!check_password(
            &ExternalHash::Bcrypt {},
            &user(&bcrypt_hash, ""),
            b"px"
        ));
        // RFC 7914's PBKDF2-HMAC-SHA256 vector: "passwd", "salt", 1 round, 64 bytes.
        let pbkdf2 = ExternalHash::Pbkdf2 {
            mac_fun: MacFun::Sha256,
            iterations: 1,
            dk_length: Some(64),
        };
        let u = user("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", "salt");
        assert!(check_password(&pbkdf2, &u, b"passwd"));
        assert!(!check_password(&pbkdf2, &u, b"passwe"));
    }

    #[test]
    fn hash_config_reads_emqx_shapes() {
        let h: ExternalHash = serde_json::from_value(
            serde_json::json!({"name": "sha256", "salt_position": "suffix"}),
        )
        .unwrap();
        assert_eq!(
            h,
            ExternalHash::Sha256 {
                salt_position: SaltPosition::Suffix
            }
        );
        let h: ExternalHash = serde_json::from_value(
            serde_json::json!({"name": "pbkdf2", "mac_fun": "sha512", "iterations": 10}),
        )
        .unwrap();
        assert!(h.is_slow());
        assert!(serde_json::from_value::<ExternalHash>(
            serde_json::json!({"name": "bcrypt", "salt_position": "x"})
        )
        .is_err());
    }

    #[test]
    fn acl_rows_become_rules() {
        let row = |p: &str, a: &str, t: &str| AclRow {
            permission: p.into(),
            action: a.into(),
            topic: t.into(),
        };
        let r = row("deny", "publish", "eq a/#").rule().unwrap();
        assert_eq!(r.permission, Permission::Deny);
        assert_eq!(r.topics, vec![TopicPattern::Eq("a/#".into())]);
        assert!(row("maybe", "publish", "x").rule().is_none());
        assert!(row("allow", "pub", "x").rule().is_none());
        assert!(
            is_superuser(Some("1"))
                && is_superuser(Some("true"))
                && !is_superuser(Some("0"))
                && !is_superuser(None)
        );
    }
}
