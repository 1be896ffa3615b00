//! Access control, EMQX's `client.authenticate` and `client.authorize` hooks:
//! banned clients, the authentication chain ([`authn`]), authorization
//! ([`authz`]), and the tables behind them (users, built-in rules, bans) kept
//! in `node.data_dir` ([`store`]).
//!
//! The connection calls three things: [`Access::check_banned`] and
//! [`authn::Chain::start`] on CONNECT, and [`ClientAccess::authorize`] for each
//! PUBLISH, each SUBSCRIBE filter and the will. Everything else (the REST API,
//! `roost ctl`) edits the tables.

pub mod authn;
pub mod authz;
pub mod banned;
pub mod config;
pub mod http;
pub mod store;

use crate::config::Config;
use crate::connection::{ConnHandle, ConnId, ConnMsg, PeerInfo};
use authn::password::PasswordUser;
use authn::scram::ScramUser;
use authz::builtin::BuiltInRules;
use authz::rule::{Action, Rule};
use banned::BannedTable;
use config::Permission;
use roost_core::authz::AclCache;
use roost_protocol::ReasonCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use store::Table;

/// The user tables of the built-in authenticators (`<data_dir>/users.json`), by
/// authenticator id, as EMQX's API names them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Users {
    #[serde(rename = "password_based:built_in_database", default)]
    pub password: BTreeMap<String, PasswordUser>,
    #[serde(rename = "scram:built_in_database", default)]
    pub scram: BTreeMap<String, ScramUser>,
}

/// Who a connected client is, for authorization.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub client_id: Arc<str>,
    pub username: Option<String>,
    pub peer: PeerInfo,
    pub superuser: bool,
    /// The client's own rules (a JWT's `acl` claim).
    pub acl: Arc<[Rule]>,
}

/// A connected client, for kicking it when a ban is added.
struct LiveClient {
    username: Option<String>,
    peer: PeerInfo,
    conn: Arc<ConnHandle>,
}

/// Access control of one broker: shared by every connection and the REST API.
pub struct Access {
    pub chain: authn::Chain,
    pub authorizer: authz::Authorizer,
    pub users: Arc<Table<Users>>,
    pub rules: Arc<Table<BuiltInRules>>,
    pub banned: Table<BannedTable>,
    /// Which authenticators are configured (by id), for the users API.
    pub authenticator_ids: Vec<&'static str>,
    /// The hash settings new users of `password_based:built_in_database` get.
    pub password_hash: Option<config::PasswordHashConfig>,
    /// PBKDF2 rounds of new SCRAM users.
    pub scram_iterations: Option<u32>,
    live: dashmap::DashMap<Arc<str>, LiveClient>,
}

/// Checks the access configuration without opening the tables (for
/// `roost check-config`): the error is `key: problem`.
pub fn validate(config: &Config) -> Result<(), String> {
    authn::build(&config.authentication)?;
    authz::build(&config.authorization)?;
    if config.authorization.cache.enabled && config.authorization.cache.ttl.is_zero() {
        return Err(
            "authorization.cache.ttl: must be longer than 0s when the cache is enabled".into(),
        );
    }
    Ok(())
}

impl Access {
    /// Builds access control from the configuration and the tables in
    /// `node.data_dir`. The error names the key or file at fault.
    pub fn new(config: &Config) -> Result<Access, String> {
        let dir = Path::new(&config.node.data_dir);
        let users = Arc::new(Table::open(dir, "users").map_err(|e| e.to_string())?);
        let rules = Arc::new(Table::open(dir, "acl").map_err(|e| e.to_string())?);
        let banned = Table::open(dir, "banned").map_err(|e| e.to_string())?;
        let chain = authn::Chain::new(
            &config.authentication,
            config.allow_anonymous,
            users.clone(),
        )?;
        let authorizer = authz::Authorizer::new(&config.authorization, rules.clone())?;
        let mut password_hash = None;
        let mut scram_iterations = None;
        for a in &config.authentication {
            match a {
                config::AuthenticatorConfig::PasswordBased(
                    config::PasswordBackend::BuiltInDatabase(b),
                ) => password_hash = Some(b.password_hash_algorithm.clone()),
                config::AuthenticatorConfig::Scram(s) => scram_iterations = Some(s.iteration_count),
                _ => {}
            }
        }
        Ok(Access {
            chain,
            authorizer,
            users,
            rules,
            banned,
            authenticator_ids: config.authentication.iter().map(|a| a.id()).collect(),
            password_hash,
            scram_iterations,
            live: dashmap::DashMap::new(),
        })
    }

    /// Whether a ban covers this CONNECT (checked before authentication).
    pub fn check_banned(&self, client_id: &str, username: Option<&str>, peer: &PeerInfo) -> bool {
        self.banned
            .read(|t| t.is_banned(client_id, username, peer.addr.ip()))
    }

    /// Records a client that completed CONNECT.
    pub fn connected(&self, info: &ClientInfo, conn: Arc<ConnHandle>) {
        self.live.insert(
            info.client_id.clone(),
            LiveClient {
                username: info.username.clone(),
                peer: info.peer.clone(),
                conn,
            },
        );
    }

