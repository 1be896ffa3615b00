//! Authentication: an ordered chain of authenticators, as EMQX's. Each one
//! answers allow, deny, or ignore (it does not know the client); the first
//! allow or deny decides, and a client every authenticator ignored is let in
//! only with `allow_anonymous`. A CONNECT with an Authentication Method (MQTT
//! 5.0 enhanced authentication) goes to the `scram` authenticator alone.
//!
//! The chain answers in core's words ([`Authn`]) so that `client.authenticate`
//! only has to hand its answer on. It answers at once when it can (a JWT, a
//! certificate, a user the database does not know) and returns a future only
//! when it has to wait: for a password hash or an HTTP service.

pub mod jwt;
pub mod password;
pub mod scram;

use crate::authz::AclRules;
use crate::config::{AuthenticatorConfig, CertConfig, CertMatch, PasswordBackend, UserIdType};
use crate::http::{Endpoint, Verdict};
use crate::store::Table;
use crate::Users;
use roost_core::hooks::{AuthRequest, AuthState, Authn, Deferred, Identity};
use roost_protocol::ReasonCode;
use std::sync::Arc;

/// One authenticator's answer.
enum Answer {
    Allow(Identity),
    Deny(ReasonCode),
    Ignore,
}

pub(crate) enum Authenticator {
    BuiltIn(UserIdType),
    Http(Endpoint),
    Jwt(jwt::JwtAuthn),
    Cert(CertConfig),
    Scram,
    /// `postgresql` / `redis`: a lookup registered by roost-bridges.
    External {
        lookup: Arc<dyn crate::external::UserLookup>,
        hash: crate::config::ExternalHash,
        id: &'static str,
    },
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
        let authenticators = build(configs)?;
        Ok(Chain {
            // As in EMQX, a chain whose every entry is disabled is no chain.
            allow_anonymous: allow_anonymous.unwrap_or(authenticators.is_empty()),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            authenticators,
            users,
        })
    }

    /// Whether the chain has a say at all: some authenticator, or anonymous
    /// clients refused. Otherwise every CONNECT is let in as it would be with
    /// nobody at `client.authenticate`, and the chain need not be asked.
    pub fn judges(&self) -> bool {
        !self.authenticators.is_empty() || !self.allow_anonymous
    }

    /// Whether an authenticator can give a client rules of its own (a JWT's
    /// `acl` claim), which authorization must then check.
    pub fn gives_rules(&self) -> bool {
        self.authenticators
            .iter()
            .any(|a| matches!(a, Authenticator::Jwt(_)))
    }

    fn has_scram(&self) -> bool {
        self.authenticators
            .iter()
            .any(|a| matches!(a, Authenticator::Scram))
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
            AuthenticatorConfig::PasswordBased(
                backend @ (PasswordBackend::Postgresql(c) | PasswordBackend::Redis(c)),
            ) => {
                let name = match backend {
                    PasswordBackend::Postgresql(_) => "postgresql",
                    _ => "redis",
                };
                // EMQX's `enable: false`: checked, then left out of the chain.
                let enabled = crate::external::enabled(&c.backend).map_err(at)?;
                c.password_hash_algorithm.validate().map_err(at)?;
                if !enabled {
                    continue;
                }
                let lookup = crate::external::backends(name)
                    .map_err(at)?
                    .user_lookup(name, &serde_json::Value::Object(c.backend.clone()))
                    .map_err(at)?;
                Authenticator::External {
                    lookup,
                    hash: c.password_hash_algorithm.clone(),
                    id: cfg.id(),
                }
            }
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
    /// `client.authenticate`: the whole chain for a plain CONNECT; the SCRAM
    /// exchange for a CONNECT with an Authentication Method, or for an AUTH
    /// 0x19 that starts a re-authentication. Deferred only when an
    /// authenticator has to wait (a password hash, an HTTP service).
    pub fn authenticate(self: &Arc<Self>, req: &AuthRequest) -> Deferred<Authn> {
        if req.reauthenticate || req.method.is_some() {
            if req.method.as_deref() != Some(scram::METHOD) || !self.has_scram() {
                return Deferred::Now(Authn::Deny(ReasonCode::BadAuthenticationMethod));
            }
            return Deferred::Now(self.scram_first(req.data.as_deref().unwrap_or_default()));
        }
        match self.start_now(req) {
            Ok(answer) => Deferred::Now(answer),
            Err(at) => {
                let chain = self.clone();
                let req = req.clone();
                Deferred::Later(Box::pin(async move { chain.start_from(at, &req).await }))
            }
        }
    }

    /// The chain as far as no await is needed: `Err(i)` when authenticator
    /// `i` has to wait; then [`Self::start_from`] goes on from it.
    fn start_now(&self, req: &AuthRequest) -> Result<Authn, usize> {
        for (i, a) in self.authenticators.iter().enumerate() {
            match self.one_now(a, req) {
                Some(Answer::Ignore) => {}
                Some(answer) => return Ok(decided(answer)),
                None => return Err(i),
            }
        }
        Ok(self.anonymous())
    }

    /// The chain from authenticator `at` on, awaiting what has to be awaited.
    async fn start_from(&self, at: usize, req: &AuthRequest) -> Authn {
        for a in &self.authenticators[at..] {
            match self.one(a, req).await {
                Answer::Ignore => {}
                answer => return decided(answer),
            }
        }
        self.anonymous()
    }

    /// Every authenticator ignored the client.
    fn anonymous(&self) -> Authn {
        if self.allow_anonymous {
            Authn::Allow(Identity::default())
        } else {
            // Nobody knew the client: EMQX's `not_authorized`.
            Authn::Deny(ReasonCode::NotAuthorized)
        }
    }

    /// The client-first message of a SCRAM exchange (CONNECT, or AUTH 0x19 for
    /// a re-authentication): the server-first message to send in AUTH 0x18,
    /// with the state [`Self::scram_final`] needs, or a refusal.
    pub fn scram_first(&self, client_first: &[u8]) -> Authn {
        let user = scram::client_first_user(client_first)
            .ok()
            .and_then(|name| {
                self.users
                    .read(|u| u.scram.get(&name).cloned())
                    .map(|u| (name, u))
            });
        let Some((name, user)) = user else {
            return Authn::Deny(ReasonCode::NotAuthorized);
        };
        match scram::ServerFirst::new(client_first, user) {
            Ok(first) => {
                tracing::debug!(user = %name, "scram_challenge");
                Authn::Continue {
                    data: first.message().to_vec(),
                    state: AuthState(Box::new(first)),
                }
            }
            Err(_) => Authn::Deny(ReasonCode::NotAuthorized),
        }
    }

    /// The client-final message (the Authentication Data of the client's AUTH
    /// 0x18; the runtime has checked the reason code and the method): on
    /// success the identity, with the server-final message for the CONNACK
    /// (or the AUTH 0x00 of a re-authentication).
    pub fn scram_final(&self, state: AuthState, client_final: &[u8]) -> Authn {
        let Ok(pending) = state.0.downcast::<scram::ServerFirst>() else {
            // Not an exchange this chain started.
            return Authn::Deny(ReasonCode::NotAuthorized);
        };
        match pending.finish(client_final) {
            Ok((server_final, name, user)) => Authn::Allow(Identity {
                is_superuser: user.is_superuser,
                username: Some(name),
                attrs: None,
                auth_data: Some(server_final),
            }),
            Err(e) => {
                tracing::debug!(error = %e, "scram_failed");
                Authn::Deny(ReasonCode::NotAuthorized)
            }
        }
    }

    /// One authenticator's answer when it needs no await; `None` when it must
    /// wait (see [`Self::one`]).
    fn one_now(&self, a: &Authenticator, req: &AuthRequest) -> Option<Answer> {
        match a {
            Authenticator::BuiltIn(id_type) => {
                // A user the database does not know is not its to judge; one it
                // knows needs the (slow) hash.
                let known = built_in_id(*id_type, req)
                    .is_some_and(|id| self.users.read(|u| u.password.contains_key(id)));
                (!known).then_some(Answer::Ignore)
            }
            Authenticator::Http(_) | Authenticator::External { .. } => None,
            Authenticator::Jwt(j) => Some(
                match j.authenticate(
                    &req.client_id,
                    req.username.as_deref(),
                    req.password.as_deref(),
                ) {
                    Ok(id) => Answer::Allow(Identity {
                        is_superuser: id.superuser,
                        attrs: (!id.acl.is_empty()).then(|| {
                            Arc::new(AclRules(id.acl.into())) as roost_core::client::AuthAttrs
                        }),
                        ..Default::default()
                    }),
                    Err(jwt::JwtOutcome::NotAToken) => Answer::Ignore,
                    Err(jwt::JwtOutcome::Invalid(why)) => {
                        tracing::debug!(client_id = %req.client_id, why, "jwt_refused");
                        Answer::Deny(ReasonCode::BadUserNameOrPassword)
                    }
                },
            ),
            Authenticator::Cert(cfg) => Some(cert(cfg, req)),
            // SCRAM only answers enhanced authentication.
            Authenticator::Scram => Some(Answer::Ignore),
        }
    }

    /// One authenticator's answer, waiting for it if it must.
    async fn one(&self, a: &Authenticator, req: &AuthRequest) -> Answer {
        if let Some(answer) = self.one_now(a, req) {
            return answer;
        }
        match a {
            Authenticator::BuiltIn(id_type) => {
                let Some(user) = built_in_id(*id_type, req)
                    .and_then(|id| self.users.read(|u| u.password.get(id).cloned()))
                else {
                    // Deleted while the client waited.
                    return Answer::Ignore;
                };
                let password = req.password.clone().unwrap_or_default();
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
                    Some(is_superuser) => Answer::Allow(Identity {
                        is_superuser,
                        ..Default::default()
                    }),
                    None => Answer::Deny(ReasonCode::BadUserNameOrPassword),
                }
            }
            Authenticator::Http(endpoint) => {
                let password = req
                    .password
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                let peerhost = req.peer.addr.ip().to_canonical().to_string();
                let cn = req
                    .peer
                    .cert
                    .as_ref()
                    .and_then(|cert| cert.common_name.clone())
                    .unwrap_or_default();
                let vars = [
                    ("username", req.username.as_deref().unwrap_or("")),
                    ("clientid", &*req.client_id),
                    ("password", password.as_str()),
                    ("peerhost", peerhost.as_str()),
                    ("cert_common_name", cn.as_str()),
                ];
                match endpoint.post(&vars).await.map(|a| a.verdict()) {
                    Some(Verdict::Allow { superuser }) => Answer::Allow(Identity {
                        is_superuser: superuser,
                        ..Default::default()
                    }),
                    Some(Verdict::Deny) => Answer::Deny(ReasonCode::NotAuthorized),
                    Some(Verdict::Ignore) | None => Answer::Ignore,
                }
            }
            Authenticator::External { lookup, hash, id } => {
                self.external(lookup.as_ref(), hash, id, req).await
            }
            Authenticator::Jwt(_) | Authenticator::Cert(_) | Authenticator::Scram => {
                unreachable!("answered by one_now")
            }
        }
    }
}

