//! One connected session per client id after a partition heals. During a
//! partition each side runs its own client id locks, so a client that
//! reconnected to the other side got a session there while its old
//! connection may still be open on this side. When two nodes (re)connect,
//! each sends the other its connected clients and when they connected
//! (`Envelope::Connected`); for a client id connected on both, the older
//! connection loses: its node closes it with DISCONNECT 0x8E (Session taken
//! over) and ends its session, as a takeover with Clean Start 1 would. Both
//! nodes compare the same `(connected at, node)` pairs, so they agree on the
//! loser without another round.

use crate::Cluster;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// This node's connected clients: `(client id, connected at in ms)`.
pub(crate) fn connected(cluster: &Cluster) -> Vec<(String, u64)> {
    let Some(api) = cluster.api() else {
        return Vec::new();
    };
    api.client_details()
        .into_iter()
        .filter(|d| d.connected)
        .map(|d| (d.info.client_id.to_string(), ms(d.info.connected_at)))
        .collect()
}

/// `peer`'s connected clients arrived: closes the local connections that
/// lost to a newer one of the same client id there.
pub(crate) fn resolve(cluster: &Arc<Cluster>, peer: &Arc<str>, theirs: Vec<(String, u64)>) {
    let Some(api) = cluster.api() else { return };
    for (client_id, at) in theirs {
        let Some(local) = api.client_detail(&client_id).filter(|d| d.connected) else {
            continue;
        };
        let mine = (ms(local.info.connected_at), &*cluster.node);
        if mine >= (at, &**peer) {
            continue;
        }
        tracing::warn!(%client_id, newer_on = %peer, "session_duplicate_after_partition_closed");
        let api = api.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            api.hand_over(client_id.into(), false, peer).await;
        });
    }
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
