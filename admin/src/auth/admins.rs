//! Dashboard users (EMQX's `emqx_admin` table): who may log in to the API and
//! the dashboard. Passwords are stored salted and hashed with roost-access's
//! argon2id, in the document `admins` of the object store (`admins.json` in
//! `node.data_dir`, written atomically). When there is no user, the default
//! one is created from `http.default_username` / `http.default_password`.

use crate::config::DEFAULT_PASSWORD;
use parking_lot::Mutex;
use roost_access::authn::password::{self, PasswordUser};
use roost_access::config::PasswordHashConfig;
use roost_access::store::Table;
use roost_access::StoreError;
use roost_core::storage::ObjectStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use subtle::ConstantTimeEq as _;

/// The only role: every dashboard user may do everything (EMQX's
/// `administrator`; its `viewer` is an enterprise feature).
pub const ROLE: &str = "administrator";

/// One dashboard user, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminRecord {
    pub password: PasswordUser,
    pub role: String,
    #[serde(default)]
    pub description: String,
    /// Created from `http.default_password` and never changed through the
    /// API: its password follows that key across restarts.
    #[serde(default)]
    pub from_config: bool,
}

/// A dashboard user as the API shows it (EMQX's user fields).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AdminUser {
    pub username: String,
    pub role: String,
    pub description: String,
    /// Where the user is kept: always `local` (EMQX's SSO backends aside).
    pub backend: String,
}

/// Why a change to the users was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("user {0:?} not found")]
    NotFound(String),
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("the last dashboard user cannot be deleted")]
    LastUser,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Users = BTreeMap<String, AdminRecord>;

/// The users, and fingerprints of the passwords verified since start-up.
pub struct Admins {
    table: Table<Users>,
    /// HTTP basic sends the password with every request, and argon2id is slow
    /// on purpose: a password verified once is remembered as a keyed SHA-256
    /// fingerprint (the key is random per process), forgotten when the
    /// password changes.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    key: [u8; 32],
    /// Password checks at once, at most: one per core (argon2id is slow and
    /// takes memory), so a storm of logins queues instead of filling the
    /// blocking pool.
    hashing: tokio::sync::Semaphore,
}

impl Admins {
    /// Reads the users; creates the default one if there is none, and
    /// re-applies `http.default_password` to it while it comes from the config.
    pub fn open(
        store: Arc<dyn ObjectStore>,
        default_username: &str,
        default_password: &str,
    ) -> Result<Admins, StoreError> {
        let table: Table<Users> = Table::open(store, "admins")?;
        let stale = table.read(|users| match users.get(default_username) {
            None => users.is_empty(),
            Some(u) => u.from_config && !password::verify(&u.password, default_password.as_bytes()),
        });
        if stale {
            let hashed = hash(default_password);
            table.update(|users| {
                let description = users
                    .get(default_username)
                    .map_or_else(|| "administrator".to_string(), |u| u.description.clone());
                users.insert(
                    default_username.to_string(),
                    AdminRecord {
                        password: hashed,
                        role: ROLE.into(),
                        description,
                        from_config: true,
                    },
                );
            })?;
        }
        Ok(Admins {
            table,
            verified: Mutex::default(),
            key: rand::random(),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        })
    }

    /// The users whose password is still the shipped default.
    pub fn with_default_password(&self) -> Vec<String> {
        self.table.read(|users| {
            users
                .iter()
                .filter(|(_, u)| password::verify(&u.password, DEFAULT_PASSWORD.as_bytes()))
                .map(|(name, _)| name.clone())
                .collect()
        })
    }

