//! Who a client is and where it came from: the transport's [`PeerInfo`]
//! (listener, address, certificate identity), and the [`ClientInfo`] that
//! hooks, the authorizer and the broker API see once the client has
//! authenticated (EMQX's `clientinfo`).

use roost_protocol::ProtocolVersion;
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// The subject's distinguished name, e.g. `CN=dev1, O=Acme` (RFC 4514 order
    /// as the certificate lists it).
    pub distinguished_name: Option<String>,
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

/// What an authenticator learned about a client and wants the authorizer to
/// read later (a JWT's `acl` claim, say). Opaque to the runtime: it only
/// carries it from `client.authenticate` to `client.authorize`.
pub type AuthAttrs = Arc<dyn Any + Send + Sync>;

/// A connected client as hooks and the broker API see it.
#[derive(Clone)]
pub struct ClientInfo {
    pub client_id: Arc<str>,
    /// The CONNECT's user name, or the one enhanced authentication found.
    pub username: Option<Arc<str>>,
    pub peer: PeerInfo,
    pub proto_ver: ProtocolVersion,
    /// Bypasses authorization (EMQX's `is_superuser`).
    pub is_superuser: bool,
    /// Set by the authenticator that let the client in.
    pub attrs: Option<AuthAttrs>,
    /// The CONNECT's Clean Start (Clean Session for 3.1.1).
    pub clean_start: bool,
    /// The keepalive in force, in seconds (0 = none).
    pub keepalive: u16,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry_interval: u32,
    /// When the CONNECT was accepted.
    pub connected_at: SystemTime,
}

impl ClientInfo {
    /// A client that has not authenticated yet: what CONNECT says of it.
    pub fn new(client_id: Arc<str>, peer: PeerInfo, proto_ver: ProtocolVersion) -> ClientInfo {
        ClientInfo {
            client_id,
            username: None,
            peer,
            proto_ver,
            is_superuser: false,
            attrs: None,
            clean_start: true,
            keepalive: 0,
            expiry_interval: 0,
            connected_at: SystemTime::now(),
        }
    }

    /// The user name, or "" (for templates and logs).
    pub fn username_or_empty(&self) -> &str {
        self.username.as_deref().unwrap_or("")
    }
}

impl std::fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInfo")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("peer", &self.peer.addr)
            .field("proto_ver", &self.proto_ver)
            .field("is_superuser", &self.is_superuser)
            .finish_non_exhaustive()
    }
}
