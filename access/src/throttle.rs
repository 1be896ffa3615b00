//! Throttling of failed authentication (`authentication_throttle`): failures
//! are counted per client id, per user name and per peer address within
//! `window_time`. Once one of them reaches its limit, CONNECTs that carry it are
//! refused for `block_time` with CONNACK 0x9F Connection rate exceeded (3.1.1:
//! 3 server unavailable) *before* any password is hashed, so a storm of wrong
//! passwords costs no hashing and cannot crowd out the good ones in the
//! hashing pool. A success clears the client id's and user name's counts (not
//! the address's). EMQX 5 has no such limit; the keys are Roost's.

use parking_lot::Mutex;
use roost_core::config::InvalidValue;
use roost_core::hooks::AuthRequest;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// `authentication_throttle.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthnThrottleConfig {
    pub enable: bool,
    /// Failures per client id, and per user name, in a window before they are
    /// blocked.
    pub max_failures: u32,
    /// Failures per peer address in a window before it is blocked (higher: many
    /// devices may share one address behind NAT).
    pub max_failures_per_peerhost: u32,
    /// The window failures are counted in.
    #[serde(with = "roost_core::config::duration")]
    pub window_time: Duration,
    /// How long a client id, user name or address stays blocked.
    #[serde(with = "roost_core::config::duration")]
    pub block_time: Duration,
}

impl Default for AuthnThrottleConfig {
    fn default() -> Self {
        AuthnThrottleConfig {
            enable: true,
            max_failures: 10,
            max_failures_per_peerhost: 100,
            window_time: Duration::from_secs(60),
            block_time: Duration::from_secs(60),
        }
    }
}

impl AuthnThrottleConfig {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let key = |k: &str| format!("authentication_throttle.{k}");
        if self.max_failures == 0 {
            return Err(InvalidValue::new(key("max_failures"), "must be at least 1"));
        }
        if self.max_failures_per_peerhost == 0 {
            return Err(InvalidValue::new(
                key("max_failures_per_peerhost"),
                "must be at least 1",
            ));
        }
        if self.window_time.is_zero() {
            return Err(InvalidValue::new(
                key("window_time"),
                "must be longer than 0s",
            ));
        }
        if self.block_time.is_zero() {
            return Err(InvalidValue::new(
                key("block_time"),
                "must be longer than 0s",
            ));
        }
        Ok(())
    }
}

/// What a count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Clientid(Box<str>),
    Username(Box<str>),
    Peerhost(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Count {
    since: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// The failure counts of one broker.
pub struct AuthnThrottle {
    config: AuthnThrottleConfig,
    counts: Mutex<(HashMap<Key, Count>, Option<Instant>)>,
}

impl AuthnThrottle {
    pub fn new(config: &AuthnThrottleConfig) -> AuthnThrottle {
        AuthnThrottle {
            config: config.clone(),
            counts: Mutex::default(),
        }
    }

    fn keys(req: &AuthRequest) -> impl Iterator<Item = Key> {
        [
            Some(Key::Clientid(Box::from(&*req.client_id))),
            req.username.as_deref().map(|u| Key::Username(Box::from(u))),
            Some(Key::Peerhost(req.peer.addr.ip().to_canonical())),
        ]
        .into_iter()
        .flatten()
    }

    /// Whether this CONNECT is refused unheard: one of its keys is blocked.
    pub fn blocked(&self, req: &AuthRequest) -> bool {
        let now = Instant::now();
        let counts = self.counts.lock();
        Self::keys(req).any(|k| {
            counts
                .0
                .get(&k)
                .and_then(|c| c.blocked_until)
                .is_some_and(|until| until > now)
        })
    }

    /// Notes the outcome of an authentication that was heard.
    pub fn outcome(&self, req: &AuthRequest, failed: bool) {
        let now = Instant::now();
        let window = self.config.window_time;
        let mut guard = self.counts.lock();
        let (counts, swept) = &mut *guard;
        // Ended windows and blocks are dropped once per window: the table
        // holds the last window's failures, no more.
        if swept.is_none_or(|t| now.duration_since(t) >= window) {
            counts.retain(|_, c| {
                now.duration_since(c.since) < window || c.blocked_until.is_some_and(|u| u > now)
            });
            *swept = Some(now);
        }
        for key in Self::keys(req) {
            if !failed {
                if !matches!(key, Key::Peerhost(_)) {
                    counts.remove(&key);
                }
                continue;
            }
            let max = match key {
                Key::Peerhost(_) => self.config.max_failures_per_peerhost,
                _ => self.config.max_failures,
            };
            let c = counts.entry(key.clone()).or_insert(Count {
                since: now,
                failures: 0,
                blocked_until: None,
            });
            if now.duration_since(c.since) >= window && c.blocked_until.is_none_or(|u| u <= now) {
                *c = Count {
                    since: now,
                    failures: 0,
                    blocked_until: None,
                };
            }
            c.failures += 1;
            if c.failures >= max && c.blocked_until.is_none_or(|u| u <= now) {
                c.blocked_until = Some(now + self.config.block_time);
                tracing::warn!(
                    blocked = ?key,
                    failures = c.failures,
                    block_time = ?self.config.block_time,
                    "authn_throttled"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_core::PeerInfo;

    fn req(id: &str, user: &str, ip: &str) -> AuthRequest {
        AuthRequest {
            client_id: id.into(),
            username: Some(user.into()),
            password: None,
            peer: PeerInfo::tcp("tcp", format!("{ip}:1").parse().unwrap()),
            method: None,
            data: None,
            reauthenticate: false,
        }
    }

    #[test]
    fn failures_block_each_key_and_success_clears_ids() {
        let t = AuthnThrottle::new(&AuthnThrottleConfig {
            max_failures: 3,
            max_failures_per_peerhost: 5,
            ..Default::default()
        });
        let bad = req("c", "u", "10.0.0.1");
        for _ in 0..2 {
            t.outcome(&bad, true);
        }
        assert!(!t.blocked(&bad));
        t.outcome(&bad, true);
        assert!(t.blocked(&bad));
        // Another client id of the same user is blocked too; another user of
        // another id from the same address is not (yet).
        assert!(t.blocked(&req("c2", "u", "10.0.0.2")));
        assert!(!t.blocked(&req("c2", "u2", "10.0.0.1")));
        t.outcome(&req("c3", "u3", "10.0.0.1"), true);
        t.outcome(&req("c4", "u4", "10.0.0.1"), true);
        assert!(
            t.blocked(&req("c5", "u5", "10.0.0.1")),
            "5 from one address"
        );
        // A success clears the ids, not the address.
        let fresh = AuthnThrottle::new(&AuthnThrottleConfig {
            max_failures: 2,
            ..Default::default()
        });
        fresh.outcome(&bad, true);
        fresh.outcome(&bad, false);
        fresh.outcome(&bad, true);
        assert!(!fresh.blocked(&bad));
    }
}
