//! HTTPS on the HTTP listener (`http.ssl.*`, the keys of the MQTT TLS
//! listener), and the connect info ([`Peer`]) both kinds of connection give
//! the handlers. The rustls configuration is built before the broker starts,
//! so a missing or bad PEM file stops start-up naming its key.

use crate::auth::Peer;
use crate::config::HttpSslConfig;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use roost_core::config::{TlsVersion, Verify};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// What HTTPS needs: the rustls configuration and the handshake timeout.
#[derive(Clone)]
pub struct HttpsSettings {
    pub config: Arc<ServerConfig>,
    pub handshake_timeout: Duration,
}

/// A PEM file of `http.ssl.*` that cannot be used: a configuration error,
/// whose text names the key and the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpsError(pub String);

/// Reads the PEM files of `http.ssl.*`; `None` when HTTPS is off.
pub fn settings(ssl: &HttpSslConfig) -> Result<Option<HttpsSettings>, HttpsError> {
    if !ssl.enable {
        return Ok(None);
    }
    Ok(Some(HttpsSettings {
        config: Arc::new(server_config(ssl).map_err(HttpsError)?),
        handshake_timeout: ssl.handshake_timeout,
    }))
}

fn certificates(key: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("http.ssl.{key}: {path:?}: cannot read: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("http.ssl.{key}: {path:?}: not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "http.ssl.{key}: {path:?}: holds no PEM certificate"
        ));
    }
    Ok(certs)
}

fn server_config(o: &HttpSslConfig) -> Result<ServerConfig, String> {
    let certs = certificates("certfile", &o.certfile)?;
    let key_pem = std::fs::read(&o.keyfile)
        .map_err(|e| format!("http.ssl.keyfile: {:?}: cannot read: {e}", o.keyfile))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "http.ssl.keyfile: {:?}: holds no PEM private key: {e}",
            o.keyfile
        )
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
        .map_err(|e| format!("http.ssl: {e}"))?;
    let builder = if o.verify == Verify::None {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for cert in certificates("cacertfile", &o.cacertfile)? {
            roots
                .add(cert)
                .map_err(|e| format!("http.ssl.cacertfile: not a usable CA certificate: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if o.verify == Verify::Optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("http.ssl: {e}"))?)
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("http.ssl.certfile and keyfile: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A listener whose connections have done the TLS handshake. A task accepts
/// TCP connections and runs each handshake in its own task (with the
/// timeout), so one slow client does not hold up the others; it ends when
/// the server drops this listener.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, https: HttpsSettings) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(https.config);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = tokio::select! {
                    _ = tx.closed() => return,
                    accepted = tcp.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "http_accept_failed");
                            // Out of file descriptors and the like: give it a moment.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                let timeout = https.handshake_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "https_handshake_failed"),
                        Err(_) => tracing::debug!(%addr, "https_handshake_timeout"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task holds a sender for as long as this lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