    fn fingerprint(&self, username: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((username.len() as u64).to_be_bytes());
        h.update(username.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether `password` is `username`'s (false for an unknown user).
    pub async fn verify(&self, username: &str, password: &str) -> bool {
        let print = self.fingerprint(username, password);
        if let Some(known) = self.verified.lock().get(username) {
            if bool::from(known.ct_eq(&print)) {
                return true;
            }
        }
        let Some(stored) = self
            .table
            .read(|users| users.get(username).map(|u| u.password.clone()))
        else {
            return false;
        };
        let (pw, hash) = (password.to_string(), stored.password_hash.clone());
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || password::verify(&stored, pw.as_bytes()))
            .await
            .unwrap_or(false);
        if ok {
            // Remembered only if the password was not changed meanwhile
            // (`set_password` changes the table, then forgets the fingerprint).
            let mut verified = self.verified.lock();
            let unchanged = self.table.read(|users| {
                users
                    .get(username)
                    .is_some_and(|u| u.password.password_hash == hash)
            });
            if unchanged {
                verified.insert(username.to_string(), print);
            }
        }
        ok
    }

    pub fn list(&self) -> Vec<AdminUser> {
        self.table
            .read(|users| users.iter().map(|(n, u)| shown(n, u)).collect())
    }

    pub fn get(&self, username: &str) -> Option<AdminUser> {
        self.table
            .read(|users| users.get(username).map(|u| shown(username, u)))
    }

    pub async fn add(
        &self,
        username: &str,
        password: &str,
        role: &str,
        description: &str,
    ) -> Result<AdminUser, AdminError> {
        check_username(username)?;
        check_role(role)?;
        check_strength(password)?;
        if self.get(username).is_some() {
            return Err(AdminError::Exists(username.into()));
        }
        let hashed = hash_blocking(password).await;
        let record = AdminRecord {
            password: hashed,
            role: role.into(),
            description: description.into(),
            from_config: false,
        };
        self.table.update(|users| {
            if users.contains_key(username) {
                return Err(AdminError::Exists(username.into()));
            }
            users.insert(username.into(), record);
            Ok::<_, AdminError>(())
        })??;
        Ok(self.get(username).expect("just added"))
    }

    pub fn update(
        &self,
        username: &str,
        role: Option<&str>,
        description: Option<&str>,
    ) -> Result<AdminUser, AdminError> {
        if let Some(role) = role {
            check_role(role)?;
        }
        self.table.update(|users| {
            let u = users
                .get_mut(username)
                .ok_or_else(|| AdminError::NotFound(username.into()))?;
            if let Some(role) = role {
                u.role = role.into();
            }
            if let Some(d) = description {
                u.description = d.into();
            }
            Ok(shown(username, u))
        })?
    }

    /// Deletes a user; the last one stays, or nobody could log in again.
    pub fn remove(&self, username: &str) -> Result<(), AdminError> {
        self.table.update(|users| {
            if !users.contains_key(username) {
                return Err(AdminError::NotFound(username.into()));
            }
            if users.len() == 1 {
                return Err(AdminError::LastUser);
            }
            users.remove(username);
            Ok::<_, AdminError>(())
        })??;
        self.verified.lock().remove(username);
        Ok(())
    }

    /// Sets a new password (checked for strength); the config no longer
    /// applies to this user.
    pub async fn set_password(&self, username: &str, new: &str) -> Result<(), AdminError> {
        check_strength(new)?;
        if self.get(username).is_none() {
            return Err(AdminError::NotFound(username.into()));
        }
        let hashed = hash_blocking(new).await;
        self.table.update(|users| {
            let u = users
                .get_mut(username)
                .ok_or_else(|| AdminError::NotFound(username.into()))?;
            u.password = hashed;
            u.from_config = false;
            Ok::<_, AdminError>(())
        })??;
        self.verified.lock().remove(username);
        Ok(())
    }
}

fn shown(username: &str, u: &AdminRecord) -> AdminUser {
    AdminUser {
        username: username.into(),
        role: u.role.clone(),
        description: u.description.clone(),
        backend: "local".into(),
    }
}

fn hash(password: &str) -> PasswordUser {
    password::hash(&PasswordHashConfig::default(), password.as_bytes(), false)
}

async fn hash_blocking(password: &str) -> PasswordUser {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash(&pw))
        .await
        .expect("hashing does not panic")
}

fn check_username(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(
            "username: 1 to 100 of A-Z a-z 0-9 - _ . @".into(),
        ))
    }
}

fn check_role(role: &str) -> Result<(), AdminError> {
    if role == ROLE {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "role {role:?}: only {ROLE:?} is supported"
        )))
    }
}

/// EMQX's rule for dashboard passwords: 8 to 64 characters, of at least two
/// kinds among letters, digits and other characters.
pub fn check_strength(password: &str) -> Result<(), AdminError> {
    let len = password.chars().count();
    if !(8..=64).contains(&len) {
        return Err(AdminError::Invalid(
            "the password must be 8 to 64 characters long".into(),
        ));
    }
    let kinds = [
        password.chars().any(|c| c.is_alphabetic()),
        password.chars().any(|c| c.is_numeric()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|&&k| k).count() < 2 {
        return Err(AdminError::Invalid(
            "the password must mix at least two of letters, digits and other characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_access::JsonFiles;

    fn dir(what: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("roost-admins-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn the_default_user_is_created_follows_the_config_until_changed_and_persists() {
        let d = dir("default");
        let store: Arc<dyn ObjectStore> = Arc::new(JsonFiles::new(&d));
        let a = Admins::open(store.clone(), "admin", "public").unwrap();
        assert!(a.verify("admin", "public").await);
        assert!(!a.verify("admin", "publik").await);
        assert_eq!(a.with_default_password(), ["admin"]);
        // The config's password is applied again while it was never changed.
        let a = Admins::open(store.clone(), "admin", "s3cret-pw").unwrap();
        assert!(a.verify("admin", "s3cret-pw").await);
        assert!(a.with_default_password().is_empty());
        a.set_password("admin", "n3w-password").await.unwrap();
        assert!(!a.verify("admin", "s3cret-pw").await, "the cache forgets");
        let a = Admins::open(store, "admin", "public").unwrap();
        assert!(
            a.verify("admin", "n3w-password").await,
            "the API's change wins"
        );
        let text = std::fs::read_to_string(d.join("admins.json")).unwrap();
        assert!(!text.contains("n3w-password"), "only a hash is stored");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[tokio::test]
    async fn the_last_user_stays_and_weak_passwords_are_refused() {
        let d = dir("last");
        let a = Admins::open(Arc::new(JsonFiles::new(&d)), "admin", "public").unwrap();
        assert!(matches!(
            a.add("ops", "short1", ROLE, "").await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            a.add("ops", "onlyletters", ROLE, "").await,
            Err(AdminError::Invalid(_))
        ));
        a.add("ops", "letters-and-1", ROLE, "d").await.unwrap();
        assert!(matches!(
            a.add("ops", "letters-and-1", ROLE, "").await,
            Err(AdminError::Exists(_))
        ));
        a.remove("admin").unwrap();
        assert!(matches!(a.remove("ops"), Err(AdminError::LastUser)));
        assert!(matches!(a.remove("nobody"), Err(AdminError::NotFound(_))));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
