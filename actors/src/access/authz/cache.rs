//! The per-client authorization cache (EMQX's `authorization.cache`): decisions
//! by (action, topic), each kept for `ttl`, at most `max_size` of them (the
//! oldest is dropped first). It lives in the connection, so a rule changed
//! through the API reaches a connected client within `ttl`.

use super::rule::Action;
use crate::access::config::{AuthzCacheConfig, Permission};
use std::collections::HashMap;
use std::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
