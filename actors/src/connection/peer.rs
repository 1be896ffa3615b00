//! Where a client came from: the listener that accepted it, its address and,
//! on TLS listeners with client certificates, the identity in its certificate.
//! Authentication and authorization read it; nothing here is taken from the
//! client's CONNECT.

use crate::config::PeerCertAs;
use roost_protocol::Connect;

pub use roost_core::client::{PeerCert, PeerInfo};

/// Which parts of a client certificate a listener puts into CONNECT
/// (`peer_cert_as_username` / `peer_cert_as_clientid`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCertIdentity {
    pub username: PeerCertAs,
    pub clientid: PeerCertAs,
}

/// The part of `cert` that `what` names, if it has it.
pub fn cert_field(cert: &PeerCert, what: PeerCertAs) -> Option<&str> {
    match what {
        PeerCertAs::Disabled => None,
        PeerCertAs::Cn => cert.common_name.as_deref(),
        PeerCertAs::Dn => cert.distinguished_name.as_deref(),
    }
}

/// Replaces the CONNECT's username and/or client id by the client certificate's
/// CN or DN, as the listener says, before the channel or authentication see the
/// CONNECT. Without a certificate (or without that field) the CONNECT's own
/// values stay, as in EMQX.
pub fn apply_peer_cert_identity(c: &mut Connect, peer: &PeerInfo, identity: PeerCertIdentity) {
    let Some(cert) = peer.cert.as_deref() else {
        return;
    };
    if let Some(username) = cert_field(cert, identity.username) {
        c.username = Some(username.to_string());
    }
    if let Some(client_id) = cert_field(cert, identity.clientid) {
        c.client_id = client_id.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_protocol::{Properties, ProtocolVersion};
    use std::sync::Arc;

    fn connect() -> Connect {
        Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 60,
            client_id: "own-id".into(),
            will: None,
            username: Some("own-user".into()),
            password: None,
            properties: Properties::default(),
        }
    }

    fn peer(cert: Option<PeerCert>) -> PeerInfo {
        PeerInfo {
            listener: "tls".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            cert: cert.map(Arc::new),
        }
    }

    fn cert() -> PeerCert {
        PeerCert {
            common_name: Some("dev1".into()),
            distinguished_name: Some("CN=dev1, O=Acme".into()),
            subject_alt_names: vec!["dev1.example".into()],
        }
    }

    #[test]
    fn cn_and_dn_replace_username_and_client_id() {
        let mut c = connect();
        let identity = PeerCertIdentity {
            username: PeerCertAs::Dn,
            clientid: PeerCertAs::Cn,
        };
        apply_peer_cert_identity(&mut c, &peer(Some(cert())), identity);
        assert_eq!(c.username.as_deref(), Some("CN=dev1, O=Acme"));
        assert_eq!(c.client_id, "dev1");
    }

    #[test]
    fn disabled_or_no_certificate_keeps_the_connect() {
        let identity = PeerCertIdentity {
            username: PeerCertAs::Cn,
            clientid: PeerCertAs::Cn,
        };
        let mut c = connect();
        apply_peer_cert_identity(&mut c, &peer(None), identity);
        assert_eq!(c.username.as_deref(), Some("own-user"));
        assert_eq!(c.client_id, "own-id");
        let mut c = connect();
        apply_peer_cert_identity(&mut c, &peer(Some(cert())), PeerCertIdentity::default());
        assert_eq!(c.username.as_deref(), Some("own-user"));
        assert_eq!(c.client_id, "own-id");
        // A certificate without a CN leaves the client id alone.
        let mut c = connect();
        let no_cn = PeerCert {
            common_name: None,
            ..cert()
        };
        apply_peer_cert_identity(&mut c, &peer(Some(no_cn)), identity);
        assert_eq!(c.client_id, "own-id");
    }
}