impl Chain {
    /// A `postgresql` / `redis` authenticator, as EMQX's: no such user, or a
    /// backend that fails or does not answer within
    /// [`crate::external::LOOKUP_TIMEOUT`], is `ignore` (the next
    /// authenticator decides); a wrong password is a denial.
    async fn external(
        &self,
        lookup: &dyn crate::external::UserLookup,
        hash: &crate::config::ExternalHash,
        id: &str,
        req: &AuthRequest,
    ) -> Answer {
        let vars = crate::external::vars(req.username.as_deref(), &req.client_id, &req.peer);
        let found =
            tokio::time::timeout(crate::external::LOOKUP_TIMEOUT, lookup.find_user(&vars)).await;
        let user = match found {
            Ok(Ok(Some(user))) => user,
            Ok(Ok(None)) => return Answer::Ignore,
            Ok(Err(e)) => {
                tracing::warn!(authenticator = id, error = %e, "authn_backend_failed");
                return Answer::Ignore;
            }
            Err(_) => {
                tracing::warn!(authenticator = id, "authn_backend_timeout");
                return Answer::Ignore;
            }
        };
        let password = req.password.clone().unwrap_or_default();
        let ok = if hash.is_slow() {
            let Ok(_permit) = self.hashing.acquire().await else {
                return Answer::Ignore;
            };
            let (hash, check) = (hash.clone(), user.clone());
            tokio::task::spawn_blocking(move || {
                crate::external::check_password(&hash, &check, &password)
            })
            .await
            .unwrap_or(false)
        } else {
            crate::external::check_password(hash, &user, &password)
        };
        if ok {
            Answer::Allow(Identity {
                is_superuser: user.is_superuser,
                ..Default::default()
            })
        } else {
            Answer::Deny(ReasonCode::BadUserNameOrPassword)
        }
    }
}

