//! A throwaway PKI for the TLS tests, made at test time with rcgen: a CA, a
//! server certificate for `127.0.0.1` / `localhost`, and client certificates
//! (valid, expired, or from another CA), written as PEM files into a temp dir.
//! Also the rustls client configurations the tests connect with.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;

/// A CA with its server certificate, in its own temp dir (removed on drop).
pub struct Pki {
    pub dir: PathBuf,
    ca: Certificate,
    ca_key: KeyPair,
}

/// A client certificate's PEM files.
#[derive(Clone, Debug)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn unique_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "roost-pki-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Pki {
    /// A new CA named `name`, with `ca.pem`, `server.pem` and `server.key`.
    pub fn new(name: &str) -> Pki {
        let dir = unique_dir(name);
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Roost test CA {name}"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let pki = Pki { dir, ca, ca_key };
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
        std::fs::write(pki.dir.join("server.pem"), cert.pem()).unwrap();
        std::fs::write(pki.dir.join("server.key"), key.serialize_pem()).unwrap();
        pki
    }

    /// The path of a file in the PKI's dir, as a string (for env overrides).
    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// A client certificate with common name `cn` (and organization `Roost
    /// Tests`), signed by this CA; `expired` makes it valid in 2020 only.
    pub fn client(&self, cn: &str, expired: bool) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![format!("{cn}.devices.example")]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Roost Tests");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let name = format!("client-{cn}{}", if expired { "-expired" } else { "" });
        let files = ClientCert {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    /// Environment overrides that enable listener `name` (`tls` or `wss`) on a
    /// free port with this PKI's server certificate and CA.
    pub fn listener_env(&self, name: &str) -> Vec<(String, String)> {
        let key = |k: &str| format!("ROOST__LISTENERS__{}__{k}", name.to_uppercase());
        vec![
            (key("ENABLED"), "true".into()),
            (key("BIND"), "127.0.0.1:0".into()),
            (key("CERTFILE"), self.path("server.pem")),
            (key("KEYFILE"), self.path("server.key")),
            (key("CACERTFILE"), self.path("ca.pem")),
        ]
    }

    /// A rustls client configuration trusting this CA, offering `versions`
    /// (both when empty), with `client` as its certificate if given.
    pub fn client_config(
        &self,
        client: Option<&ClientCert>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.dir.join("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let versions = if versions.is_empty() {
            rustls::ALL_VERSIONS
        } else {
            versions
        };
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
        let config = match client {
            Some(c) => {
                let chain = CertificateDer::pem_file_iter(&c.cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_file(&c.key).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a TLS handshake with the broker at `addr` over `tcp` (server name
/// 127.0.0.1). With TLS 1.3 a refused client certificate shows only on the first
/// read after the handshake, so `Ok` does not mean the server accepted it.
pub async fn tls_handshake(
    tcp: TcpStream,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio::time::timeout(super::RECV_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

/// A [`super::RawClient`] over TLS to `addr`; panics if the handshake fails.
pub async fn raw_tls(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    version: roost_protocol::ProtocolVersion,
) -> super::RawClient {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let tls = tls_handshake(tcp, config)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
    super::RawClient::over(tls, local, version)
}
