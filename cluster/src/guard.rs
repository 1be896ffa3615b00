//! The handshake guard: what a stranger may hold on the cluster port before it
//! proves it knows the cookie. ractor_cluster's NodeServer reads the frames and
//! checks the cookie; it bounds a frame's size (`cluster.max_frame_size`, set on
//! the NodeServer, checked on the length before the payload is allocated) but
//! has no deadline. This guard watches the NodeServer's session events: an
//! incoming session that has not authenticated within
//! `cluster.handshake_timeout` is closed, and beyond
//! `cluster.max_pending_handshakes` authenticating at once a new one is closed
//! at once. It also tells the gate (`crate::gate`), which holds back frames
//! over `cluster.max_handshake_frame_size` until then, that a session has
//! authenticated. So strangers hold at most `max_pending_handshakes x
//! max_handshake_frame_size` bytes of frames, for at most `handshake_timeout`.

use parking_lot::Mutex;
use ractor::ActorId;
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::NodeEventSubscription;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The id of the guard's subscription to the NodeServer's events.
pub(crate) const SUBSCRIPTION_ID: &str = "roost/cluster/handshake_guard";

/// Closes incoming sessions that do not authenticate in time.
pub(crate) struct HandshakeGuard {
    /// Incoming sessions not authenticated yet.
    pending: Arc<Mutex<HashSet<ActorId>>>,
    timeout: Duration,
    max_pending: usize,
    /// The gate's connections waiting for authentication.
    gate: Arc<crate::gate::Pending>,
}

impl HandshakeGuard {
    pub(crate) fn new(
        timeout: Duration,
        max_pending: usize,
        gate: Arc<crate::gate::Pending>,
    ) -> HandshakeGuard {
        HandshakeGuard {
            pending: Arc::default(),
            timeout,
            max_pending,
            gate,
        }
    }
}

impl NodeEventSubscription for HandshakeGuard {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        // Sessions this node dialled are watched by the membership's own
        // heartbeat; the guard is for whoever comes in.
        if !ses.is_server {
            return;
        }
        let id = ses.actor.get_id();
        {
            let mut pending = self.pending.lock();
            if pending.len() >= self.max_pending {
                tracing::warn!(
                    peer = %ses.peer_addr,
                    max_pending_handshakes = self.max_pending,
                    "cluster_handshake_refused"
                );
                ses.actor.stop(Some("roost_too_many_handshakes".into()));
                return;
            }
            pending.insert(id);
        }
        let pending = self.pending.clone();
        let timeout = self.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if pending.lock().remove(&id) {
                tracing::warn!(
                    peer = %ses.peer_addr,
                    timeout = ?timeout,
                    "cluster_handshake_timeout"
                );
                ses.actor.stop(Some("roost_handshake_timeout".into()));
            }
        });
    }

    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        self.pending.lock().remove(&ses.actor.get_id());
        if ses.is_server {
            // The gate labels its connections with the peer's address.
            self.gate.authenticated(&ses.peer_addr);
        }
    }

    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        self.pending.lock().remove(&ses.actor.get_id());
    }
}
