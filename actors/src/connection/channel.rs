//! The MQTT channel: the pure protocol logic of one connection, as EMQX's
//! `emqx_channel`. [`Channel::handle_in`] takes a decoded packet and the time
//! and returns what the connection must do (an [`Effect`]); the channel does
//! no I/O, reads no clock, draws no random numbers and knows no actors, so
//! every rule here is unit-tested with packets and instants alone
//! (`channel/tests.rs`).

use crate::config::MqttConfig;
use crate::session::Inbound;
use bytes::BytesMut;
use roost_core::Message;
use roost_protocol::topic::validate_topic_name;
use roost_protocol::{
    Auth, ConnAck, Connect, Disconnect, Packet, Properties, ProtocolVersion, PubAck, PubComp,
    PubRec, Publish, PublishRef, QoS, ReasonCode, Subscribe, Unsubscribe, Will,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A map keyed by a packet identifier or topic alias (u16): looked up for every
/// QoS 2 PUBLISH / PUBREL and aliased PUBLISH, so hashed with foldhash.
type PacketIdMap<V> = HashMap<u16, V, foldhash::fast::RandomState>;

/// A protocol violation: the connection is closed, with DISCONNECT `reason` first
/// for 5.0 clients (after CONNACK) [MQTT-4.13.1-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub reason: ReasonCode,
    pub why: &'static str,
}

fn violation(reason: ReasonCode, why: &'static str) -> Violation {
    Violation { reason, why }
}

/// What the connection must do for one packet from its client: the answer of
/// [`Channel::handle_in`], one value per packet. What needs the hooks
/// (authentication, `client.authorize`), the session or the router is the
/// connection's to carry out; the protocol rules were applied here already.
#[derive(Debug)]
pub enum Effect {
    /// Nothing to send or do (a QoS 0 PUBLISH refused without a word).
    None,
    /// Send this packet: PINGRESP, the PUBCOMP of a PUBREL, the ack of a
    /// PUBLISH that is not routed (a resent QoS 2 one, or one refused).
    Send(Packet),
    /// Authorize the publish (`client.authorize`, after topic alias
    /// resolution, as EMQX), route the message, then send `ack` (if any).
    Publish {
        message: Arc<Message>,
        ack: Option<Packet>,
    },
    /// Hand this to the session: the client's PUBACK / PUBREC / PUBCOMP of
    /// outbound messages.
    Session(Inbound),
    /// Authorize the filters (`client.authorize`), subscribe what is allowed,
    /// answer SUBACK.
    Subscribe(Subscribe),
    /// Unsubscribe the filters, answer UNSUBACK.
    Unsubscribe(Unsubscribe),
    /// The first packet, a CONNECT: run the CONNECT flow (the client.connect
    /// and client.authenticate hooks, [`Channel::connect`], the session,
    /// CONNACK). Boxed as the CONNECT flow boxes it anyway.
    Connect(Box<Connect>),
    /// An AUTH with the Authentication Method the client connected with:
    /// re-authentication [MQTT-4.12.1-1], judged by the `client.authenticate` hooks.
    Reauthenticate(Auth),
    /// The client's DISCONNECT was accepted: close normally. The will and the
    /// new Session Expiry Interval it decided are in [`Channel::will_due`] and
    /// [`Channel::new_session_expiry`].
    Disconnect,
    /// Close the connection without a word: a first packet other than
    /// CONNECT [MQTT-3.1.0-1], or a packet after the channel ended.
    Close,
    /// A protocol violation: close, with DISCONNECT `reason` for 5.0.
    Violation(Violation),
}

impl From<Violation> for Effect {
    fn from(v: Violation) -> Effect {
        Effect::Violation(v)
    }
}

/// Where the channel is in the life of its connection (EMQX's `conn_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for CONNECT.
    Idle,
    /// CONNECT accepted by [`Channel::connect`].
    Connected,
    /// The client's DISCONNECT was accepted, or it broke a rule: the
    /// connection closes, and nothing it sends afterwards is handled.
    Disconnected,
}

