//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as an MQTT 5.0 enhanced authentication
//! method: the client-first message comes in CONNECT's Authentication Data, the
//! server-first goes out in AUTH 0x18, the client-final comes back in AUTH 0x18,
//! and the server-final goes out in CONNACK. Channel binding is not offered
//! (GS2 header `n,,` or `y,,`), as in EMQX.
//!
//! Built on hmac + sha2 + pbkdf2 (RustCrypto): the SCRAM crates on crates.io are
//! unmaintained, and the exchange itself is a few string operations.

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The Authentication Method name MQTT clients use.
pub const METHOD: &str = "SCRAM-SHA-256";

type HmacSha256 = hmac::Hmac<Sha256>;

/// A user of `scram:built_in_database`, as stored: never the password itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScramUser {
    /// Base64.
    pub salt: String,
    /// Base64 of H(ClientKey).
    pub stored_key: String,
    /// Base64 of HMAC(SaltedPassword, "Server Key").
    pub server_key: String,
    pub iteration_count: u32,
    #[serde(default)]
    pub is_superuser: bool,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, i).
pub fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

/// The stored credentials for a new user.
pub fn new_user(password: &[u8], iteration_count: u32, is_superuser: bool) -> ScramUser {
    let salt: [u8; 16] = rand::random();
    let salted = salted_password(password, &salt, iteration_count);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac(&salted, b"Server Key");
    ScramUser {
        salt: b64().encode(salt),
        stored_key: b64().encode(stored_key),
        server_key: b64().encode(server_key),
        iteration_count,
        is_superuser,
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported")]
    ChannelBinding,
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong proof")]
    BadProof,
}

/// The user name of a client-first message (`n,,n=user,r=nonce`), to look the
/// user up before [`ServerFirst::new`].
pub fn client_first_user(client_first: &[u8]) -> Result<String, ScramError> {
    Ok(parse_client_first(client_first)?.1)
}

/// Returns (gs2 header, user, client nonce, client-first-bare).
fn parse_client_first(msg: &[u8]) -> Result<(String, String, String, String), ScramError> {
    let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    let (gs2, bare) = if let Some(rest) = msg.strip_prefix("n,,").or(msg.strip_prefix("y,,")) {
        (&msg[..3], rest)
    } else if msg.starts_with("p=") {
        return Err(ScramError::ChannelBinding);
    } else {
        return Err(ScramError::Malformed("GS2 header"));
    };
    let mut user = None;
    let mut nonce = None;
    for attr in bare.split(',') {
        if let Some(v) = attr.strip_prefix("n=") {
            user = Some(v.replace("=2C", ",").replace("=3D", "="));
        } else if let Some(v) = attr.strip_prefix("r=") {
            nonce = Some(v.to_string());
        } else if attr.starts_with("m=") {
            return Err(ScramError::Malformed("mandatory extension"));
        }
    }
    let user = user.ok_or(ScramError::Malformed("no user name"))?;
    let nonce = nonce
        .filter(|n| !n.is_empty())
        .ok_or(ScramError::Malformed("no nonce"))?;
    Ok((gs2.to_string(), user, nonce, bare.to_string()))
}

/// The server between its first message and the client's final one.
#[derive(Debug, Clone)]
pub struct ServerFirst {
    gs2: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    name: String,
    user: ScramUser,
}

impl ServerFirst {
    /// Answers a client-first message for `user`; the message to send is
    /// [`ServerFirst::message`].
    pub fn new(client_first: &[u8], user: ScramUser) -> Result<ServerFirst, ScramError> {
        let (gs2, name, client_nonce, client_first_bare) = parse_client_first(client_first)?;
        let server_nonce = b64().encode(rand::random::<[u8; 18]>());
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={}", user.salt, user.iteration_count);
        Ok(ServerFirst {
            gs2,
            client_first_bare,
            server_first,
            nonce,
            name,
            user,
        })
    }

    pub fn message(&self) -> &[u8] {
        self.server_first.as_bytes()
    }

    /// Checks the client-final message; on success returns the server-final
    /// message (`v=signature`), the user's name and the user.
    pub fn finish(self, client_final: &[u8]) -> Result<(Vec<u8>, String, ScramUser), ScramError> {
        let msg =
            std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("no proof"))?;
        let mut channel = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(v) = attr.strip_prefix("c=") {
                channel = Some(v);
            } else if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            }
        }
        if channel != Some(b64().encode(self.gs2.as_bytes()).as_str()) {
            return Err(ScramError::Malformed("channel binding data"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce"));
        }
        let proof = b64()
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof"))?;
        let stored_key = b64()
            .decode(&self.user.stored_key)
            .map_err(|_| ScramError::Malformed("stored key"))?;
        let server_key = b64()
            .decode(&self.user.server_key)
            .map_err(|_| ScramError::Malformed("server key"))?;
        if proof.len() != 32 {
            return Err(ScramError::BadProof);
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let computed: [u8; 32] = Sha256::digest(&client_key).into();
        if !bool::from(computed.ct_eq(stored_key.as_slice())) {
            return Err(ScramError::BadProof);
        }
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        let server_final = format!("v={}", b64().encode(server_signature));
        Ok((server_final.into_bytes(), self.name, self.user))
    }
}

/// The client's side of the exchange, for the tests of this crate (the SCRAM
/// unit tests and the `client.authenticate` ones): the client-final message
/// answering `server_first`, and the server signature the server-final
/// message must carry.
#[cfg(test)]
pub(crate) fn client_final(
    password: &[u8],
    client_first_bare: &str,
    server_first: &str,
) -> (String, [u8; 32]) {
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iterations = 0;
    for attr in server_first.split(',') {
        if let Some(v) = attr.strip_prefix("r=") {
            nonce = v;
        } else if let Some(v) = attr.strip_prefix("s=") {
            salt = b64().decode(v).unwrap();
        } else if let Some(v) = attr.strip_prefix("i=") {
            iterations = v.parse().unwrap();
        }
    }
    let salted = salted_password(password, &salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let sig = hmac(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
    let server_key = hmac(&salted, b"Server Key");
    (
        format!("{without_proof},p={}", b64().encode(proof)),
        hmac(&server_key, auth.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_succeeds_with_the_password_and_fails_without() {
        let user = new_user(b"pencil", 4096, false);
        let first = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server = ServerFirst::new(first, user.clone()).unwrap();
        let sf = String::from_utf8(server.message().to_vec()).unwrap();
        assert!(sf.starts_with("r=rOprNGfwEbeRWgbNEkqO"));
        let (cf, expected_sig) = client_final(b"pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", &sf);
        let (server_final, name, _) = server.clone().finish(cf.as_bytes()).unwrap();
        assert_eq!(name, "user");
        assert_eq!(
            server_final,
            format!("v={}", b64().encode(expected_sig)).into_bytes()
        );
        let (bad, _) = client_final(b"pen", "n=user,r=rOprNGfwEbeRWgbNEkqO", &sf);
        assert_eq!(server.finish(bad.as_bytes()), Err(ScramError::BadProof));
    }

    #[test]
    fn rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let user = ScramUser {
            salt: "W22ZaJ0SNY7soEsUEjb6gQ==".into(),
            stored_key: {
                let salted = salted_password(
                    b"pencil",
                    &b64().decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
                    4096,
                );
                b64().encode(Sha256::digest(hmac(&salted, b"Client Key")))
            },
            server_key: {
                let salted = salted_password(
                    b"pencil",
                    &b64().decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
                    4096,
                );
                b64().encode(hmac(&salted, b"Server Key"))
            },
            iteration_count: 4096,
            is_superuser: false,
        };
        let mut server = ServerFirst::new(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", user).unwrap();
        // Replay the RFC's server nonce.
        server.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into();
        server.server_first = format!("r={},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", server.nonce);
        let client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let (server_final, _, _) = server.finish(client_final.as_bytes()).unwrap();
        assert_eq!(
            server_final,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
        );
    }

    #[test]
    fn channel_binding_and_garbage_are_refused() {
        let user = new_user(b"x", 16, false);
        assert_eq!(
            ServerFirst::new(b"p=tls-unique,,n=u,r=abc", user.clone()).unwrap_err(),
            ScramError::ChannelBinding
        );
        assert!(ServerFirst::new(b"garbage", user).is_err());
    }
}
