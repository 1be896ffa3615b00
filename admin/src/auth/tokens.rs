//! Bearer tokens of `POST /api/v5/login` (EMQX's dashboard tokens): random,
//! opaque, valid for `http.token_expired_time`, revoked by logout, by a new
//! password and by deleting the user. Kept in memory: a restart logs
//! everybody out.

use base64::Engine as _;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Issued {
    username: String,
    expires: Instant,
}

/// Why a token was not accepted (EMQX's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// `TOKEN_TIME_OUT`: it was valid, and has expired.
    Expired,
    /// `BAD_TOKEN`: never issued, or revoked.
    Unknown,
}

pub struct Tokens {
    ttl: Duration,
    issued: Mutex<HashMap<String, Issued>>,
}

impl Tokens {
    pub fn new(ttl: Duration) -> Tokens {
        Tokens {
            ttl,
            issued: Mutex::default(),
        }
    }

    /// A new token for `username`, valid from `now` for the configured time.
    pub fn issue(&self, username: &str, now: Instant) -> String {
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let mut issued = self.issued.lock();
        issued.retain(|_, t| t.expires > now);
        issued.insert(
            token.clone(),
            Issued {
                username: username.into(),
                expires: now + self.ttl,
            },
        );
        token
    }

    /// The user a token was issued to, if it is still valid at `now`.
    pub fn check(&self, token: &str, now: Instant) -> Result<String, TokenError> {
        let mut issued = self.issued.lock();
        match issued.get(token) {
            None => Err(TokenError::Unknown),
            Some(t) if t.expires <= now => {
                issued.remove(token);
                Err(TokenError::Expired)
            }
            Some(t) => Ok(t.username.clone()),
        }
    }

    /// Logout: revokes `token` if it is `username`'s.
    pub fn revoke(&self, username: &str, token: &str) -> bool {
        let mut issued = self.issued.lock();
        if issued.get(token).is_some_and(|t| t.username == username) {
            issued.remove(token);
            true
        } else {
            false
        }
    }

    /// Revokes every token of `username`.
    pub fn revoke_user(&self, username: &str) {
        self.issued.lock().retain(|_, t| t.username != username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_until_it_expires_or_is_revoked() {
        let tokens = Tokens::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let a = tokens.issue("admin", t0);
        let b = tokens.issue("admin", t0);
        assert_ne!(a, b);
        assert_eq!(tokens.check(&a, t0), Ok("admin".into()));
        assert_eq!(
            tokens.check(&a, t0 + Duration::from_secs(60)),
            Err(TokenError::Expired)
        );
        assert_eq!(tokens.check(&a, t0), Err(TokenError::Unknown), "forgotten");
        assert!(!tokens.revoke("other", &b), "only its owner logs it out");
        assert!(tokens.revoke("admin", &b));
        assert_eq!(tokens.check(&b, t0), Err(TokenError::Unknown));
        let c = tokens.issue("ops", t0);
        tokens.revoke_user("ops");
        assert_eq!(tokens.check(&c, t0), Err(TokenError::Unknown));
    }
}