/// An answer that decides, as the hook gives it.
fn decided(answer: Answer) -> Authn {
    match answer {
        Answer::Allow(id) => Authn::Allow(id),
        Answer::Deny(code) => Authn::Deny(code),
        Answer::Ignore => Authn::Ignore,
    }
}

/// The CONNECT field that names a user of the built-in database.
fn built_in_id(id_type: UserIdType, req: &AuthRequest) -> Option<&str> {
    match id_type {
        UserIdType::Username => req.username.as_deref(),
        UserIdType::Clientid => Some(&req.client_id),
    }
}

/// The `cert` authenticator: a client without a certificate is not its to judge;
/// one with a verified certificate is let in if its common name matches as
/// configured.
fn cert(cfg: &CertConfig, req: &AuthRequest) -> Answer {
    let Some(cert) = req.peer.cert.as_ref() else {
        return Answer::Ignore;
    };
    let cn = cert.common_name.as_deref();
    let ok = match cfg.match_ {
        CertMatch::Any => true,
        CertMatch::CnIsUsername => cn.is_some() && cn == req.username.as_deref(),
        CertMatch::CnIsClientid => cn == Some(&*req.client_id),
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
    use roost_core::{PeerCert, PeerInfo};

    fn creds(peer: &PeerInfo, user: Option<&str>) -> AuthRequest {
        AuthRequest {
            client_id: "c1".into(),
            username: user.map(Into::into),
            password: None,
            peer: peer.clone(),
            method: None,
            data: None,
            reauthenticate: false,
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
