//! A connector's `ssl` object, EMQX's client TLS options: `enable`,
//! `cacertfile`, `certfile`, `keyfile`, `verify` (`verify_peer` or
//! `verify_none`, EMQX's default) and `server_name_indication` (a host name,
//! or `disable`). It becomes a rustls client configuration with the aws-lc-rs
//! provider, the one the rest of the workspace uses.

use crate::fields;
use crate::ConfigError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::Value;
use std::sync::Arc;

/// A parsed `ssl` object that is enabled.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<ClientConfig>,
    /// `server_name_indication`: `None` means the host of `server`,
    /// `Some("disable")`'s case is [`Tls::sni_disabled`].
    pub server_name: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl Tls {
    /// The name to send and verify for a connection to `host`.
    pub fn name_for(&self, host: &str) -> Result<ServerName<'static>, String> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_string()).map_err(|e| format!("server name {name:?}: {e}"))
    }
}

/// Reads the connector's `ssl` field; `None` when absent or not enabled.
pub fn parse(conf: &Value) -> Result<Option<Tls>, ConfigError> {
    let Some(ssl) = fields::get(conf, "ssl") else {
        return Ok(None);
    };
    if !fields::boolean(ssl, "enable", "ssl.enable", false)? {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verify = fields::one_of(ssl, "verify", "ssl.verify", &["verify_none", "verify_peer"])?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("ssl", e.to_string()))?;
    let builder = if verify == "verify_peer" {
        let cacertfile = fields::required(ssl, "cacertfile", "ssl.cacertfile")?;
        let mut roots = RootCertStore::empty();
        for cert in certs(&cacertfile, "ssl.cacertfile")? {
            roots
                .add(cert)
                .map_err(|e| ConfigError::new("ssl.cacertfile", e.to_string()))?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    let certfile = fields::string(ssl, "certfile", "ssl.certfile", "")?;
    let keyfile = fields::string(ssl, "keyfile", "ssl.keyfile", "")?;
    let mut config = if certfile.is_empty() {
        builder.with_no_client_auth()
    } else {
        let key = PrivateKeyDer::from_pem_file(&keyfile)
            .map_err(|e| ConfigError::new("ssl.keyfile", format!("{keyfile}: {e}")))?;
        builder
            .with_client_auth_cert(certs(&certfile, "ssl.certfile")?, key)
            .map_err(|e| ConfigError::new("ssl.certfile", e.to_string()))?
    };
    let sni = fields::string(
        ssl,
        "server_name_indication",
        "ssl.server_name_indication",
        "",
    )?;
    let server_name = match sni.as_str() {
        "" => None,
        "disable" => {
            config.enable_sni = false;
            None
        }
        name => Some(name.to_string()),
    };
    Ok(Some(Tls {
        config: Arc::new(config),
        server_name,
    }))
}

fn certs(path: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ConfigError::new(field, format!("{path}: {e}")))?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            field,
            format!("{path}: no PEM certificate"),
        ));
    }
    Ok(certs)
}

/// `verify: verify_none`: any certificate is accepted (the handshake's
/// signatures are still checked), as EMQX does by default.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
