//! Authorization: may this client publish to this topic, or subscribe to this
//! filter? As EMQX: a superuser may do anything; then the client's own rules
//! (a JWT's `acl` claim); then the configured sources in order (ACL file,
//! built-in rules, HTTP), the first that has a matching rule deciding; then
//! `no_match`. Decisions are cached per client by the runtime
//! ([`roost_core::authz::AclCache`]), so a rule changed through the API
//! reaches a connected client within the cache's ttl; nothing here caches.

pub mod builtin;
pub mod file;
pub mod rule;

use crate::config::{AuthorizationConfig, AuthzSourceConfig, Permission};
use crate::http::{Endpoint, Verdict};
use crate::store::Table;
use builtin::BuiltInRules;
use roost_core::ClientInfo;
use rule::{check_rules, Action, Rule};
use std::sync::Arc;

/// A client's own rules (a JWT's `acl` claim), checked before the sources.
/// The authenticator that let the client in puts them in
/// [`roost_core::client::AuthAttrs`]; the runtime only carries them from
/// `client.authenticate` to `client.authorize`.
#[derive(Debug, Clone)]
pub struct AclRules(pub Arc<[Rule]>);

/// The client's own rules, if its authenticator gave it any.
pub fn client_rules(client: &ClientInfo) -> &[Rule] {
    client
        .attrs
        .as_ref()
        .and_then(|a| a.downcast_ref::<AclRules>())
        .map_or(&[], |r| &r.0)
}

pub(crate) enum Source {
    File(Vec<Rule>),
    BuiltIn,
    Http(Endpoint),
    /// `postgresql` / `redis`: a lookup registered by roost-bridges.
    External(Arc<dyn crate::external::AclLookup>),
}

/// The configured sources.
pub struct Authorizer {
    pub config: AuthorizationConfig,
    sources: Vec<Source>,
    rules: Arc<Table<BuiltInRules>>,
}

impl Authorizer {
    /// Reads the ACL file(s); an error names the source (`authorization.sources[0]...`).
    pub fn new(
        config: &AuthorizationConfig,
        rules: Arc<Table<BuiltInRules>>,
    ) -> Result<Authorizer, String> {
        Ok(Authorizer {
            config: config.clone(),
            sources: build(config)?,
            rules,
        })
    }
}

/// Reads the ACL files and checks the URLs of the sources.
pub(crate) fn build(config: &AuthorizationConfig) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for (i, s) in config.sources.iter().enumerate() {
        let at = |e: String| format!("authorization.sources[{i}].{e}");
        sources.push(match s {
            AuthzSourceConfig::File(f) => {
                let text = std::fs::read_to_string(&f.path)
                    .map_err(|e| at(format!("path: cannot read {}: {e}", f.path)))?;
                Source::File(file::parse(&text).map_err(|e| at(format!("path: {}: {e}", f.path)))?)
            }
            AuthzSourceConfig::BuiltInDatabase(_) => Source::BuiltIn,
            AuthzSourceConfig::Http(h) => Source::Http(
                Endpoint::new(&h.url, &h.headers, &h.body, h.request_timeout).map_err(at)?,
            ),
            AuthzSourceConfig::Postgresql(c) | AuthzSourceConfig::Redis(c) => {
                let kind = match s {
                    AuthzSourceConfig::Postgresql(_) => "postgresql",
                    _ => "redis",
                };
                // EMQX's `enable: false`: left out of the sources.
                if !crate::external::enabled(&c.backend).map_err(at)? {
                    continue;
                }
                Source::External(
                    crate::external::backends(kind)
                        .map_err(at)?
                        .acl_lookup(kind, &serde_json::Value::Object(c.backend.clone()))
                        .map_err(at)?,
                )
            }
        });
    }
    Ok(sources)
}

impl Authorizer {
    /// Whether every check would allow without looking (no sources and
    /// `no_match: allow`): a client without rules of its own is then not
    /// checked at all (`client.authorize` ignores it, and nothing is counted).
    pub fn allows_everything(&self) -> bool {
        self.sources.is_empty() && self.config.no_match == Permission::Allow
    }

