//! roost-access: access control, EMQX's `client.authenticate` and
//! `client.authorize` hooks: banned clients ([`banned`]), the authentication
//! chain ([`authn`]), authorization ([`authz`]), and the tables behind them
//! (users, built-in rules, bans) kept in a [`roost_core::storage::ObjectStore`]
//! ([`store`]; JSON files in `node.data_dir` today).
//!
//! The broker does not call this crate by name: [`Access::register`] attaches
//! it at roost-core's hook points (see [`hooks`]), and only at the points the
//! configuration gives it something to do there, so a broker without access
//! control pays nothing on CONNECT or PUBLISH. Everything else (the REST API,
//! `roost ctl`) edits the tables through [`Access`]'s fields; bans go through
//! `BrokerApi::ban`, given the banned table as the broker's ban list
//! ([`Access::ban_list`]), so a new ban also closes the connections it covers.

pub mod authn;
pub mod authz;
pub mod banned;
pub mod config;
pub mod external;
pub mod flapping;
pub mod hooks;
pub mod http;
pub mod store;
pub mod throttle;

use authn::password::PasswordUser;
use authn::scram::ScramUser;
use authz::builtin::BuiltInRules;
use banned::BannedTable;
use config::{AuthenticatorConfig, AuthorizationConfig};
use roost_core::banned::{BanEntry, BanError, BanKind, BanList};
use roost_core::storage::ObjectStore;
use roost_core::{ClientInfo, PeerInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::Table;

pub use store::{JsonFiles, StoreError};

/// The user tables of the built-in authenticators (the `users` document), by
/// authenticator id, as EMQX's API names them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Users {
    #[serde(rename = "password_based:built_in_database", default)]
    pub password: BTreeMap<String, PasswordUser>,
    #[serde(rename = "scram:built_in_database", default)]
    pub scram: BTreeMap<String, ScramUser>,
}

/// Access control of one broker: shared by the hooks and the REST API.
pub struct Access {
    pub chain: Arc<authn::Chain>,
    pub authorizer: Arc<authz::Authorizer>,
    pub users: Arc<Table<Users>>,
    pub rules: Arc<Table<BuiltInRules>>,
    pub banned: Table<BannedTable>,
    /// Which authenticators are configured (by id), for the users API.
    pub authenticator_ids: Vec<&'static str>,
    /// The hash settings new users of `password_based:built_in_database` get.
    pub password_hash: Option<config::PasswordHashConfig>,
    /// PBKDF2 rounds of new SCRAM users.
    pub scram_iterations: Option<u32>,
    /// `flapping_detect`, when enabled.
    pub flapping: Option<flapping::FlappingDetector>,
    /// `authentication_throttle`, when enabled.
    pub throttle: Option<Arc<throttle::AuthnThrottle>>,
}

/// Checks the access configuration without opening the tables (for
/// `roost check-config`): the error is `key: problem`.
pub fn validate(
    authentication: &[AuthenticatorConfig],
    authorization: &AuthorizationConfig,
) -> Result<(), String> {
    authn::build(authentication)?;
    authz::build(authorization)?;
    if authorization.cache.enabled && authorization.cache.ttl.is_zero() {
        return Err(
            "authorization.cache.ttl: must be longer than 0s when the cache is enabled".into(),
        );
    }
    Ok(())
}

impl Access {
    /// Builds access control from its configuration sections and the tables
    /// in `store` (the documents `users`, `acl` and `banned`). The error names
    /// the key or file at fault.
    pub fn new(
        authentication: &[AuthenticatorConfig],
        allow_anonymous: Option<bool>,
        authorization: &AuthorizationConfig,
        guards: &config::Guards,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Arc<Access>, String> {
        let users = Arc::new(Table::open(store.clone(), "users").map_err(|e| e.to_string())?);
        let rules = Arc::new(Table::open(store.clone(), "acl").map_err(|e| e.to_string())?);
        let banned = Table::open(store, "banned").map_err(|e| e.to_string())?;
        let chain = authn::Chain::new(authentication, allow_anonymous, users.clone())?;
        let authorizer = authz::Authorizer::new(authorization, rules.clone())?;
        let mut password_hash = None;
        let mut scram_iterations = None;
        for a in authentication {
            match a {
                AuthenticatorConfig::PasswordBased(config::PasswordBackend::BuiltInDatabase(b)) => {
                    password_hash = Some(b.password_hash_algorithm.clone())
                }
                AuthenticatorConfig::Scram(s) => scram_iterations = Some(s.iteration_count),
                _ => {}
            }
        }
        Ok(Arc::new(Access {
            chain: Arc::new(chain),
            authorizer: Arc::new(authorizer),
            users,
            rules,
            banned,
            authenticator_ids: authentication.iter().map(|a| a.id()).collect(),
            password_hash,
            scram_iterations,
            flapping: guards
                .flapping_detect
                .enable
                .then(|| flapping::FlappingDetector::new(&guards.flapping_detect)),
            throttle: guards.authentication_throttle.enable.then(|| {
                Arc::new(throttle::AuthnThrottle::new(
                    &guards.authentication_throttle,
                ))
            }),
        }))
    }

    /// Whether a ban covers this client (checked on CONNECT, before
    /// authentication, by `client.connect`).
    pub fn check_banned(&self, client_id: &str, username: Option<&str>, peer: &PeerInfo) -> bool {
        self.banned
            .read(|t| t.is_banned(client_id, username, peer.addr.ip()))
    }

    /// The banned table as the broker's ban list (`Seams.bans`).
    pub fn ban_list(self: &Arc<Self>) -> Arc<dyn BanList> {
        Arc::new(BanTable(self.clone()))
    }
}

/// [`Access`]'s banned table as a [`BanList`] (see [`Access::ban_list`]).
struct BanTable(Arc<Access>);

impl BanList for BanTable {
    fn put(&self, entry: BanEntry) -> Result<(), BanError> {
        self.0.banned.put(entry)
    }

    fn remove(&self, kind: BanKind, who: &str) -> Result<bool, BanError> {
        BanList::remove(&self.0.banned, kind, who)
    }

    fn list(&self) -> Vec<BanEntry> {
        self.0.banned.list()
    }

    fn covering(&self) -> Box<dyn Fn(&ClientInfo) -> bool + Send + Sync> {
        self.0.banned.covering()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_key() {
        let mut authz = AuthorizationConfig::default();
        authz.cache.ttl = std::time::Duration::ZERO;
        assert_eq!(
            validate(&[], &authz).unwrap_err(),
            "authorization.cache.ttl: must be longer than 0s when the cache is enabled"
        );
        authz.cache.enabled = false;
        assert!(validate(&[], &authz).is_ok());
        let jwt = AuthenticatorConfig::Jwt(config::JwtConfig::default());
        assert_eq!(
            validate(std::slice::from_ref(&jwt), &authz).unwrap_err(),
            "authentication[0].secret: must be set for algorithm hmac-based"
        );
        let scram = AuthenticatorConfig::Scram(config::ScramConfig::default());
        assert_eq!(
            validate(&[scram.clone(), scram], &authz).unwrap_err(),
            "authentication[1]: a second scram:built_in_database authenticator"
        );
    }
}
