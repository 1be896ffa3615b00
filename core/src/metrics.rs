//! Broker-wide counters with EMQX 5's names (`bytes.received`,
//! `packets.publish.sent`, `messages.dropped.no_subscribers`,
//! `client.connected`, `session.created`...): cheap relaxed atomics bumped
//! where the events happen, read by `$SYS`, the REST API (`/api/v5/metrics`)
//! and Prometheus. The runtime counts bytes, packets, messages and drops
//! itself (one relaxed add each, no hook on the publish path); the client and
//! session events come through the hook points ([`MetricsHook`], which the
//! binary registers).

use crate::client::ClientInfo;
use crate::hooks::{ConnectInfo, DisconnectReason, DropReason, Hook, HookPoint, TerminateReason};
use roost_protocol::{Packet, QoS, ReasonCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Stripes of a [`Counter`]: threads add to their own stripe, so that the
/// connections of different cores do not fight over one cache line on every
/// packet; a read sums the stripes.
const STRIPES: usize = 8;

/// One stripe, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Stripe(AtomicU64);

/// One monotonic counter, striped by thread (see [`STRIPES`]).
#[derive(Debug, Default)]
pub struct Counter([Stripe; STRIPES]);

/// This thread's stripe, handed out round-robin on first use.
#[inline]
fn stripe() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    MINE.with(|i| *i)
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

macro_rules! counters {
    (
        derived {
            $($(#[doc = $ddoc:literal])* $dname:literal => $derive:ident;)*
        }
        $($(#[doc = $doc:literal])* $field:ident = $name:literal;)*
    ) => {
        /// Monotonic counters since start, each with its EMQX name. The
        /// totals (`packets.received`, `messages.sent`...) are not counted
        /// but summed from their parts when read, so an event costs one add.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[doc = $doc])* pub $field: Counter,)*
        }

        impl Metrics {
            /// Every counter with its name: the totals, then the rest in the
            /// order declared (EMQX's groups: bytes, packets, messages,
            /// deliveries, client, session, access).
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![
                    $(($dname, self.$derive()),)*
                    $(($name, self.$field.get()),)*
                ]
            }

            /// What each counter counts, by name (Prometheus' `# HELP`).
            pub fn help(name: &str) -> &'static str {
                match name {
                    $($dname => concat!($($ddoc),*).trim_ascii_start(),)*
                    $($name => concat!($($doc),*).trim_ascii_start(),)*
                    _ => "",
                }
            }
        }
    };
}

counters! {
    derived {
        /// MQTT packets received from clients (every type).
        "packets.received" => packets_received;
        /// MQTT packets sent to clients (every type).
        "packets.sent" => packets_sent;
        /// PUBLISH packets received.
        "packets.publish.received" => packets_publish_received;
        /// PUBLISH packets sent.
        "packets.publish.sent" => messages_sent;
        /// PUBLISH messages received from connected clients.
        "messages.received" => messages_received;
        /// PUBLISH messages sent to clients.
        "messages.sent" => messages_sent;
        /// Messages delivered to subscribers (written to their connection).
        "messages.delivered" => messages_sent;
    }
    /// Bytes read from clients' sockets.
    bytes_received = "bytes.received";
    /// Bytes written to clients' sockets.
    bytes_sent = "bytes.sent";
    /// CONNECT packets received.
    packets_connect_received = "packets.connect.received";
    /// CONNACK packets sent.
    packets_connack_sent = "packets.connack.sent";
    /// CONNACK packets sent with a refusal.
    packets_connack_error = "packets.connack.error";
    /// CONNACK packets sent refusing the client's credentials.
    packets_connack_auth_error = "packets.connack.auth_error";
    /// PUBACK packets received.
    packets_puback_received = "packets.puback.received";
    /// PUBACK packets sent.
    packets_puback_sent = "packets.puback.sent";
    /// PUBREC packets received.
    packets_pubrec_received = "packets.pubrec.received";
    /// PUBREC packets sent.
    packets_pubrec_sent = "packets.pubrec.sent";
    /// PUBREL packets received.
    packets_pubrel_received = "packets.pubrel.received";
    /// PUBREL packets sent.
    packets_pubrel_sent = "packets.pubrel.sent";
    /// PUBCOMP packets received.
    packets_pubcomp_received = "packets.pubcomp.received";
    /// PUBCOMP packets sent.
    packets_pubcomp_sent = "packets.pubcomp.sent";
    /// SUBSCRIBE packets received.
    packets_subscribe_received = "packets.subscribe.received";
    /// SUBACK packets sent.
    packets_suback_sent = "packets.suback.sent";
    /// UNSUBSCRIBE packets received.
    packets_unsubscribe_received = "packets.unsubscribe.received";
    /// UNSUBACK packets sent.
    packets_unsuback_sent = "packets.unsuback.sent";
    /// PINGREQ packets received.
    packets_pingreq_received = "packets.pingreq.received";
    /// PINGRESP packets sent.
    packets_pingresp_sent = "packets.pingresp.sent";
    /// DISCONNECT packets received.
    packets_disconnect_received = "packets.disconnect.received";
    /// DISCONNECT packets sent.
    packets_disconnect_sent = "packets.disconnect.sent";
    /// AUTH packets received.
    packets_auth_received = "packets.auth.received";
    /// AUTH packets sent.
    packets_auth_sent = "packets.auth.sent";
    /// QoS 0 messages received from clients.
    messages_qos0_received = "messages.qos0.received";
    /// QoS 0 messages sent to clients.
    messages_qos0_sent = "messages.qos0.sent";
    /// QoS 1 messages received from clients.
    messages_qos1_received = "messages.qos1.received";
    /// QoS 1 messages sent to clients.
    messages_qos1_sent = "messages.qos1.sent";
    /// QoS 2 messages received from clients.
    messages_qos2_received = "messages.qos2.received";
    /// QoS 2 messages sent to clients.
    messages_qos2_sent = "messages.qos2.sent";
    /// QoS 1 and 2 deliveries acknowledged by subscribers (PUBACK, PUBCOMP).
    messages_acked = "messages.acked";
    /// Published messages that reached nobody (every reason).
    messages_dropped = "messages.dropped";
    /// Dropped: no subscriber matched.
    messages_dropped_no_subscribers = "messages.dropped.no_subscribers";
    /// Retained messages not stored because of `retainer.*` limits.
    messages_retained_dropped = "messages.retained.dropped";
    /// Deliveries to one session dropped (every reason).
    delivery_dropped = "delivery.dropped";
    /// Dropped: a session's queue was full (the oldest message is dropped).
    delivery_dropped_queue_full = "delivery.dropped.queue_full";
    /// Dropped: the message expired before it could be delivered.
    delivery_dropped_expired = "delivery.dropped.expired";
    /// Dropped: larger than the client's Maximum Packet Size.
    delivery_dropped_too_large = "delivery.dropped.too_large";
    /// Dropped: QoS 0 for an offline session with `mqueue_store_qos0: false`.
    delivery_dropped_qos0_msg = "delivery.dropped.qos0_msg";
    /// Dropped: the subscriber's session had just ended.
    delivery_dropped_no_session = "delivery.dropped.no_session";
    /// Dropped: a shared-subscription message whose group had no other member.
    delivery_dropped_no_group_member = "delivery.dropped.no_group_member";
    /// Dropped: for an offline durable session while the store was at
    /// `durable_storage.max_size`.
    delivery_dropped_storage_full = "delivery.dropped.storage_full";
    /// Times a connection stopped reading its client's publishes because a
    /// subscriber's session it published to was congested (`mqtt.backpressure`).
    publishers_paused = "publishers.paused";
    /// Of those pauses, the ones ended by `mqtt.backpressure_timeout` rather
    /// than by the session draining (a stuck subscriber).
    publishers_pause_timeouts = "publishers.pause_timeouts";
    /// CONNECTs the protocol accepted (`client.connect`).
    client_connect = "client.connect";
    /// CONNACKs about to be sent (`client.connack`).
    client_connack = "client.connack";
    /// Clients connected (`client.connected`).
    client_connected = "client.connected";
    /// CONNECTs and re-authentications put to authentication (`client.authenticate`).
    client_authenticate = "client.authenticate";
    /// CONNECTs no authenticator judged, let in anonymously.
    client_auth_anonymous = "client.auth.anonymous";
    /// Publishes, subscriptions and wills checked (`client.authorize`).
    client_authorize = "client.authorize";
    /// SUBSCRIBE packets of connected clients (`client.subscribe`).
    client_subscribe = "client.subscribe";
    /// UNSUBSCRIBE packets of connected clients (`client.unsubscribe`).
    client_unsubscribe = "client.unsubscribe";
    /// Connections of connected clients that ended (`client.disconnected`).
    client_disconnected = "client.disconnected";
    /// CONNECTs refused because a ban covers the client.
    client_banned = "client.banned";
    /// Connections closed for a protocol violation or malformed packet.
    client_protocol_errors = "client.protocol_errors";
    /// Connections closed before their CONNECT was complete because the
    /// partial CONNECTs of all connections held `mqtt.max_pre_connect_bytes`.
    client_pre_connect_refused = "client.pre_connect_refused";
    /// Idle connections that hibernated (their actor stopped after `mqtt.idle_timeout`).
    client_hibernated = "client.hibernated";
    /// Hibernating connections woken by a packet or a message (a new actor started).
    client_woken = "client.woken";
    /// Sessions created (`session.created`).
    session_created = "session.created";
    /// Sessions a reconnecting client resumed (`session.resumed`).
    session_resumed = "session.resumed";
    /// Sessions whose connection the same client id took over (`session.takenover`).
    session_takenover = "session.takenover";
    /// Sessions a Clean Start threw away (`session.discarded`).
    session_discarded = "session.discarded";
    /// Sessions ended (`session.terminated`).
    session_terminated = "session.terminated";
    /// Idle sessions that hibernated (their actor stopped after `mqtt.idle_timeout`).
    session_hibernated = "session.hibernated";
    /// Hibernating sessions woken by a message or a call (a new actor started).
    session_woken = "session.woken";
    /// CONNECTs the authentication chain let in.
    authentication_success = "authentication.success";
    /// Of those, the ones no authenticator judged (anonymous).
    authentication_success_anonymous = "authentication.success.anonymous";
    /// CONNECTs the authentication chain refused.
    authentication_failure = "authentication.failure";
    /// Publishes, subscriptions and wills authorization allowed (checked, not skipped).
    authorization_allow = "authorization.allow";
    /// Publishes, subscriptions and wills authorization denied.
    authorization_deny = "authorization.deny";
    /// Authorization decisions answered by a client's cache.
    authorization_cache_hit = "authorization.cache_hit";
    /// Events (messages, client events) a rule's FROM selected, one per rule.
    rules_matched = "rules.matched";
    /// Rule runs whose WHERE held (with an output).
    rules_passed = "rules.passed";
    /// Rule runs that failed (an exception, or no result).
    rules_failed = "rules.failed";
    /// Events dropped for a rule because its worker's queue was full.
    rules_dropped_queue_full = "rules.dropped.queue_full";
    /// Rule actions that succeeded.
    rules_actions_success = "rules.actions.success";
    /// Rule actions that failed.
    rules_actions_failed = "rules.actions.failed";
}

impl Metrics {
    /// The counter named `name` (an EMQX name), if there is one.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.snapshot()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    /// One packet read from a client, counted by its type (one add). A
    /// PUBLISH is counted as a message once the connection handles it
    /// ([`Self::message_received`]), not here.
    #[inline]
    pub fn packet_received(&self, packet: &Packet) {
        match packet {
            Packet::Connect(_) => &self.packets_connect_received,
            Packet::PubAck(_) => &self.packets_puback_received,
            Packet::PubRec(_) => &self.packets_pubrec_received,
            Packet::PubRel(_) => &self.packets_pubrel_received,
            Packet::PubComp(_) => &self.packets_pubcomp_received,
            Packet::Subscribe(_) => &self.packets_subscribe_received,
            Packet::Unsubscribe(_) => &self.packets_unsubscribe_received,
            Packet::PingReq => &self.packets_pingreq_received,
            Packet::Disconnect(_) => &self.packets_disconnect_received,
            Packet::Auth(_) => &self.packets_auth_received,
            // PUBLISH: see above; server-to-client types end the connection.
            _ => return,
        }
        .inc();
    }

    /// One control packet written to a client, by its MQTT packet type (the
    /// high nibble of its first byte); a PUBLISH is [`Self::message_sent`].
    #[inline]
    pub fn packet_sent(&self, packet_type: u8) {
        match packet_type {
            2 => &self.packets_connack_sent,
            4 => &self.packets_puback_sent,
            5 => &self.packets_pubrec_sent,
            6 => &self.packets_pubrel_sent,
            7 => &self.packets_pubcomp_sent,
            9 => &self.packets_suback_sent,
            11 => &self.packets_unsuback_sent,
            13 => &self.packets_pingresp_sent,
            14 => &self.packets_disconnect_sent,
            15 => &self.packets_auth_sent,
            _ => return,
        }
        .inc();
    }

    /// A PUBLISH from a connected client, by its QoS (one add).
    #[inline]
    pub fn message_received(&self, qos: QoS) {
        match qos {
            QoS::AtMostOnce => &self.messages_qos0_received,
            QoS::AtLeastOnce => &self.messages_qos1_received,
            QoS::ExactlyOnce => &self.messages_qos2_received,
        }
        .inc();
    }

    /// A PUBLISH written to a subscriber, by its QoS (one add).
    #[inline]
    pub fn message_sent(&self, qos: QoS) {
        match qos {
            QoS::AtMostOnce => &self.messages_qos0_sent,
            QoS::AtLeastOnce => &self.messages_qos1_sent,
            QoS::ExactlyOnce => &self.messages_qos2_sent,
        }
        .inc();
    }

    /// `messages.received` (= `packets.publish.received`): every QoS.
    pub fn messages_received(&self) -> u64 {
        self.messages_qos0_received.get()
            + self.messages_qos1_received.get()
            + self.messages_qos2_received.get()
    }

    /// `messages.sent` (= `messages.delivered`, `packets.publish.sent`): every QoS.
    pub fn messages_sent(&self) -> u64 {
        self.messages_qos0_sent.get()
            + self.messages_qos1_sent.get()
            + self.messages_qos2_sent.get()
    }

    fn packets_publish_received(&self) -> u64 {
        self.messages_received()
    }

    /// `packets.received`: every type.
    pub fn packets_received(&self) -> u64 {
        [
            &self.packets_connect_received,
            &self.packets_puback_received,
            &self.packets_pubrec_received,
            &self.packets_pubrel_received,
            &self.packets_pubcomp_received,
            &self.packets_subscribe_received,
            &self.packets_unsubscribe_received,
            &self.packets_pingreq_received,
            &self.packets_disconnect_received,
            &self.packets_auth_received,
        ]
        .iter()
        .map(|c| c.get())
        .sum::<u64>()
            + self.messages_received()
    }

    /// `packets.sent`: every type.
    pub fn packets_sent(&self) -> u64 {
        [
            &self.packets_connack_sent,
            &self.packets_puback_sent,
            &self.packets_pubrec_sent,
            &self.packets_pubrel_sent,
            &self.packets_pubcomp_sent,
            &self.packets_suback_sent,
            &self.packets_unsuback_sent,
            &self.packets_pingresp_sent,
            &self.packets_disconnect_sent,
            &self.packets_auth_sent,
        ]
        .iter()
        .map(|c| c.get())
        .sum::<u64>()
            + self.messages_sent()
    }

    /// A CONNACK refusal: `packets.connack.error`, and `.auth_error` when it
    /// is about the credentials.
    pub fn connack_refused(&self, reason: ReasonCode) {
        self.packets_connack_error.inc();
        if matches!(
            reason,
            ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword
        ) {
            self.packets_connack_auth_error.inc();
        }
    }

    /// A published message reached nobody: `messages.dropped` and the reason's.
    pub fn message_dropped(&self, reason: &DropReason) {
        self.messages_dropped.inc();
        if *reason == DropReason::NoSubscribers {
            self.messages_dropped_no_subscribers.inc();
        }
    }

    /// One delivery was dropped: `delivery.dropped` and the reason's.
    pub fn delivery_dropped(&self, reason: &DropReason) {
        self.delivery_dropped.inc();
        match reason {
            DropReason::QueueFull => &self.delivery_dropped_queue_full,
            DropReason::Expired => &self.delivery_dropped_expired,
            DropReason::TooLarge => &self.delivery_dropped_too_large,
            DropReason::Qos0Offline => &self.delivery_dropped_qos0_msg,
            DropReason::NoSession => &self.delivery_dropped_no_session,
            DropReason::NoGroupMember => &self.delivery_dropped_no_group_member,
            DropReason::StorageFull => &self.delivery_dropped_storage_full,
            DropReason::NoSubscribers => &self.messages_dropped_no_subscribers,
            DropReason::Hook(_) => return,
        }
        .inc();
    }
}

/// Counts the client and session events at their hook points (EMQX's
/// `emqx_metrics` does the same through its hooks). Every method is one
/// relaxed add; none is on the publish path.
pub struct MetricsHook(pub Arc<Metrics>);

impl MetricsHook {
    /// The points it counts at.
    pub const POINTS: [HookPoint; 9] = [
        HookPoint::ClientConnect,
        HookPoint::ClientConnack,
        HookPoint::ClientConnected,
        HookPoint::ClientDisconnected,
        HookPoint::SessionCreated,
        HookPoint::SessionResumed,
        HookPoint::SessionTakenover,
        HookPoint::SessionDiscarded,
        HookPoint::SessionTerminated,
    ];

    /// Runs before every other hook (a refusal by a later `client.connect`
    /// hook must not hide the CONNECT from the count).
    pub const PRIORITY: i32 = i32::MAX;
}

impl Hook for MetricsHook {
    fn client_connect(&self, _conn: &ConnectInfo) -> Result<(), ReasonCode> {
        self.0.client_connect.inc();
        Ok(())
    }

    fn client_connack(&self, _conn: &ConnectInfo, _reason: ReasonCode) {
        self.0.client_connack.inc();
    }

    fn client_connected(&self, _client: &Arc<ClientInfo>) {
        self.0.client_connected.inc();
    }

    fn client_disconnected(&self, _client: &Arc<ClientInfo>, _reason: DisconnectReason) {
        self.0.client_disconnected.inc();
    }

    fn session_created(&self, _client: &Arc<ClientInfo>) {
        self.0.session_created.inc();
    }

    fn session_resumed(&self, _client: &Arc<ClientInfo>) {
        self.0.session_resumed.inc();
    }

    fn session_takenover(&self, _client_id: &str) {
        self.0.session_takenover.inc();
    }

    fn session_discarded(&self, _client_id: &str) {
        self.0.session_discarded.inc();
    }

    fn session_terminated(&self, _client_id: &str, _reason: TerminateReason) {
        self.0.session_terminated.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dotted_and_every_one_has_help() {
        let mut seen = std::collections::HashSet::new();
        for (name, _) in Metrics::default().snapshot() {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.contains('.'), "{name} is not dotted");
            assert!(!Metrics::help(name).is_empty(), "{name} has no help");
        }
    }

    #[test]
    fn packets_count_in_the_total_and_by_type() {
        let m = Metrics::default();
        m.packet_received(&Packet::PingReq);
        m.packet_sent(13);
        m.message_sent(QoS::AtLeastOnce);
        m.message_received(QoS::ExactlyOnce);
        assert_eq!(m.get("messages.received"), Some(1));
        assert_eq!(m.get("packets.publish.received"), Some(1));
        assert_eq!(m.get("messages.delivered"), Some(1));
        assert_eq!(m.get("packets.received"), Some(2));
        assert_eq!(m.get("packets.pingreq.received"), Some(1));
        assert_eq!(m.get("packets.sent"), Some(2));
        assert_eq!(m.get("packets.publish.sent"), Some(1));
        assert_eq!(m.get("messages.qos1.sent"), Some(1));
        m.delivery_dropped(&DropReason::QueueFull);
        assert_eq!(m.get("delivery.dropped"), Some(1));
        assert_eq!(m.get("delivery.dropped.queue_full"), Some(1));
    }
}