    /// Decides without the cache, asking HTTP sources if it comes to them.
    pub async fn decide(&self, client: &ClientInfo, action: Action, topic: &str) -> Permission {
        match self.decide_now(client, action, topic) {
            Ok(p) => p,
            Err(at) => self.decide_from(at, client, action, topic).await,
        }
    }

    /// Decides without the cache as far as no await is needed: a superuser,
    /// the client's own rules, and the ACL file and built-in sources are all
    /// in memory. `Err(i)` when the decision rests on source `i`, an HTTP
    /// authorizer, and the ones after it (see [`Self::decide_from`]).
    pub fn decide_now(
        &self,
        client: &ClientInfo,
        action: Action,
        topic: &str,
    ) -> Result<Permission, usize> {
        if client.is_superuser {
            return Ok(Permission::Allow);
        }
        if let Some(p) = check_rules(client_rules(client), client, action, topic) {
            return Ok(p);
        }
        for (i, s) in self.sources.iter().enumerate() {
            let found = match s {
                Source::File(rules) => check_rules(rules, client, action, topic),
                Source::BuiltIn => self.rules.read(|r| r.check(client, action, topic)),
                Source::Http(_) | Source::External(_) => return Err(i),
            };
            if let Some(p) = found {
                return Ok(p);
            }
        }
        Ok(self.config.no_match)
    }

    /// Goes on with the sources from `at` (an HTTP one, where
    /// [`Self::decide_now`] stopped) in order.
    pub async fn decide_from(
        &self,
        at: usize,
        client: &ClientInfo,
        action: Action,
        topic: &str,
    ) -> Permission {
        for s in &self.sources[at..] {
            let found = match s {
                Source::File(rules) => check_rules(rules, client, action, topic),
                Source::BuiltIn => self.rules.read(|r| r.check(client, action, topic)),
                Source::External(lookup) => external(lookup.as_ref(), client, action, topic).await,
                Source::Http(endpoint) => {
                    let peerhost = client.peer.addr.ip().to_canonical().to_string();
                    let cn = client
                        .peer
                        .cert
                        .as_ref()
                        .and_then(|c| c.common_name.clone())
                        .unwrap_or_default();
                    let vars = [
                        ("username", client.username_or_empty()),
                        ("clientid", &*client.client_id),
                        ("peerhost", peerhost.as_str()),
                        ("topic", topic),
                        ("action", action.as_str()),
                        ("cert_common_name", cn.as_str()),
                    ];
                    match endpoint.post(&vars).await.map(|a| a.verdict()) {
                        Some(Verdict::Allow { .. }) => Some(Permission::Allow),
                        Some(Verdict::Deny) => Some(Permission::Deny),
                        Some(Verdict::Ignore) | None => None,
                    }
                }
            };
            if let Some(p) = found {
                return p;
            }
        }
        self.config.no_match
    }
}

/// A `postgresql` / `redis` source, as EMQX's: the client's rows, checked in
/// order; a backend that fails or does not answer in time has no match.
async fn external(
    lookup: &dyn crate::external::AclLookup,
    client: &ClientInfo,
    action: Action,
    topic: &str,
) -> Option<Permission> {
    let vars = crate::external::vars(client.username.as_deref(), &client.client_id, &client.peer);
    let rows =
        match tokio::time::timeout(crate::external::LOOKUP_TIMEOUT, lookup.acl_rows(&vars)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "authz_backend_failed");
                return None;
            }
            Err(_) => {
                tracing::warn!("authz_backend_timeout");
                return None;
            }
        };
    let rules: Vec<Rule> = rows
        .iter()
        .filter_map(|r| {
            let rule = r.rule();
            if rule.is_none() {
                tracing::debug!(row = ?r, "authz_row_skipped");
            }
            rule
        })
        .collect();
    check_rules(&rules, client, action, topic)
}