/// What a client's DISCONNECT decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Farewell {
    /// 0x04 Disconnect with Will Message: the will goes out all the same.
    publish_will: bool,
    /// A new Session Expiry Interval.
    expiry: Option<u32>,
}

/// What CONNECT negotiated, for the connection actor to open the session.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub client_id: Arc<str>,
    /// The client id was assigned by the server (5.0 empty client id).
    pub assigned: bool,
    pub clean_start: bool,
    /// Session Expiry Interval in seconds after capping (u32::MAX = never).
    pub expiry: u32,
    pub will: Option<Will>,
    /// Keepalive in force (seconds, 0 = none).
    pub keep_alive: u16,
    pub receive_maximum: u16,
}

/// Per-connection protocol state.
pub struct Channel {
    /// Shared by every connection (one copy per broker, not per client).
    config: Arc<MqttConfig>,
    pub version: ProtocolVersion,
    pub client_id: Arc<str>,
    phase: Phase,
    /// The number of the client id assigned to a client that connects without
    /// one: given at construction (the connection draws it at random), so the
    /// channel draws no random numbers and its tests are repeatable.
    seed: u64,
    /// The Authentication Method the client connected with: AUTH packets are
    /// allowed with it only [MQTT-4.12.0-7] [MQTT-4.12.1-1].
    authentication_method: Option<String>,
    /// Aliases the client set for its publishes (client -> server).
    aliases_in: PacketIdMap<Arc<str>>,
    /// Aliases we set for our publishes (server -> client).
    aliases_out: HashMap<Arc<str>, u16, foldhash::quality::RandomState>,
    client_alias_max: u16,
    client_max_packet_size: u32,
    request_problem_information: bool,
    /// Inbound QoS 2 packet ids received and not yet released by PUBREL, with
    /// when they arrived (ids older than `await_rel_timeout` are forgotten, as EMQX).
    awaiting_rel: PacketIdMap<Instant>,
    connect_expiry: u32,
    /// What the client's DISCONNECT said, once it came.
    farewell: Option<Farewell>,
    /// The topic of the last routed PUBLISH, already checked: a client that
    /// publishes to one topic again and again (the common case) shares one
    /// allocation and skips the topic checks.
    last_topic: Option<Arc<str>>,
}

impl Channel {
    /// A channel waiting for CONNECT. `seed` numbers the client id assigned
    /// if the client connects without one (`roost-{seed:016x}`).
    pub fn new(config: impl Into<Arc<MqttConfig>>, seed: u64) -> Channel {
        Channel {
            config: config.into(),
            version: ProtocolVersion::V3_1_1,
            client_id: "".into(),
            phase: Phase::Idle,
            seed,
            authentication_method: None,
            aliases_in: PacketIdMap::default(),
            aliases_out: HashMap::default(),
            client_alias_max: 0,
            client_max_packet_size: u32::MAX,
            request_problem_information: true,
            awaiting_rel: PacketIdMap::default(),
            connect_expiry: 0,
            farewell: None,
            last_topic: None,
        }
    }

