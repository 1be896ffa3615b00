//! Authentication: an ordered chain of authenticators, as EMQX's. Each one
//! answers allow, deny, or ignore (it does not know the client); the first
//! allow or deny decides, and a client every authenticator ignored is let in
//! only with `allow_anonymous`. A CONNECT with an Authentication Method (MQTT
//! 5.0 enhanced authentication) goes to the `scram` authenticator alone.

pub mod jwt;
pub mod password;
pub mod scram;

use super::config::{AuthenticatorConfig, CertConfig, CertMatch, PasswordBackend, UserIdType};
use super::http::{Endpoint, Verdict};
use super::store::Table;
use super::{authz::rule::Rule, Users};
use crate::connection::PeerInfo;
use roost_protocol::{Auth, Properties, PropertyValues, ReasonCode};
use std::sync::Arc;

/// What the chain found out about a client it let in.
#[derive(Debug, Default, Clone)]
pub struct Identity {
    /// Bypasses authorization (EMQX's `is_superuser`).
    pub superuser: bool,
    /// The client's own ACL (a JWT's `acl` claim), checked before the sources.
    pub acl: Vec<Rule>,
    /// The user name SCRAM authenticated, when CONNECT carried none.
    pub username: Option<String>,
}

/// One authenticator's answer.
enum Answer {
    Allow(Identity),
    Deny(ReasonCode),
    Ignore,
}

/// What CONNECT carries for authentication.
pub struct Credentials<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub peer: &'a PeerInfo,
}

/// The result of starting authentication.
pub enum Started {
    Done(Result<Identity, ReasonCode>),
    /// Enhanced authentication goes on: send this AUTH, wait for the client's.
    Continue(Box<Auth>, Box<scram::ServerFirst>),
}

pub(crate) enum Authenticator {
    BuiltIn(UserIdType),
    Http(Endpoint),
    Jwt(jwt::JwtAuthn),
    Cert(CertConfig),
    Scram,
}

/// The configured chain.
pub struct Chain {
    authenticators: Vec<Authenticator>,
    allow_anonymous: bool,
    users: Arc<Table<Users>>,
    /// Password checks at once, at most: one per core. argon2id takes 19 MiB per
    /// check, so a burst of CONNECTs must queue here rather than fill memory.
    hashing: tokio::sync::Semaphore,
}

impl Chain {
    /// Builds the chain; an error names the entry (`authentication[1].secret: ...`).
    pub fn new(
        configs: &[AuthenticatorConfig],
        allow_anonymous: Option<bool>,
        users: Arc<Table<Users>>,
    ) -> Result<Chain, String> {
        Ok(Chain {
            allow_anonymous: allow_anonymous.unwrap_or(configs.is_empty()),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            authenticators: build(configs)?,
            users,
        })
    }
}

/// Checks every entry of the chain (keys, URLs) and builds its authenticators.
pub(crate) fn build(configs: &[AuthenticatorConfig]) -> Result<Vec<Authenticator>, String> {
    let mut authenticators = Vec::new();
    for (i, cfg) in configs.iter().enumerate() {
        let at = |e: String| format!("authentication[{i}].{e}");
        if configs[..i].iter().any(|c| c.id() == cfg.id()) {
            return Err(format!(
                "authentication[{i}]: a second {} authenticator",
                cfg.id()
            ));
        }
        authenticators.push(match cfg {
            AuthenticatorConfig::PasswordBased(PasswordBackend::BuiltInDatabase(b)) => {
                if !(4..=31).contains(&b.password_hash_algorithm.salt_rounds) {
                    return Err(at(
                        "password_hash_algorithm.salt_rounds: must be between 4 and 31".into(),
                    ));
                }
                if b.password_hash_algorithm.iterations == 0 {
                    return Err(at(
                        "password_hash_algorithm.iterations: must be at least 1".into()
                    ));
                }
                Authenticator::BuiltIn(b.user_id_type)
            }
            AuthenticatorConfig::PasswordBased(PasswordBackend::Http(h)) => Authenticator::Http(
                Endpoint::new(&h.url, &h.headers, &h.body, h.request_timeout).map_err(at)?,
            ),
            AuthenticatorConfig::Jwt(j) => Authenticator::Jwt(jwt::JwtAuthn::new(j).map_err(at)?),
            AuthenticatorConfig::Cert(c) => Authenticator::Cert(c.clone()),
            AuthenticatorConfig::Scram(s) => {
                if s.backend != "built_in_database" {
                    return Err(at(format!(
                        "backend: only built_in_database, got {:?}",
                        s.backend
                    )));
                }
                if s.algorithm != "sha256" {
                    return Err(at(format!("algorithm: only sha256, got {:?}", s.algorithm)));
                }
                if s.iteration_count == 0 {
                    return Err(at("iteration_count: must be at least 1".into()));
                }
                Authenticator::Scram
            }
        });
    }
    Ok(authenticators)
}

