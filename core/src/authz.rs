//! The words of authorization that the runtime and access control share:
//! what a client does ([`Action`]), a decision ([`Permission`]), what a denial
//! does to the connection ([`DenyAction`]), and the per-client decision cache
//! ([`AclCache`], EMQX's `authorization.cache`). The cache lives in the
//! connection, so a rule changed through the API reaches a connected client
//! within `ttl`; the rules themselves are access control's (crate roost-access).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the client is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Publish,
    Subscribe,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Subscribe => "subscribe",
        }
    }
}

/// A decision; also what happens when no rule matched (`no_match`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    #[default]
    Allow,
    Deny,
}

/// What a denied publish or subscribe does to the connection.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DenyAction {
    /// Refuse the one packet (PUBACK/PUBREC/SUBACK 0x87).
    #[default]
    Ignore,
    /// Close the connection (DISCONNECT 0x87 for 5.0).
    Disconnect,
}

/// `authorization.cache.*`: per-client decision cache.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthzCacheConfig {
    pub enabled: bool,
    pub max_size: usize,
    #[serde(with = "crate::config::duration")]
    pub ttl: Duration,
}

impl Default for AuthzCacheConfig {
    /// EMQX 5 defaults.
    fn default() -> Self {
        AuthzCacheConfig {
            enabled: true,
            max_size: 32,
            ttl: Duration::from_secs(60),
        }
    }
}

/// What the runtime itself does with authorization (EMQX keeps these in its
/// core schema; the sources that decide are access control's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthzPolicy {
    pub deny_action: DenyAction,
    pub cache: AuthzCacheConfig,
}

/// One client's cached decisions.
#[derive(Debug, Default)]
pub struct AclCache {
    entries: HashMap<(Action, String), (Permission, Instant)>,
}

impl AclCache {
    /// A decision younger than the ttl.
    pub fn get(
        &mut self,
        cfg: &AuthzCacheConfig,
        action: Action,
        topic: &str,
    ) -> Option<Permission> {
        if !cfg.enabled {
            return None;
        }
        let key = (action, topic.to_string());
        match self.entries.get(&key) {
            Some((p, at)) if at.elapsed() < cfg.ttl => Some(*p),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn put(&mut self, cfg: &AuthzCacheConfig, action: Action, topic: &str, p: Permission) {
        if !cfg.enabled || cfg.max_size == 0 {
            return;
        }
        if self.entries.len() >= cfg.max_size {
            let now = Instant::now();
            self.entries
                .retain(|_, (_, at)| now.duration_since(*at) < cfg.ttl);
            if self.entries.len() >= cfg.max_size {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries
            .insert((action, topic.to_string()), (p, Instant::now()));
    }
}

/// The topic a filter is authorized as: `$share/<group>/t/#` and
/// `$queue/t/#` as `t/#` (EMQX authorizes the real topic filter).
pub fn authorized_topic(filter: &str) -> &str {
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
    fn shared_filters_are_authorized_without_their_prefix() {
        assert_eq!(authorized_topic("$share/g/t/#"), "t/#");
        assert_eq!(authorized_topic("$queue/t/1"), "t/1");
        assert_eq!(authorized_topic("t/1"), "t/1");
    }

    #[test]
    fn bounded_and_expiring() {
        let cfg = AuthzCacheConfig {
            enabled: true,
            max_size: 2,
            ttl: Duration::from_secs(60),
        };
        let mut c = AclCache::default();
        c.put(&cfg, Action::Publish, "a", Permission::Allow);
        c.put(&cfg, Action::Publish, "b", Permission::Deny);
        c.put(&cfg, Action::Publish, "c", Permission::Deny);
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.get(&cfg, Action::Publish, "a"), None, "oldest dropped");
        assert_eq!(c.get(&cfg, Action::Publish, "c"), Some(Permission::Deny));
        assert_eq!(c.get(&cfg, Action::Subscribe, "c"), None);
        let expired = AuthzCacheConfig {
            ttl: Duration::ZERO,
            ..cfg
        };
        assert_eq!(c.get(&expired, Action::Publish, "c"), None);
    }
}