    /// Whether CONNECT was accepted (still true once the channel has ended:
    /// a 5.0 client that completed CONNECT is told why it is closed).
    pub fn is_connected(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// The Authentication Method the client connected with (enhanced
    /// authentication), for the AUTH and CONNACK packets of the exchange.
    pub fn authentication_method(&self) -> Option<&String> {
        self.authentication_method.as_ref()
    }

    /// Handles one packet from the client at `now`: the whole dispatch over
    /// packet kinds, as EMQX's `emqx_channel:handle_in`. Returns what the
    /// connection must do; the hot path (PUBLISH, acks) allocates nothing
    /// beyond the routed message itself.
    pub fn handle_in(&mut self, packet: Packet, now: Instant) -> Effect {
        let effect = match self.phase {
            Phase::Idle => match packet {
                Packet::Connect(c) => Effect::Connect(Box::new(c)),
                // [MQTT-3.1.0-1] the first packet must be CONNECT.
                _ => Effect::Close,
            },
            Phase::Connected => self.connected_in(packet, now),
            // [MQTT-3.14.4-1] nothing may follow DISCONNECT; nothing that
            // follows a violation is acted on either.
            Phase::Disconnected => Effect::Close,
        };
        if matches!(effect, Effect::Disconnect | Effect::Violation(_)) {
            self.phase = Phase::Disconnected;
        }
        effect
    }

    /// [`Self::handle_in`] once CONNECT was accepted.
    fn connected_in(&mut self, packet: Packet, now: Instant) -> Effect {
        match packet {
            Packet::Publish(p) => self.publish(p, now).unwrap_or_else(Effect::from),
            Packet::PubAck(a) => Effect::Session(Inbound::PubAck(a.packet_id)),
            Packet::PubRec(a) => Effect::Session(Inbound::PubRec(a.packet_id, a.reason_code)),
            Packet::PubComp(a) => Effect::Session(Inbound::PubComp(a.packet_id)),
            Packet::PubRel(a) => Effect::Send(self.pubrel(a.packet_id, now)),
            // Subscription identifier 0 and No Local on a shared subscription
            // [MQTT-3.8.3-4] are refused by the decoder already.
            Packet::Subscribe(s) => Effect::Subscribe(s),
            Packet::Unsubscribe(u) => Effect::Unsubscribe(u),
            // [MQTT-3.12.4-1]
            Packet::PingReq => Effect::Send(Packet::PingResp),
            Packet::Disconnect(d) => match self.disconnect(&d) {
                Ok(()) => Effect::Disconnect,
                Err(v) => Effect::Violation(v),
            },
            // [MQTT-3.1.0-2]
            Packet::Connect(_) => {
                Effect::Violation(violation(ReasonCode::ProtocolError, "second CONNECT"))
            }
            Packet::Auth(a) => match &self.authentication_method {
                // [MQTT-4.12.0-7]
                None => Effect::Violation(violation(
                    ReasonCode::ProtocolError,
                    "AUTH without enhanced authentication",
                )),
                // [MQTT-4.12.1-1]
                Some(m) if a.properties.authentication_method.as_ref() != Some(m) => {
                    Effect::Violation(violation(
                        ReasonCode::ProtocolError,
                        "re-authentication with another method",
                    ))
                }
                Some(_) => Effect::Reauthenticate(a),
            },
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Effect::Violation(violation(
                    ReasonCode::ProtocolError,
                    "server-to-client packet from a client",
                ))
            }
        }
    }

