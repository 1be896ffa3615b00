//! What the broker tells operators about its clients, their session queues
//! and its listeners (the REST API's `clients`, `mqueue_messages`,
//! `inflight_messages` and `listeners`, EMQX's shapes): plain values the
//! runtime fills in, so the API never reaches its tables.

use crate::client::ClientInfo;
use crate::message::Message;
use roost_protocol::QoS;
use std::sync::Arc;
use std::time::SystemTime;

/// A session, connected or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub client_id: Arc<str>,
    pub connected: bool,
    pub hibernating: bool,
    pub subscriptions: usize,
    /// QoS 1/2 messages sent and not acknowledged.
    pub inflight: usize,
    /// Messages queued behind the inflight window.
    pub mqueue: usize,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry_interval: u32,
}

/// One client as the clients API lists it: connected, or only its session
/// (EMQX lists offline persistent sessions too, with `connected: false`).
#[derive(Debug, Clone)]
pub struct ClientDetail {
    /// Who the client is, as of its last CONNECT (an offline session keeps
    /// what its last connection said).
    pub info: Arc<ClientInfo>,
    /// Its connection is open.
    pub connected: bool,
    /// Its connection (or, offline, its session) hibernates.
    pub hibernating: bool,
    /// Its session's counts and expiry.
    pub session: SessionSummary,
    /// When its session was created.
    pub created_at: SystemTime,
    /// When its last connection closed, while it is offline.
    pub disconnected_at: Option<SystemTime>,
    /// The queue's bound (`mqtt.max_mqueue_len`, 0 = none).
    pub mqueue_max: usize,
    /// The inflight window's cap (`mqtt.max_inflight`).
    pub inflight_max: usize,
    /// Inbound QoS 2 messages awaiting PUBREL.
    pub awaiting_rel: usize,
    /// The current (or last) connection's packet and message counters.
    pub counters: ConnCounters,
}

/// What one connection has read and written so far (EMQX's `recv_pkt`,
/// `recv_msg`, `send_pkt`, `send_msg`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnCounters {
    /// Packets read.
    pub recv_pkt: u64,
    /// PUBLISH packets read.
    pub recv_msg: u64,
    /// Packets written (the acks written directly included).
    pub send_pkt: u64,
    /// PUBLISH packets written.
    pub send_msg: u64,
}

/// Which of a session's two message stores to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionQueue {
    /// The bounded queue behind the inflight window.
    MQueue,
    /// QoS 1/2 messages sent and not yet acknowledged.
    Inflight,
}

/// One message waiting in a session's queue or inflight window.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message: Arc<Message>,
    /// The QoS it goes (or went) out with.
    pub qos: QoS,
    /// Its packet id, once sent (inflight only).
    pub packet_id: Option<u16>,
}

/// One MQTT listener, configured and maybe running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// `tcp`, `tls`, `ws` or `wss`: its config section, also its type.
    pub name: String,
    pub enabled: bool,
    /// The address it is bound to (the configured one if it is not running).
    pub bind: String,
    /// Its acceptor is running.
    pub running: bool,
    pub max_connections: usize,
    /// Its live connections (handshaking ones included).
    pub current_connections: usize,
}
