//! Salted password hashes of the built-in user database: argon2id (the default),
//! pbkdf2 (HMAC-SHA256), bcrypt, and sha256 with the salt before or after the
//! password (EMQX's `salt_position`). Each user keeps the algorithm it was
//! hashed with, so changing `password_hash_algorithm` only affects new users.

use crate::config::{HashName, PasswordHashConfig, SaltPosition};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A user of `password_based:built_in_database`, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordUser {
    pub algorithm: HashName,
    /// Hex digest, or the whole `$2b$...` string for bcrypt.
    pub password_hash: String,
    /// Random text; its bytes are the salt (as EMQX stores it).
    pub salt: String,
    #[serde(default)]
    pub salt_position: SaltPosition,
    #[serde(default)]
    pub iterations: u32,
    #[serde(default)]
    pub is_superuser: bool,
}

/// Random salt text: 16 bytes as 32 hex digits.
pub fn new_salt() -> String {
    hex(&rand::random::<[u8; 16]>())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes `password` for a new user with the configured algorithm.
pub fn hash(cfg: &PasswordHashConfig, password: &[u8], is_superuser: bool) -> PasswordUser {
    let salt = new_salt();
    let mut user = PasswordUser {
        algorithm: cfg.name,
        password_hash: String::new(),
        salt,
        salt_position: cfg.salt_position,
        iterations: cfg.iterations,
        is_superuser,
    };
    user.password_hash = match cfg.name {
        HashName::Bcrypt => {
            let salt: [u8; 16] = rand::random();
            bcrypt::hash_with_salt(password, cfg.salt_rounds, salt)
                .map(|h| h.format_for_version(bcrypt::Version::TwoB))
                .expect("bcrypt cost is checked at start-up")
        }
        _ => digest(&user, password),
    };
    user
}

/// Whether `password` is the user's (constant-time comparison).
pub fn verify(user: &PasswordUser, password: &[u8]) -> bool {
    match user.algorithm {
        HashName::Bcrypt => bcrypt::verify(password, &user.password_hash).unwrap_or(false),
        _ => digest(user, password)
            .as_bytes()
            .ct_eq(user.password_hash.as_bytes())
            .into(),
    }
}

fn digest(user: &PasswordUser, password: &[u8]) -> String {
    let salt = user.salt.as_bytes();
    match user.algorithm {
        HashName::Argon2id => {
            let mut out = [0u8; 32];
            argon2::Argon2::default()
                .hash_password_into(password, salt, &mut out)
                .expect("argon2 accepts a 32-byte salt and output");
            hex(&out)
        }
        HashName::Pbkdf2 => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, user.iterations.max(1), &mut out);
            hex(&out)
        }
        HashName::Sha256 => {
            let mut h = Sha256::new();
            match user.salt_position {
                SaltPosition::Prefix => {
                    h.update(salt);
                    h.update(password);
                }
                SaltPosition::Suffix => {
                    h.update(password);
                    h.update(salt);
                }
                SaltPosition::Disable => h.update(password),
            }
            hex(&h.finalize())
        }
        HashName::Bcrypt => unreachable!("bcrypt keeps its own format"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_verifies_its_own_hash_only() {
        for name in [
            HashName::Argon2id,
            HashName::Pbkdf2,
            HashName::Bcrypt,
            HashName::Sha256,
        ] {
            for salt_position in [
                SaltPosition::Prefix,
                SaltPosition::Suffix,
                SaltPosition::Disable,
            ] {
                let cfg = PasswordHashConfig {
                    name,
                    salt_position,
                    iterations: 10,
                    salt_rounds: 4,
                };
                let user = hash(&cfg, b"secret", false);
                assert!(verify(&user, b"secret"), "{name:?}");
                assert!(!verify(&user, b"secret2"), "{name:?}");
                assert!(!verify(&user, b""), "{name:?}");
            }
        }
    }

    #[test]
    fn sha256_with_prefix_salt_is_emqx_compatible() {
        // sha256("salt" ++ "pass"), as EMQX computes it with salt_position prefix.
        let user = PasswordUser {
            algorithm: HashName::Sha256,
            password_hash: "".into(),
            salt: "salt".into(),
            salt_position: SaltPosition::Prefix,
            iterations: 0,
            is_superuser: false,
        };
        assert_eq!(digest(&user, b"pass"), hex(&Sha256::digest(b"saltpass")));
    }
}