impl Chain {
    /// Starts authenticating a CONNECT: the whole chain for a plain CONNECT, the
    /// SCRAM exchange for one with an Authentication Method.
    pub async fn start(&self, creds: &Credentials<'_>, props: &Properties) -> Started {
        if let Some(method) = &props.authentication_method {
            let has_scram = self
                .authenticators
                .iter()
                .any(|a| matches!(a, Authenticator::Scram));
            if method != scram::METHOD || !has_scram {
                return Started::Done(Err(ReasonCode::BadAuthenticationMethod));
            }
            return self.scram_first(props.authentication_data.as_deref().unwrap_or_default());
        }
        for a in &self.authenticators {
            match self.one(a, creds).await {
                Answer::Allow(id) => return Started::Done(Ok(id)),
                Answer::Deny(code) => return Started::Done(Err(code)),
                Answer::Ignore => {}
            }
        }
        Started::Done(if self.allow_anonymous {
            Ok(Identity::default())
        } else {
            // Nobody knew the client: EMQX's `not_authorized`.
            Err(ReasonCode::NotAuthorized)
        })
    }

    /// The client-first message of a SCRAM exchange (CONNECT, or AUTH 0x19 for
    /// a re-authentication): the server-first AUTH to send, or a refusal.
    pub fn scram_first(&self, client_first: &[u8]) -> Started {
        let user = scram::client_first_user(client_first)
            .ok()
            .and_then(|name| {
                self.users
                    .read(|u| u.scram.get(&name).cloned())
                    .map(|u| (name, u))
            });
        let Some((name, user)) = user else {
            return Started::Done(Err(ReasonCode::NotAuthorized));
        };
        match scram::ServerFirst::new(client_first, user) {
            Ok(first) => {
                let auth = Auth {
                    reason_code: ReasonCode::ContinueAuthentication,
                    properties: PropertyValues {
                        authentication_method: Some(scram::METHOD.into()),
                        authentication_data: Some(first.message().to_vec().into()),
                        ..Default::default()
                    }
                    .into(),
                };
                tracing::debug!(user = %name, "scram_challenge");
                Started::Continue(Box::new(auth), Box::new(first))
            }
            Err(_) => Started::Done(Err(ReasonCode::NotAuthorized)),
        }
    }

    /// The client's AUTH during enhanced authentication: on success, the
    /// identity and the server-final message for CONNACK's Authentication Data.
    pub fn scram_final(
        &self,
        pending: scram::ServerFirst,
        auth: &Auth,
    ) -> Result<(Identity, Vec<u8>), ReasonCode> {
        if auth.reason_code != ReasonCode::ContinueAuthentication
            || auth.properties.authentication_method.as_deref() != Some(scram::METHOD)
        {
            return Err(ReasonCode::ProtocolError);
        }
        let data = auth
            .properties
            .authentication_data
            .as_deref()
            .unwrap_or_default();
        match pending.finish(data) {
            Ok((server_final, name, user)) => Ok((
                Identity {
                    superuser: user.is_superuser,
                    username: Some(name),
                    ..Default::default()
                },
                server_final,
            )),
            Err(e) => {
                tracing::debug!(error = %e, "scram_failed");
                Err(ReasonCode::NotAuthorized)
            }
        }
    }

