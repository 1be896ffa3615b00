//! The JWT authenticator: the token comes in the password (or user name) field,
//! its signature is checked with an HMAC secret or a public key (RSA, ECDSA),
//! `exp` and `nbf` are enforced when present (no leeway, as EMQX), and
//! `verify_claims` must hold. The `is_superuser` claim makes a superuser and the
//! `acl` claim gives the client its own rules, checked before the sources.

use crate::authz::rule::{ActionSpec, Rule, TopicPattern, Who};
use crate::config::{JwtAlgorithm, JwtConfig, JwtFrom, Permission};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// A configured JWT authenticator.
pub struct JwtAuthn {
    from: JwtFrom,
    key: DecodingKey,
    validation: Validation,
    verify_claims: Vec<(String, String)>,
}

/// What a valid token says about the client.
#[derive(Debug, Default)]
pub struct JwtIdentity {
    pub superuser: bool,
    pub acl: Vec<Rule>,
}

/// Why a token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtOutcome {
    /// No token, or not a JWT at all: another authenticator may know the client.
    NotAToken,
    /// A JWT that fails: bad signature, expired, a claim that does not hold.
    Invalid(String),
}

impl JwtAuthn {
    /// Checks the keys at start-up.
    pub fn new(cfg: &JwtConfig) -> Result<JwtAuthn, String> {
        let (key, algorithms) = match cfg.algorithm {
            JwtAlgorithm::HmacBased => {
                if cfg.secret.is_empty() {
                    return Err("secret: must be set for algorithm hmac-based".into());
                }
                let key = if cfg.secret_base64_encoded {
                    DecodingKey::from_base64_secret(&cfg.secret)
                        .map_err(|e| format!("secret: not base64: {e}"))?
                } else {
                    DecodingKey::from_secret(cfg.secret.as_bytes())
                };
                (
                    key,
                    vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
                )
            }
            JwtAlgorithm::PublicKey => {
                let pem = cfg.public_key.as_bytes();
                if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
                    (
                        k,
                        vec![
                            Algorithm::RS256,
                            Algorithm::RS384,
                            Algorithm::RS512,
                            Algorithm::PS256,
                            Algorithm::PS384,
                            Algorithm::PS512,
                        ],
                    )
                } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
                    (k, vec![Algorithm::ES256, Algorithm::ES384])
                } else {
                    return Err(
                        "public_key: not an RSA or EC public key in PEM (-----BEGIN PUBLIC KEY-----)"
                            .into(),
                    );
                }
            }
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        // `exp` is checked when present, not required (EMQX accepts tokens without).
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 0;
        Ok(JwtAuthn {
            from: cfg.from,
            key,
            validation,
            verify_claims: cfg
                .verify_claims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Checks the client's token.
    pub fn authenticate(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> Result<JwtIdentity, JwtOutcome> {
        let token = match self.from {
            JwtFrom::Password => password.and_then(|p| std::str::from_utf8(p).ok()),
            JwtFrom::Username => username,
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(JwtOutcome::NotAToken);
        };
        if jsonwebtoken::decode_header(token).is_err() {
            return Err(JwtOutcome::NotAToken);
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token,
            &self.key,
            &self.validation,
        )
        .map_err(|e| JwtOutcome::Invalid(e.to_string()))?;
        let claims = data.claims;
        for (name, expected) in &self.verify_claims {
            let expected = expected
                .replace("${clientid}", client_id)
                .replace("${username}", username.unwrap_or(""));
            let actual = match claims.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => return Err(JwtOutcome::Invalid(format!("claim {name} is missing"))),
            };
            if actual != expected {
                return Err(JwtOutcome::Invalid(format!("claim {name} does not match")));
            }
        }
        let superuser = matches!(claims.get("is_superuser"), Some(Value::Bool(true)))
            || matches!(claims.get("is_superuser"), Some(Value::String(s)) if s == "true");
        let acl = claims.get("acl").map(acl_rules).unwrap_or_default();
        Ok(JwtIdentity { superuser, acl })
    }
}

/// The `acl` claim, in either of EMQX 5's formats: a list of rules
/// `[{"permission": "allow", "action": "publish", "topic": "t/1"}]`, or the
/// older `{"pub": [...], "sub": [...], "all": [...]}` (allow rules). Entries
/// that do not parse are skipped.
pub fn acl_rules(v: &Value) -> Vec<Rule> {
    let rule = |permission, action, topic: &str| Rule {
        permission,
        who: Who::All,
        action,
        topics: vec![match topic.strip_prefix("eq ") {
            Some(t) => TopicPattern::Eq(t.to_string()),
            None => TopicPattern::Filter(topic.to_string()),
        }],
    };
    let action = |a: &str| match a {
        "publish" | "pub" => Some(ActionSpec::Publish),
        "subscribe" | "sub" => Some(ActionSpec::Subscribe),
        "all" => Some(ActionSpec::All),
        _ => None,
    };
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let permission = match item.get("permission")?.as_str()? {
                    "allow" => Permission::Allow,
                    "deny" => Permission::Deny,
                    _ => return None,
                };
                let a = action(item.get("action")?.as_str()?)?;
                Some(rule(permission, a, item.get("topic")?.as_str()?))
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, topics)| Some((action(k)?, topics.as_array()?)))
            .flat_map(|(a, topics)| {
                topics
                    .iter()
                    .filter_map(|t| t.as_str())
                    .map(move |t| rule(Permission::Allow, a, t))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn hmac_authn() -> JwtAuthn {
        JwtAuthn::new(&JwtConfig {
            secret: "s3cret".into(),
            verify_claims: [("sub".to_string(), "${username}".to_string())].into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn token(claims: Value, secret: &str) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn hmac_tokens_expiry_and_claims() {
        let a = hmac_authn();
        let ok = token(
            serde_json::json!({"sub": "u1", "exp": now() + 60, "is_superuser": true}),
            "s3cret",
        );
        let id = a
            .authenticate("c", Some("u1"), Some(ok.as_bytes()))
            .unwrap();
        assert!(id.superuser);
        assert!(matches!(
            a.authenticate("c", Some("u2"), Some(ok.as_bytes())),
            Err(JwtOutcome::Invalid(_))
        ));
        let expired = token(serde_json::json!({"sub": "u1", "exp": now() - 1}), "s3cret");
        assert!(matches!(
            a.authenticate("c", Some("u1"), Some(expired.as_bytes())),
            Err(JwtOutcome::Invalid(_))
        ));
        let forged = token(serde_json::json!({"sub": "u1"}), "other");
        assert!(matches!(
            a.authenticate("c", Some("u1"), Some(forged.as_bytes())),
            Err(JwtOutcome::Invalid(_))
        ));
        assert_eq!(
            a.authenticate("c", Some("u1"), Some(b"plain password"))
                .unwrap_err(),
            JwtOutcome::NotAToken
        );
    }

    #[test]
    fn acl_claim_formats() {
        let rules = acl_rules(&serde_json::json!([
            {"permission": "allow", "action": "publish", "topic": "a/${clientid}"},
            {"permission": "deny", "action": "all", "topic": "eq b/#"},
            {"permission": "maybe", "action": "all", "topic": "x"}
        ]));
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].topics, vec![TopicPattern::Eq("b/#".into())]);
        let rules = acl_rules(&serde_json::json!({"pub": ["a", "b"], "sub": ["c"]}));
        assert_eq!(rules.len(), 3);
    }
}
