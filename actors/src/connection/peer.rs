//! Where a client came from: the listener that accepted it, its address and,
//! on TLS listeners with client certificates, the identity in its certificate.
//! Authentication and authorization read it; nothing here is taken from the
//! client's CONNECT.

use std::net::SocketAddr;
use std::sync::Arc;

/// What the transport knows of a client before its CONNECT.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The listener's name as configured: `tcp`, `tls`, `ws` or `wss`.
    pub listener: Arc<str>,
    /// The client's address; behind a proxy speaking the PROXY protocol, the
    /// original client's address.
    pub addr: SocketAddr,
    /// The verified client certificate, if the client presented one.
    pub cert: Option<Arc<PeerCert>>,
}

/// The identity in a verified client certificate.
#[derive(Debug, Clone, Default)]
pub struct PeerCert {
    /// The subject's common name (CN).
    pub common_name: Option<String>,
    /// Subject alternative names (DNS names, e-mail addresses, URIs, IPs), as text.
    pub subject_alt_names: Vec<String>,
}

impl PeerInfo {
    /// A plain TCP client with no certificate.
    pub fn tcp(listener: &str, addr: SocketAddr) -> Self {
        Self {
            listener: listener.into(),
            addr,
            cert: None,
        }
    }
}

impl std::fmt::Display for PeerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}
