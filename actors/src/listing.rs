//! The runtime's answers to the clients, session-queue and listeners
//! listings of the broker API (`roost_core::listing`), read from the session
//! table and the listeners' gauges.

use crate::listener::acceptor_name;
use crate::session::SessionHandle;
use roost_core::api::SessionSummary;
use roost_core::listing::{ClientDetail, ListenerInfo, QueuedMessage, SessionQueue};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// One configured listener as the broker started it.
pub struct ListenerGauge {
    pub name: &'static str,
    pub enabled: bool,
    pub bind: String,
    pub max_connections: usize,
    /// Where it is bound and its live connections, when enabled.
    pub bound: Option<(SocketAddr, Arc<AtomicUsize>)>,
}

impl ListenerGauge {
    pub fn info(&self) -> ListenerInfo {
        ListenerInfo {
            name: self.name.to_string(),
            enabled: self.enabled,
            bind: self
                .bound
                .as_ref()
                .map_or_else(|| self.bind.clone(), |(addr, _)| addr.to_string()),
            running: self.bound.is_some()
                && ractor::registry::where_is(acceptor_name(self.name)).is_some(),
            max_connections: self.max_connections,
            current_connections: self
                .bound
                .as_ref()
                .map_or(0, |(_, live)| live.load(Ordering::Relaxed)),
        }
    }
}

/// A session's client as the clients API shows it; `None` for a session
/// that has ended or never had a client bound.
pub fn client_detail(
    h: &SessionHandle,
    mqueue_max: usize,
    inflight_max: usize,
) -> Option<ClientDetail> {
    if h.is_closed() {
        return None;
    }
    let info = h.client()?;
    let d = h.live.lock();
    let conn = d
        .binding
        .as_ref()
        .map(|b| &b.conn)
        .filter(|c| !c.is_ended());
    let connected = conn.is_some();
    let disconnected_at = match (connected, d.data.detached_at) {
        (false, Some(at)) => {
            SystemTime::now().checked_sub(Instant::now().saturating_duration_since(at))
        }
        _ => None,
    };
    Some(ClientDetail {
        connected,
        hibernating: conn.map_or_else(|| h.is_hibernating(), |c| c.is_hibernating()),
        session: SessionSummary {
            client_id: h.client_id.clone(),
            connected,
            hibernating: h.is_hibernating(),
            subscriptions: d.data.subscriptions.len(),
            inflight: d.data.inflight.len(),
            mqueue: d.data.mqueue.len(),
            expiry_interval: d.data.expiry,
        },
        created_at: h.created_at,
        disconnected_at,
        mqueue_max,
        inflight_max,
        awaiting_rel: d.data.awaiting_rel.len(),
        counters: conn.map(|c| c.counters()).unwrap_or_default(),
        info,
    })
}

/// The messages of one of a session's stores, oldest first.
pub fn session_messages(h: &SessionHandle, which: SessionQueue) -> Vec<QueuedMessage> {
    let d = h.live.lock();
    match which {
        SessionQueue::MQueue => d
            .data
            .mqueue
            .iter()
            .map(|q| QueuedMessage {
                message: q.message.clone(),
                qos: q.qos.min(q.message.qos),
                packet_id: None,
            })
            .collect(),
        SessionQueue::Inflight => d
            .data
            .inflight
            .iter()
            .map(|e| QueuedMessage {
                message: e.delivery.message.clone(),
                qos: e.delivery.qos.min(e.delivery.message.qos),
                packet_id: Some(e.packet_id),
            })
            .collect(),
    }
}
