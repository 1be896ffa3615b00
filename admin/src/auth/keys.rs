//! API keys (EMQX's `emqx_mgmt_auth`): a name, a random key and a secret,
//! for scripts that call the API with HTTP basic `key:secret`. The secret is
//! shown once, when the key is created; only its salted SHA-256 is stored (a
//! random 256-bit secret needs no slow hash), in the document `api_keys` of
//! the object store.

use roost_access::authn::password::{self, PasswordUser};
use roost_access::config::{HashName, PasswordHashConfig};
use roost_access::store::Table;
use roost_access::StoreError;
use roost_core::storage::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One API key, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub api_key: String,
    pub secret: PasswordUser,
    pub enable: bool,
    /// Seconds since the epoch after which the key is refused; `None`: never.
    pub expired_at: Option<u64>,
    pub created_at: u64,
    #[serde(default)]
    pub desc: String,
    pub role: String,
}

/// Why a change to the keys was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("API key {0:?} not found")]
    NotFound(String),
    #[error("API key {0:?} already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What HTTP basic with a key's credentials comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// No key has this id: the credentials may be a dashboard user's.
    NoSuchKey,
    /// The key, by name.
    Valid(String),
    /// A wrong secret, a disabled or an expired key.
    Refused(&'static str),
}

/// Changes to a key (`PUT /api/v5/api_key/{name}`); `None` keeps the value.
#[derive(Debug, Default)]
pub struct KeyChange {
    pub enable: Option<bool>,
    pub expired_at: Option<Option<u64>>,
    pub desc: Option<String>,
}

pub struct ApiKeys {
    table: Table<BTreeMap<String, ApiKeyRecord>>,
}

impl ApiKeys {
    pub fn open(store: Arc<dyn ObjectStore>) -> Result<ApiKeys, StoreError> {
        Ok(ApiKeys {
            table: Table::open(store, "api_keys")?,
        })
    }

    /// Every key by name.
    pub fn list(&self) -> Vec<(String, ApiKeyRecord)> {
        self.table
            .read(|t| t.iter().map(|(n, r)| (n.clone(), r.clone())).collect())
    }

    pub fn get(&self, name: &str) -> Option<ApiKeyRecord> {
        self.table.read(|t| t.get(name).cloned())
    }

    /// Creates a key; answers it and its secret (the only time it is known).
    pub fn create(
        &self,
        name: &str,
        enable: bool,
        expired_at: Option<u64>,
        desc: &str,
        now: u64,
    ) -> Result<(ApiKeyRecord, String), KeyError> {
        check_name(name)?;
        let api_key = password::hex(&rand::random::<[u8; 8]>());
        let secret = base64_secret();
        let hash_cfg = PasswordHashConfig {
            name: HashName::Sha256,
            ..PasswordHashConfig::default()
        };
        let record = ApiKeyRecord {
            api_key,
            secret: password::hash(&hash_cfg, secret.as_bytes(), false),
            enable,
            expired_at,
            created_at: now,
            desc: desc.into(),
            role: super::admins::ROLE.into(),
        };
        self.table.update(|t| {
            if t.contains_key(name) {
                return Err(KeyError::Exists(name.into()));
            }
            t.insert(name.into(), record.clone());
            Ok(())
        })??;
        Ok((record, secret))
    }

    pub fn update(&self, name: &str, change: KeyChange) -> Result<ApiKeyRecord, KeyError> {
        self.table.update(|t| {
            let r = t
                .get_mut(name)
                .ok_or_else(|| KeyError::NotFound(name.into()))?;
            if let Some(enable) = change.enable {
                r.enable = enable;
            }
            if let Some(at) = change.expired_at {
                r.expired_at = at;
            }
            if let Some(desc) = change.desc {
                r.desc = desc;
            }
            Ok(r.clone())
        })?
    }

    pub fn delete(&self, name: &str) -> Result<(), KeyError> {
        self.table
            .update(|t| t.remove(name).map(|_| ()))?
            .ok_or_else(|| KeyError::NotFound(name.into()))
    }

    /// Checks HTTP basic credentials `api_key:secret` at `now` (epoch seconds).
    pub fn check(&self, api_key: &str, secret: &str, now: u64) -> KeyCheck {
        let found = self.table.read(|t| {
            t.iter()
                .find(|(_, r)| r.api_key == api_key)
                .map(|(n, r)| (n.clone(), r.clone()))
        });
        let Some((name, r)) = found else {
            return KeyCheck::NoSuchKey;
        };
        if !password::verify(&r.secret, secret.as_bytes()) {
            KeyCheck::Refused("wrong API secret")
        } else if !r.enable {
            KeyCheck::Refused("the API key is disabled")
        } else if r.expired_at.is_some_and(|at| at <= now) {
            KeyCheck::Refused("the API key has expired")
        } else {
            KeyCheck::Valid(name)
        }
    }
}

fn base64_secret() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// EMQX's rule for key names: `^[A-Za-z]+[A-Za-z0-9-_]*$`, at most 256 bytes.
pub fn check_name(name: &str) -> Result<(), KeyError> {
    let mut chars = name.chars();
    let ok = name.len() <= 256
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid(
            "name must match ^[A-Za-z]+[A-Za-z0-9-_]*$ and be at most 256 bytes".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_access::JsonFiles;

    #[test]
    fn a_key_authenticates_until_disabled_or_expired() {
        let d = std::env::temp_dir().join(format!("roost-api-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let keys = ApiKeys::open(Arc::new(JsonFiles::new(&d))).unwrap();
        assert!(matches!(
            keys.create("1bad", true, None, "", 0),
            Err(KeyError::Invalid(_))
        ));
        let (r, secret) = keys.create("ci", true, Some(100), "d", 10).unwrap();
        assert!(matches!(
            keys.create("ci", true, None, "", 10),
            Err(KeyError::Exists(_))
        ));
        assert_eq!(
            keys.check(&r.api_key, &secret, 50),
            KeyCheck::Valid("ci".into())
        );
        assert!(matches!(
            keys.check(&r.api_key, "x", 50),
            KeyCheck::Refused(_)
        ));
        assert!(matches!(
            keys.check(&r.api_key, &secret, 100),
            KeyCheck::Refused(_)
        ));
        assert_eq!(keys.check("nokey", &secret, 50), KeyCheck::NoSuchKey);
        let change = KeyChange {
            enable: Some(false),
            expired_at: Some(None),
            ..KeyChange::default()
        };
        keys.update("ci", change).unwrap();
        assert!(matches!(
            keys.check(&r.api_key, &secret, 50),
            KeyCheck::Refused(_)
        ));
        let text = std::fs::read_to_string(d.join("api_keys.json")).unwrap();
        assert!(!text.contains(&secret), "only a hash is stored");
        keys.delete("ci").unwrap();
        assert!(matches!(keys.delete("ci"), Err(KeyError::NotFound(_))));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