    /// Forgets a client whose connection ended (unless a newer one took its id).
    pub fn disconnected(&self, client_id: &str, conn: ConnId) {
        self.live.remove_if(client_id, |_, l| l.conn.id == conn);
    }

    /// Kicks every connected client a ban now covers; returns how many. 5.0
    /// clients get DISCONNECT 0x98 Administrative action, as EMQX's kick (0x8A
    /// Banned is a CONNACK code only).
    pub fn kick_banned(&self) -> usize {
        let mut kicked = 0;
        for l in self.live.iter() {
            if self.check_banned(l.key(), l.username.as_deref(), &l.peer) {
                l.conn.cast(ConnMsg::Kick {
                    reason: ReasonCode::AdministrativeAction,
                    reply: None,
                });
                kicked += 1;
            }
        }
        kicked
    }
}

/// A CONNECT waiting for the client's next AUTH.
pub struct PendingAuth {
    pub scram: Box<authn::scram::ServerFirst>,
    pub connect: roost_protocol::Connect,
    pub accepted: crate::connection::channel::Accepted,
}

/// A connection's access state: who the client is once authenticated, its
/// decision cache, and an enhanced authentication in progress.
#[derive(Default)]
pub struct ClientAccess {
    pub info: Option<ClientInfo>,
    cache: AclCache,
    /// SCRAM between server-first and client-final.
    pub pending: Option<Box<PendingAuth>>,
    /// The Authentication Method the client connected with.
    pub method: Option<String>,
    /// A re-authentication between server-first and client-final.
    pub reauth: Option<Box<authn::scram::ServerFirst>>,
    /// The will's topic, authorized when the will becomes due.
    pub will_topic: Option<String>,
    /// Indexes of the filters of the SUBSCRIBE with the session that
    /// authorization refused, for its SUBACK.
    pub denied_filters: Vec<usize>,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    /// Nothing to check: no sources, `no_match: allow`, no client rules.
    Skipped,
    Checked {
        allowed: bool,
        cached: bool,
    },
}

impl ClientAccess {
    /// Whether the client may do `action` on `topic` (a topic name for publish,
    /// a filter for subscribe; a shared subscription is checked on its filter
    /// without the `$share/<group>/` prefix).
    pub async fn authorize(
        &mut self,
        access: &Access,
        action: Action,
        topic: &str,
    ) -> AuthDecision {
        match self.authorize_now(access, action, topic) {
            Ok(d) => d,
            Err(at) => self.authorize_from(access, at, action, topic).await,
        }
    }

    /// [`Self::authorize`] when the decision needs no await: nothing to check,
    /// a cached decision, or one the client's rules, the ACL file or the
    /// built-in rules make. `Err(i)` when HTTP source `i` must be asked: finish
    /// with [`Self::authorize_from`].
    pub fn authorize_now(
        &mut self,
        access: &Access,
        action: Action,
        topic: &str,
    ) -> Result<AuthDecision, usize> {
        let Some(info) = &self.info else {
            return Ok(AuthDecision::Skipped);
        };
        let authz = &access.authorizer;
        if authz.allows_everything() && info.acl.is_empty() {
            return Ok(AuthDecision::Skipped);
        }
        let topic = real_topic(topic);
        let cfg = &authz.config.cache;
        if let Some(p) = self.cache.get(cfg, action, topic) {
            return Ok(AuthDecision::Checked {
                allowed: p == Permission::Allow,
                cached: true,
            });
        }
        let p = authz.decide_now(info, action, topic)?;
        self.cache.put(cfg, action, topic, p);
        Ok(AuthDecision::Checked {
            allowed: p == Permission::Allow,
            cached: false,
        })
    }

    /// Finishes a check [`Self::authorize_now`] stopped at source `at`.
    pub async fn authorize_from(
        &mut self,
        access: &Access,
        at: usize,
        action: Action,
        topic: &str,
    ) -> AuthDecision {
        let Some(info) = &self.info else {
            return AuthDecision::Skipped;
        };
        let authz = &access.authorizer;
        let topic = real_topic(topic);
        let p = authz.decide_from(at, info, action, topic).await;
        self.cache.put(&authz.config.cache, action, topic, p);
        AuthDecision::Checked {
            allowed: p == Permission::Allow,
            cached: false,
        }
    }
}

/// `$share/<group>/t/#` and `$queue/t/#` are authorized as `t/#`.
fn real_topic(filter: &str) -> &str {
    if let Some(rest) = filter.strip_prefix("$share/") {
        rest.split_once('/').map_or(filter, |(_, f)| f)
    } else if let Some(rest) = filter.strip_prefix("$queue/") {
        rest
    } else {
        filter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_filters_are_checked_without_their_prefix() {
        assert_eq!(real_topic("$share/g/t/#"), "t/#");
        assert_eq!(real_topic("$queue/t/1"), "t/1");
        assert_eq!(real_topic("t/1"), "t/1");
    }
}