    /// Checks CONNECT. On refusal returns the CONNACK reason code (the caller sends
    /// CONNACK with it and closes) [MQTT-3.2.2-*].
    pub fn connect(&mut self, c: &Connect) -> Result<Accepted, ReasonCode> {
        self.version = c.protocol;
        let v5 = c.protocol.is_v5();
        let p = &c.properties;
        if v5 && p.receive_maximum == Some(0) {
            return Err(ReasonCode::ProtocolError);
        }
        if v5 && p.maximum_packet_size == Some(0) {
            return Err(ReasonCode::ProtocolError);
        }
        // An Authentication Method is the access chain's to judge (SCRAM-SHA-256).
        if c.client_id.len() > self.config.max_clientid_len {
            return Err(ReasonCode::ClientIdentifierNotValid);
        }
        let (client_id, assigned): (Arc<str>, bool) = if c.client_id.is_empty() {
            // 3.1.1: an empty id requires clean session [MQTT-3.1.3-8]; 3.1 has no
            // empty ids; 5.0 assigns one [MQTT-3.1.3-6].
            if !v5 && (!c.clean_start || c.protocol == ProtocolVersion::V3_1) {
                return Err(ReasonCode::ClientIdentifierNotValid);
            }
            (format!("roost-{:016x}", self.seed).into(), true)
        } else {
            (c.client_id.as_str().into(), false)
        };
        if let Some(w) = &c.will {
            if validate_topic_name(&w.topic).is_err() {
                return Err(ReasonCode::TopicNameInvalid);
            }
            if (w.qos as u8) > self.config.max_qos_allowed {
                return Err(ReasonCode::QoSNotSupported);
            }
            if w.retain && !self.config.retain_available {
                return Err(ReasonCode::RetainNotSupported);
            }
        }
        let cap = self
            .config
            .session_expiry_interval
            .as_secs()
            .min(u32::MAX as u64) as u32;
        let expiry = if v5 {
            p.session_expiry_interval.unwrap_or(0).min(cap)
        } else if c.clean_start {
            0
        } else {
            cap
        };
        let keep_alive = if v5 {
            self.config.keepalive_for(c.keep_alive)
        } else {
            // Server Keep Alive is a 5.0 CONNACK property: a 3.1.1 client
            // cannot be told, so its own value holds (as EMQX).
            c.keep_alive
        };
        self.client_id = client_id.clone();
        self.phase = Phase::Connected;
        self.authentication_method = p.authentication_method.clone();
        self.client_alias_max = if v5 {
            p.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        self.client_max_packet_size = p.maximum_packet_size.unwrap_or(u32::MAX);
        self.request_problem_information = p.request_problem_information != Some(0);
        self.connect_expiry = expiry;
        Ok(Accepted {
            client_id,
            assigned,
            clean_start: c.clean_start,
            expiry,
            will: c.will.clone(),
            keep_alive,
            receive_maximum: if v5 {
                p.receive_maximum.unwrap_or(u16::MAX)
            } else {
                u16::MAX
            },
        })
    }

    /// The CONNACK for an accepted CONNECT, with the 5.0 properties that tell the
    /// client our limits [MQTT-3.2.2-*].
    pub fn connack(
        &self,
        accepted: &Accepted,
        session_present: bool,
        connect: &Connect,
    ) -> ConnAck {
        let mut props = Properties::default();
        if self.version.is_v5() {
            let c = &self.config;
            props.receive_maximum = Some(c.max_inflight);
            props.maximum_packet_size = Some(c.max_packet_size);
            if c.max_topic_alias > 0 {
                props.topic_alias_maximum = Some(c.max_topic_alias);
            }
            if c.max_qos_allowed < 2 {
                props.maximum_qos = Some(c.max_qos_allowed);
            }
            props.retain_available = Some(c.retain_available as u8);
            props.wildcard_subscription_available = Some(c.wildcard_subscription as u8);
            props.shared_subscription_available = Some(c.shared_subscription as u8);
            props.subscription_identifier_available = Some(1);
            if accepted.assigned {
                props.assigned_client_identifier = Some(accepted.client_id.to_string());
            }
            // Only when the client's own value is not the one in force
            // [MQTT-3.2.2-21].
            if accepted.keep_alive != connect.keep_alive {
                props.server_keep_alive = Some(accepted.keep_alive);
            }
            let requested = connect.properties.session_expiry_interval.unwrap_or(0);
            if requested != accepted.expiry {
                props.session_expiry_interval = Some(accepted.expiry);
            }
            if connect.properties.request_response_information == Some(1)
                && !c.response_information.is_empty()
            {
                props.response_information = Some(c.response_information.clone());
            }
        }
        ConnAck {
            session_present,
            reason_code: ReasonCode::Success,
            properties: props,
        }
    }

    /// Handles an inbound PUBLISH at `now`: topic alias, limits, QoS 2
    /// deduplication.
    fn publish(&mut self, mut p: Publish, now: Instant) -> Result<Effect, Violation> {
        let v5 = self.version.is_v5();
        if !p.properties.subscription_identifiers.is_empty() {
            // [MQTT-3.3.4-6] a client must not send a Subscription Identifier.
            return Err(violation(
                ReasonCode::ProtocolError,
                "subscription identifier in PUBLISH",
            ));
        }
        if (p.qos as u8) > self.config.max_qos_allowed {
            return Err(violation(ReasonCode::QoSNotSupported, "QoS above maximum"));
        }
        if p.retain && !self.config.retain_available {
            return Err(violation(
                ReasonCode::RetainNotSupported,
                "retain not available",
            ));
        }
        let topic: Arc<str> = match p.properties.topic_alias.take() {
            Some(alias) if v5 => {
                if alias == 0 || alias > self.config.max_topic_alias {
                    return Err(violation(
                        ReasonCode::TopicAliasInvalid,
                        "topic alias out of range",
                    ));
                }
                if p.topic.is_empty() {
                    match self.aliases_in.get(&alias) {
                        Some(t) => t.clone(),
                        None => {
                            return Err(violation(ReasonCode::ProtocolError, "unknown topic alias"))
                        }
                    }
                } else {
                    let t: Arc<str> = p.topic.as_str().into();
                    self.aliases_in.insert(alias, t.clone());
                    t
                }
            }
            _ => {
                if p.topic.is_empty() {
                    return Err(violation(
                        ReasonCode::ProtocolError,
                        "empty topic without alias",
                    ));
                }
                match &self.last_topic {
                    Some(last) if **last == *p.topic => last.clone(),
                    _ => p.topic.as_str().into(),
                }
            }
        };
        let checked = self
            .last_topic
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, &topic));
        if !checked {
            if validate_topic_name(&topic).is_err() {
                return Err(violation(
                    ReasonCode::TopicNameInvalid,
                    "invalid topic name",
                ));
            }
            let levels = topic.split('/').count();
            let too_deep =
                self.config.max_topic_levels != 0 && levels > self.config.max_topic_levels;
            // `$SYS` is the broker's own namespace; clients may not publish there.
            let refused = if topic.starts_with("$SYS") {
                Some(ReasonCode::NotAuthorized)
            } else if too_deep {
                Some(ReasonCode::TopicNameInvalid)
            } else {
                None
            };
            if let Some(reason) = refused {
                let code = if v5 { reason } else { ReasonCode::Success };
                return Ok(Self::ack(&p, code).map_or(Effect::None, Effect::Send));
            }
            self.last_topic = Some(topic.clone());
        }
        if p.qos == QoS::ExactlyOnce {
            if self.awaiting_rel.contains_key(&p.packet_id) {
                // A resent QoS 2 PUBLISH: acknowledge again, deliver once [MQTT-4.3.3-10].
                return Ok(Self::ack(&p, ReasonCode::Success).map_or(Effect::None, Effect::Send));
            }
            let limit = if v5 {
                self.config.max_inflight as usize
            } else {
                self.config.max_awaiting_rel
            };
            if limit != 0 && self.awaiting_rel.len() >= limit {
                let timeout = self.config.await_rel_timeout;
                self.awaiting_rel
                    .retain(|_, at| now.saturating_duration_since(*at) < timeout);
            }
            if limit != 0 && self.awaiting_rel.len() >= limit {
                return Err(violation(
                    ReasonCode::ReceiveMaximumExceeded,
                    "too many QoS 2 messages awaiting PUBREL",
                ));
            }
            self.awaiting_rel.insert(p.packet_id, now);
        }
        let ack = Self::ack(&p, ReasonCode::Success);
        let message = Message::new(
            topic,
            p.payload,
            p.qos,
            p.retain,
            self.client_id.clone(),
            &p.properties,
        );
        Ok(Effect::Publish {
            message: Arc::new(message),
            ack,
        })
    }

    /// The PUBACK or PUBREC answering `p` (none for QoS 0).
    fn ack(p: &Publish, code: ReasonCode) -> Option<Packet> {
        match p.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => Some(Packet::PubAck(PubAck {
                packet_id: p.packet_id,
                reason_code: code,
                ..Default::default()
            })),
            QoS::ExactlyOnce => Some(Packet::PubRec(PubRec {
                packet_id: p.packet_id,
                reason_code: code,
                ..Default::default()
            })),
        }
    }

    /// PUBREL at `now` releases an inbound QoS 2 packet id.
    fn pubrel(&mut self, packet_id: u16, now: Instant) -> Packet {
        // An id older than await_rel_timeout was forgotten (as EMQX's
        // expire_awaiting_rel): its late PUBREL is answered 0x92.
        let timeout = self.config.await_rel_timeout;
        let known = self
            .awaiting_rel
            .remove(&packet_id)
            .is_some_and(|at| now.saturating_duration_since(at) < timeout);
        let reason_code = if known || !self.version.is_v5() {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        Packet::PubComp(PubComp {
            packet_id,
            reason_code,
            ..Default::default()
        })
    }

    /// The QoS 2 ids awaiting PUBREL, handed to the session when the connection ends.
    pub fn take_awaiting_rel(&mut self) -> Vec<u16> {
        self.awaiting_rel.drain().map(|(id, _)| id).collect()
    }

    /// Forgets an inbound QoS 2 packet id no PUBREL will release: its
    /// PUBLISH was refused with an error PUBREC.
    pub fn forget_awaiting_rel(&mut self, packet_id: u16) {
        self.awaiting_rel.remove(&packet_id);
    }

    /// Restores QoS 2 ids awaiting PUBREL from the session, as received at `now`.
    pub fn restore_awaiting_rel(&mut self, ids: Vec<u16>, now: Instant) {
        self.awaiting_rel
            .extend(ids.into_iter().map(|id| (id, now)));
    }

    /// Handles the client's DISCONNECT: decides the will and the new expiry.
    fn disconnect(&mut self, d: &Disconnect) -> Result<(), Violation> {
        let expiry = d.properties.session_expiry_interval;
        if let Some(e) = expiry {
            if self.connect_expiry == 0 && e != 0 {
                // [MQTT-3.14.2-2]
                return Err(violation(
                    ReasonCode::ProtocolError,
                    "session expiry set after connecting with 0",
                ));
            }
        }
        let cap = self
            .config
            .session_expiry_interval
            .as_secs()
            .min(u32::MAX as u64) as u32;
        let publish_will = d.reason_code == ReasonCode::DisconnectWithWillMessage;
        self.farewell = Some(Farewell {
            publish_will,
            expiry: expiry.map(|e| e.min(cap)),
        });
        Ok(())
    }

    /// Whether the will is due when the connection ends: it is, unless the
    /// client sent DISCONNECT (other than 0x04) [MQTT-3.1.2-8], or it was
    /// dropped (not authorized).
    pub fn will_due(&self) -> bool {
        self.farewell.is_none_or(|f| f.publish_will)
    }

    /// The will is not to be published (authorization refused it).
    pub fn drop_will(&mut self) {
        let expiry = self.farewell.and_then(|f| f.expiry);
        self.farewell = Some(Farewell {
            publish_will: false,
            expiry,
        });
    }

    /// The Session Expiry Interval the client's DISCONNECT set, if it did.
    pub fn new_session_expiry(&self) -> Option<u32> {
        self.farewell.and_then(|f| f.expiry)
    }

    /// Encodes the PUBLISH for an outbound message into `buf`: topic alias,
    /// expiry, and the client's Maximum Packet Size (false = discarded: too large
    /// [MQTT-3.1.2-25]). Encoded from the stored message's parts, so nothing is
    /// copied per subscriber but the bytes themselves.
    #[allow(clippy::too_many_arguments)]
    pub fn outbound_publish(
        &mut self,
        message: &Message,
        qos: QoS,
        packet_id: u16,
        dup: bool,
        retain: bool,
        subscription_ids: &[u32],
        now: Instant,
        buf: &mut BytesMut,
    ) -> bool {
        let mut topic: &str = &message.topic;
        let mut alias = None;
        let mut alias_assigned = false;
        if self.client_alias_max > 0 {
            match self.aliases_out.get(&message.topic) {
                Some(&a) => {
                    topic = "";
                    alias = Some(a);
                }
                None if self.aliases_out.len() < self.client_alias_max as usize => {
                    alias = Some(self.aliases_out.len() as u16 + 1);
                    alias_assigned = true;
                }
                None => {}
            }
        }
        // 5.0 properties are built only when there is one to send.
        let expiry = message.remaining_expiry(now);
        let properties = (self.version.is_v5()
            && (expiry.is_some()
                || !subscription_ids.is_empty()
                || alias.is_some()
                || message.properties.is_some()))
        .then(|| {
            let mut p = message.properties.as_deref().cloned().unwrap_or_default();
            p.message_expiry_interval = expiry;
            p.subscription_identifiers
                .extend_from_slice(subscription_ids);
            p.topic_alias = alias;
            p
        });
        let publish = PublishRef {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload: &message.payload,
            properties: properties.as_ref(),
        };
        if publish.encoded_len(self.version) > self.client_max_packet_size as usize {
            return false;
        }
        if let Err(e) = publish.encode(self.version, buf) {
            tracing::error!(error = %e, "encode_failed");
            return false;
        }
        if alias_assigned {
            if let Some(a) = alias {
                self.aliases_out.insert(message.topic.clone(), a);
            }
        }
        true
    }

    /// Removes what the client asked not to receive (Reason String and User
    /// Properties on packets other than PUBLISH, CONNACK and DISCONNECT when
    /// Request Problem Information is 0 [MQTT-3.1.2-29]), and properties that
    /// would push a packet over the client's Maximum Packet Size [MQTT-3.1.2-25].
    pub fn outbound_control(&self, mut packet: Packet) -> Option<Packet> {
        let strip = |p: &mut Properties| {
            p.reason_string = None;
            p.user_properties.clear();
        };
        if !self.request_problem_information {
            match &mut packet {
                Packet::PubAck(a) => strip(&mut a.properties),
                Packet::PubRec(a) => strip(&mut a.properties),
                Packet::PubRel(a) => strip(&mut a.properties),
                Packet::PubComp(a) => strip(&mut a.properties),
                Packet::SubAck(a) => strip(&mut a.properties),
                Packet::UnsubAck(a) => strip(&mut a.properties),
                Packet::Auth(a) => strip(&mut a.properties),
                _ => {}
            }
        }
        if roost_protocol::encoded_len(&packet, self.version) > self.client_max_packet_size as usize
        {
            match &mut packet {
                Packet::Disconnect(d) => strip(&mut d.properties),
                Packet::ConnAck(c) => strip(&mut c.properties),
                Packet::SubAck(a) => strip(&mut a.properties),
                Packet::UnsubAck(a) => strip(&mut a.properties),
                Packet::PubAck(a) => strip(&mut a.properties),
                Packet::PubRec(a) => strip(&mut a.properties),
                Packet::PubRel(a) => strip(&mut a.properties),
                Packet::PubComp(a) => strip(&mut a.properties),
                _ => {}
            }
            if roost_protocol::encoded_len(&packet, self.version)
                > self.client_max_packet_size as usize
            {
                return None;
            }
        }
        Some(packet)
    }

    /// Whether a packet of `len` bytes is within the client's Maximum Packet Size.
    pub fn fits(&self, len: usize) -> bool {
        len <= self.client_max_packet_size as usize
    }

    /// The keepalive deadline for a negotiated keepalive: x multiplier [MQTT-3.1.2-24].
    pub fn keepalive_timeout(&self, keep_alive: u16) -> Option<Duration> {
        (keep_alive > 0)
            .then(|| Duration::from_secs_f64(keep_alive as f64 * self.config.keepalive_multiplier))
    }
}

#[cfg(test)]
mod tests;
