//! `http.*`: the HTTP listener and who may call it. The names are EMQX 5's
//! `dashboard.*` keys where EMQX has one (`default_username`,
//! `default_password`, `token_expired_time`, `unsuccessful_login_*`); the TLS
//! keys under `http.ssl` are those of the MQTT TLS listener
//! (`listeners.tls.*`), with the same values.

use roost_core::config::{tls_versions, InvalidValue, TlsVersion, Verify};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The password EMQX and Roost ship with. While a user still has it, it is
/// refused from anywhere but loopback.
pub const DEFAULT_PASSWORD: &str = "public";

/// `http.*`: the REST API, the dashboard and the actor-tree page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// Address of the HTTP listener (EMQX's dashboard port).
    pub bind: String,
    /// The dashboard user created when there is none (EMQX's
    /// `dashboard.default_username`).
    pub default_username: String,
    /// Its password, applied while it was never changed through the API
    /// (EMQX's `dashboard.default_password`).
    pub default_password: String,
    /// How long a token of `POST /api/v5/login` is valid (EMQX's
    /// `dashboard.token_expired_time`).
    #[serde(with = "roost_core::config::duration")]
    pub token_expired_time: Duration,
    /// Failed logins of one user name, or from one address, within
    /// `unsuccessful_login_interval` that lock it.
    pub unsuccessful_login_max_attempts: u32,
    #[serde(with = "roost_core::config::duration")]
    pub unsuccessful_login_interval: Duration,
    /// How long a lock lasts.
    #[serde(with = "roost_core::config::duration")]
    pub unsuccessful_login_lock_duration: Duration,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_size: usize,
    pub ssl: HttpSslConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            bind: "127.0.0.1:18083".into(),
            default_username: "admin".into(),
            default_password: DEFAULT_PASSWORD.into(),
            token_expired_time: Duration::from_secs(60 * 60),
            unsuccessful_login_max_attempts: 5,
            unsuccessful_login_interval: Duration::from_secs(5 * 60),
            unsuccessful_login_lock_duration: Duration::from_secs(10 * 60),
            max_body_size: 1024 * 1024,
            ssl: HttpSslConfig::default(),
        }
    }
}

/// `http.ssl.*`: HTTPS on the same listener, with the keys of `listeners.tls`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSslConfig {
    /// Serve HTTPS instead of plain HTTP on `http.bind`.
    pub enable: bool,
    /// PEM file with the server certificate (and its chain).
    pub certfile: String,
    /// PEM file with the server's private key.
    pub keyfile: String,
    /// PEM file with the CA certificates client certificates must chain to.
    pub cacertfile: String,
    pub verify: Verify,
    /// Accepted TLS versions; in the environment a comma-separated list.
    #[serde(deserialize_with = "tls_versions")]
    pub versions: Vec<TlsVersion>,
    #[serde(with = "roost_core::config::duration")]
    pub handshake_timeout: Duration,
}

impl Default for HttpSslConfig {
    fn default() -> Self {
        HttpSslConfig {
            enable: false,
            certfile: String::new(),
            keyfile: String::new(),
            cacertfile: String::new(),
            verify: Verify::None,
            versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
            handshake_timeout: Duration::from_secs(15),
        }
    }
}

impl HttpConfig {
    /// What serde cannot check; each error names its key.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let nonzero = |key: &str, d: Duration| {
            if d.is_zero() {
                Err(InvalidValue::new(
                    format!("http.{key}"),
                    "must be longer than 0s",
                ))
            } else {
                Ok(())
            }
        };
        if self.default_username.is_empty() {
            return Err(InvalidValue::new(
                "http.default_username",
                "must not be empty",
            ));
        }
        if self.default_password.is_empty() {
            return Err(InvalidValue::new(
                "http.default_password",
                "must not be empty",
            ));
        }
        nonzero("token_expired_time", self.token_expired_time)?;
        nonzero(
            "unsuccessful_login_interval",
            self.unsuccessful_login_interval,
        )?;
        nonzero(
            "unsuccessful_login_lock_duration",
            self.unsuccessful_login_lock_duration,
        )?;
        if self.unsuccessful_login_max_attempts == 0 {
            return Err(InvalidValue::new(
                "http.unsuccessful_login_max_attempts",
                "must be at least 1",
            ));
        }
        if self.max_body_size < 1024 {
            return Err(InvalidValue::new(
                "http.max_body_size",
                "must be at least 1024 bytes",
            ));
        }
        let ssl = &self.ssl;
        if ssl.versions.is_empty() {
            return Err(InvalidValue::new(
                "http.ssl.versions",
                "must name at least one TLS version",
            ));
        }
        nonzero("ssl.handshake_timeout", ssl.handshake_timeout)?;
        if !ssl.enable {
            return Ok(());
        }
        for (key, value) in [("certfile", &ssl.certfile), ("keyfile", &ssl.keyfile)] {
            if value.is_empty() {
                return Err(InvalidValue::new(
                    format!("http.ssl.{key}"),
                    "a PEM file is required when http.ssl.enable is true",
                ));
            }
        }
        if ssl.verify != Verify::None && ssl.cacertfile.is_empty() {
            return Err(InvalidValue::new(
                "http.ssl.cacertfile",
                "a PEM file of CA certificates is required when verify is optional or required",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert_eq!(HttpConfig::default().validate(), Ok(()));
        let bad = |f: fn(&mut HttpConfig)| {
            let mut c = HttpConfig::default();
            f(&mut c);
            c.validate().unwrap_err().key
        };
        assert_eq!(
            bad(|c| c.token_expired_time = Duration::ZERO),
            "http.token_expired_time"
        );
        assert_eq!(
            bad(|c| c.unsuccessful_login_max_attempts = 0),
            "http.unsuccessful_login_max_attempts"
        );
        assert_eq!(bad(|c| c.max_body_size = 10), "http.max_body_size");
        assert_eq!(bad(|c| c.default_password.clear()), "http.default_password");
        assert_eq!(bad(|c| c.ssl.enable = true), "http.ssl.certfile");
        assert_eq!(
            bad(|c| {
                c.ssl.enable = true;
                c.ssl.certfile = "c.pem".into();
                c.ssl.keyfile = "k.pem".into();
                c.ssl.verify = Verify::Required;
            }),
            "http.ssl.cacertfile"
        );
    }
}
