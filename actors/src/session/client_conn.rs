//! The session's side of its client's connection: what it sends
//! ([`Outgoing`]) and what it may ask of the connection ([`ClientConn`]). The
//! connection module implements the trait; the session knows no connection.

use crate::context::ConnId;
use crate::router::Waiter;
use roost_core::delivery::SubscriptionIds;
use roost_core::listing::ConnCounters;
use roost_core::{BoxFuture, ClientInfo, Message};
use roost_protocol::{QoS, ReasonCode};
use std::sync::Arc;

/// A packet the session asks the connection to send.
#[derive(Debug)]
pub enum Outgoing {
    Publish {
        message: Arc<Message>,
        qos: QoS,
        packet_id: u16,
        dup: bool,
        retain: bool,
        subscription_ids: SubscriptionIds,
    },
    PubRel(u16, ReasonCode),
}

/// A session's bound connection.
pub trait ClientConn: Waiter + std::fmt::Debug {
    /// Its identity for its whole life (a Detach names it).
    fn conn_id(&self) -> ConnId;

    /// Hands it packets to write to the client. Returns the QoS 0 messages it
    /// refused (its backlog is past `force_shutdown`'s bound), for the session
    /// to count as dropped.
    fn send(&self, batch: Vec<Outgoing>) -> Vec<Arc<Message>>;

    /// Closes it: DISCONNECT `reason` to a 5.0 client, then the socket.
    /// False if it had closed already.
    fn kick(&self, reason: ReasonCode) -> bool;

    /// [`Self::kick`] for a takeover: answers with the inbound QoS 2 packet
    /// ids awaiting PUBREL, for the session that takes over; `None` if the
    /// connection did not answer (it ended meanwhile).
    fn kick_for_takeover(&self) -> BoxFuture<'_, Option<Vec<u16>>>;

    /// Stops it at once (it did not answer a kick).
    fn stop(&self);

    /// Whether it has closed.
    fn is_ended(&self) -> bool;

    /// Who its client is, once its CONNECT was accepted.
    fn client(&self) -> Option<Arc<ClientInfo>>;

    /// Whether it hibernates (no actor until its next packet).
    fn is_hibernating(&self) -> bool;

    /// What it has read and written so far (for the clients API).
    fn counters(&self) -> ConnCounters;
}