    async fn one(&self, a: &Authenticator, c: &Credentials<'_>) -> Answer {
        match a {
            Authenticator::BuiltIn(id_type) => {
                let id = match id_type {
                    UserIdType::Username => c.username,
                    UserIdType::Clientid => Some(c.client_id),
                };
                let Some(user) = id.and_then(|id| self.users.read(|u| u.password.get(id).cloned()))
                else {
                    return Answer::Ignore;
                };
                let password = c.password.unwrap_or_default().to_vec();
                let Ok(_permit) = self.hashing.acquire().await else {
                    return Answer::Ignore;
                };
                // Hashing is deliberately slow: off the async threads.
                let ok = tokio::task::spawn_blocking(move || {
                    password::verify(&user, &password).then_some(user.is_superuser)
                })
                .await
                .ok()
                .flatten();
                match ok {
                    Some(superuser) => Answer::Allow(Identity {
                        superuser,
                        ..Default::default()
                    }),
                    None => Answer::Deny(ReasonCode::BadUserNameOrPassword),
                }
            }
            Authenticator::Http(endpoint) => {
                let password = c
                    .password
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                let peerhost = c.peer.addr.ip().to_canonical().to_string();
                let cn = c
                    .peer
                    .cert
                    .as_ref()
                    .and_then(|cert| cert.common_name.clone())
                    .unwrap_or_default();
                let vars = [
                    ("username", c.username.unwrap_or("")),
                    ("clientid", c.client_id),
                    ("password", password.as_str()),
                    ("peerhost", peerhost.as_str()),
                    ("cert_common_name", cn.as_str()),
                ];
                match endpoint.post(&vars).await.map(|a| a.verdict()) {
                    Some(Verdict::Allow { superuser }) => Answer::Allow(Identity {
                        superuser,
                        ..Default::default()
                    }),
                    Some(Verdict::Deny) => Answer::Deny(ReasonCode::NotAuthorized),
                    Some(Verdict::Ignore) | None => Answer::Ignore,
                }
            }
            Authenticator::Jwt(j) => match j.authenticate(c.client_id, c.username, c.password) {
                Ok(id) => Answer::Allow(Identity {
                    superuser: id.superuser,
                    acl: id.acl,
                    username: None,
                }),
                Err(jwt::JwtOutcome::NotAToken) => Answer::Ignore,
                Err(jwt::JwtOutcome::Invalid(why)) => {
                    tracing::debug!(client_id = %c.client_id, why, "jwt_refused");
                    Answer::Deny(ReasonCode::BadUserNameOrPassword)
                }
            },
            Authenticator::Cert(cfg) => cert(cfg, c),
            // SCRAM only answers enhanced authentication.
            Authenticator::Scram => Answer::Ignore,
        }
    }
}

/// The `cert` authenticator: a client without a certificate is not its to judge;
/// one with a verified certificate is let in if its common name matches as
/// configured.
fn cert(cfg: &CertConfig, c: &Credentials<'_>) -> Answer {
    let Some(cert) = c.peer.cert.as_ref() else {
        return Answer::Ignore;
    };
    let cn = cert.common_name.as_deref();
    let ok = match cfg.match_ {
        CertMatch::Any => true,
        CertMatch::CnIsUsername => cn.is_some() && cn == c.username,
        CertMatch::CnIsClientid => cn == Some(c.client_id),
    };
    if ok {
        Answer::Allow(Identity::default())
    } else {
        Answer::Deny(ReasonCode::NotAuthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{PeerCert, PeerInfo};

    fn creds<'a>(peer: &'a PeerInfo, user: Option<&'a str>) -> Credentials<'a> {
        Credentials {
            client_id: "c1",
            username: user,
            password: None,
            peer,
        }
    }

    #[test]
    fn cert_authenticator_reads_the_peer_certificate() {
        let mut peer = PeerInfo::tcp("tls", "127.0.0.1:1".parse().unwrap());
        let any = CertConfig::default();
        assert!(matches!(cert(&any, &creds(&peer, None)), Answer::Ignore));
        peer.cert = Some(Arc::new(PeerCert {
            common_name: Some("dev1".into()),
            subject_alt_names: vec![],
            ..PeerCert::default()
        }));
        assert!(matches!(cert(&any, &creds(&peer, None)), Answer::Allow(_)));
        let by_user = CertConfig {
            match_: CertMatch::CnIsUsername,
        };
        assert!(matches!(
            cert(&by_user, &creds(&peer, Some("dev1"))),
            Answer::Allow(_)
        ));
        assert!(matches!(
            cert(&by_user, &creds(&peer, Some("dev2"))),
            Answer::Deny(ReasonCode::NotAuthorized)
        ));
        let by_client = CertConfig {
            match_: CertMatch::CnIsClientid,
        };
        assert!(matches!(
            cert(&by_client, &creds(&peer, None)),
            Answer::Deny(_)
        ));
    }
}
