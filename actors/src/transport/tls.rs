//! TLS listeners: the rustls server configuration built from a listener's keys
//! (certificate, key, CA, client verification, versions), and the identity read
//! from a verified client certificate.

use super::{SetupError, TlsStream};
use crate::config::{TlsOptions, TlsVersion, Verify};
use roost_core::client::PeerCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A listener's TLS acceptor and its handshake timeout.
pub struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    pub handshake_timeout: Duration,
}

impl TlsAcceptor {
    /// Reads the PEM files named by `listeners.<listener>.*` and builds the
    /// server configuration. Errors name the key and the file.
    pub fn new(listener: &str, o: &TlsOptions) -> Result<TlsAcceptor, SetupError> {
        let config = server_config(listener, o)?;
        Ok(TlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            handshake_timeout: o.handshake_timeout,
        })
    }

    /// Runs the server side of the handshake.
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream> {
        self.acceptor.accept(stream).await
    }
}

fn read_pem(listener: &str, key: &str, path: &str) -> Result<Vec<u8>, SetupError> {
    let err = |problem: String| SetupError::File {
        key: format!("listeners.{listener}.{key}"),
        path: path.to_string(),
        problem,
    };
    if path.is_empty() {
        return Err(err("required when the listener is enabled".into()));
    }
    std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))
}

fn certificates(
    listener: &str,
    key: &str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let pem = read_pem(listener, key, path)?;
    let err = |problem: String| SetupError::File {
        key: format!("listeners.{listener}.{key}"),
        path: path.to_string(),
        problem,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The rustls configuration of a TLS listener, with the aws-lc-rs provider (the
/// one rustls builds by default).
fn server_config(listener: &str, o: &TlsOptions) -> Result<ServerConfig, SetupError> {
    let tls_err = |problem: String| SetupError::Tls {
        listener: listener.to_string(),
        problem,
    };
    let certs = certificates(listener, "certfile", &o.certfile)?;
    let key_pem = read_pem(listener, "keyfile", &o.keyfile)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| SetupError::File {
        key: format!("listeners.{listener}.keyfile"),
        path: o.keyfile.clone(),
        problem: format!("holds no PEM private key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = o
        .versions
        .iter()
        .map(|v| match v {
            TlsVersion::Tls13 => &rustls::version::TLS13,
            TlsVersion::Tls12 => &rustls::version::TLS12,
        })
        .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| tls_err(e.to_string()))?;
    // A CA file is read whenever it is set, so a wrong path shows at start-up
    // even while verification is off.
    let roots = if o.cacertfile.is_empty() && o.verify == Verify::None {
        None
    } else {
        let mut roots = RootCertStore::empty();
        for cert in certificates(listener, "cacertfile", &o.cacertfile)? {
            roots.add(cert).map_err(|e| SetupError::File {
                key: format!("listeners.{listener}.cacertfile"),
                path: o.cacertfile.clone(),
                problem: format!("not a usable CA certificate: {e}"),
            })?;
        }
        Some(roots)
    };
    let builder = match (o.verify, roots) {
        (Verify::None, _) | (_, None) => builder.with_no_client_auth(),
        (verify, Some(roots)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if verify == Verify::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| tls_err(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| tls_err(format!("certfile and keyfile: {e}")))
}

/// The identity in the client's certificate, if it sent one (the handshake has
/// verified it against the CA).
pub fn peer_cert(tls: &TlsStream) -> Option<PeerCert> {
    let der = tls.get_ref().1.peer_certificates()?.first()?;
    parse_cert(der)
}

/// Common name, distinguished name and subject alternative names of a DER
/// certificate.
pub fn parse_cert(der: &[u8]) -> Option<PeerCert> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let common_name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(String::from);
    let mut subject_alt_names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    subject_alt_names.push(s.to_string())
                }
                GeneralName::IPAddress(ip) => {
                    let ip = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        subject_alt_names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Some(PeerCert {
        common_name,
        distinguished_name: Some(subject.to_string()),
        subject_alt_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_identity_has_cn_dn_and_sans() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![
            "dev1.example".to_string(),
            "192.0.2.1".to_string(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dev1");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        let cert = params.self_signed(&key).unwrap();
        let id = parse_cert(cert.der()).unwrap();
        assert_eq!(id.common_name.as_deref(), Some("dev1"));
        let dn = id.distinguished_name.unwrap();
        assert!(dn.contains("CN=dev1") && dn.contains("O=Acme"), "{dn}");
        assert_eq!(id.subject_alt_names, vec!["dev1.example", "192.0.2.1"]);
    }
}
