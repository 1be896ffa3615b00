//! Broker-wide counters (EMQX's `messages.dropped.*` and friends), cheap atomics
//! bumped on the hot path and read by `$SYS` and, later, the HTTP API.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident => $inc:ident;)*) => {
        /// Monotonic counters since start.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        impl Metrics {
            $(
                #[doc = concat!("Adds one to `", stringify!($name), "`.")]
                pub fn $inc(&self) {
                    self.$name.fetch_add(1, Ordering::Relaxed);
                }
            )*

            /// Every counter with its name, for reports.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters! {
    /// PUBLISH packets received from clients.
    messages_received => inc_received;
    /// PUBLISH packets sent to clients.
    messages_delivered => inc_delivered;
    /// Dropped: a session's queue was full (the oldest message is dropped).
    messages_dropped_queue_full => inc_dropped_queue_full;
    /// Dropped: the message expired before it could be delivered.
    messages_dropped_expired => inc_dropped_expired;
    /// Dropped: no subscriber matched.
    messages_dropped_no_subscribers => inc_dropped_no_subscribers;
    /// Dropped: the subscriber's session had just ended.
    messages_dropped_no_session => inc_dropped_no_session;
    /// Dropped: larger than the client's Maximum Packet Size.
    messages_dropped_too_large => inc_dropped_too_large;
    /// Dropped: QoS 0 for an offline session with `mqueue_store_qos0: false`.
    messages_dropped_qos0_offline => inc_dropped_qos0_offline;
    /// Dropped: a shared-subscription message whose group had no other member.
    messages_dropped_no_group_member => inc_dropped_no_group_member;
    /// Times a connection stopped reading its client's publishes because a
    /// subscriber's session it published to was congested (`mqtt.backpressure`).
    publishers_paused => inc_publishers_paused;
    /// Of those pauses, the ones ended by `mqtt.backpressure_timeout` rather
    /// than by the session draining (a stuck subscriber).
    publishers_pause_timeouts => inc_publishers_pause_timeouts;
    /// Retained messages not stored because of `retainer.*` limits.
    retained_dropped => inc_retained_dropped;
    /// Client connections accepted.
    connections_accepted => inc_connections_accepted;
    /// Connections closed for a protocol violation or malformed packet.
    connections_protocol_errors => inc_protocol_errors;
    /// CONNECTs refused because a ban covers the client.
    connections_banned => inc_connections_banned;
    /// CONNECTs the authentication chain let in.
    authentication_success => inc_authentication_success;
    /// CONNECTs the authentication chain refused.
    authentication_failure => inc_authentication_failure;
    /// Publishes, subscriptions and wills authorization allowed (checked, not skipped).
    authorization_allow => inc_authorization_allow;
    /// Publishes, subscriptions and wills authorization denied.
    authorization_deny => inc_authorization_deny;
    /// Authorization decisions answered by a client's cache.
    authorization_cache_hit => inc_authorization_cache_hit;
    /// Idle sessions that hibernated (their actor stopped after `mqtt.idle_timeout`).
    sessions_hibernated => inc_sessions_hibernated;
    /// Hibernating sessions woken by a message or a call (a new actor started).
    sessions_woken => inc_sessions_woken;
    /// Idle connections that hibernated (their actor stopped after `mqtt.idle_timeout`).
    connections_hibernated => inc_connections_hibernated;
    /// Hibernating connections woken by a packet or a message (a new actor started).
    connections_woken => inc_connections_woken;
}
