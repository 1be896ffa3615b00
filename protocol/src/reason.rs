//! MQTT 5.0 reason codes (spec 2.4), with the 3.1.1 CONNACK return-code mapping.

/// A reason code as defined by MQTT 5.0. For 3.1.1 the encoder maps CONNACK and
/// SUBACK codes to their 3.1.1 equivalents (see [`ReasonCode::connack_v3`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ReasonCode {
    /// Also "Normal disconnection" and "Granted QoS 0".
    #[default]
    Success = 0x00,
    /// Subscription granted with maximum QoS 1.
    GrantedQoS1 = 0x01,
    /// Subscription granted with maximum QoS 2.
    GrantedQoS2 = 0x02,
    /// Client disconnects but wants its will published.
    DisconnectWithWillMessage = 0x04,
    /// PUBACK/PUBREC: accepted, but nobody is subscribed.
    NoMatchingSubscribers = 0x10,
    /// UNSUBACK: there was no such subscription.
    NoSubscriptionExisted = 0x11,
    /// AUTH: another authentication step follows.
    ContinueAuthentication = 0x18,
    /// AUTH: the client starts re-authentication.
    ReAuthenticate = 0x19,
    /// Failure with no more specific code (3.1.1 SUBACK failure 0x80).
    UnspecifiedError = 0x80,
    /// The packet could not be parsed.
    MalformedPacket = 0x81,
    /// A well-formed packet that breaks the protocol.
    ProtocolError = 0x82,
    /// Valid, but this implementation refuses it.
    ImplementationSpecificError = 0x83,
    /// CONNECT protocol level not supported.
    UnsupportedProtocolVersion = 0x84,
    /// Client identifier rejected.
    ClientIdentifierNotValid = 0x85,
    /// Credentials rejected.
    BadUserNameOrPassword = 0x86,
    /// The client may not do this.
    NotAuthorized = 0x87,
    /// The server cannot serve now.
    ServerUnavailable = 0x88,
    /// The server is busy; try later.
    ServerBusy = 0x89,
    /// The client is banned.
    Banned = 0x8A,
    /// The server is shutting down.
    ServerShuttingDown = 0x8B,
    /// Authentication method unsupported or changed.
    BadAuthenticationMethod = 0x8C,
    /// Nothing received within 1.5 times the keep alive.
    KeepAliveTimeout = 0x8D,
    /// Another connection with the same client id took the session.
    SessionTakenOver = 0x8E,
    /// Topic filter well-formed but not accepted.
    TopicFilterInvalid = 0x8F,
    /// Topic name well-formed but not accepted.
    TopicNameInvalid = 0x90,
    /// The packet identifier is already in use.
    PacketIdentifierInUse = 0x91,
    /// PUBREL/PUBCOMP for an unknown packet identifier.
    PacketIdentifierNotFound = 0x92,
    /// More unacknowledged QoS>0 PUBLISHes than Receive Maximum.
    ReceiveMaximumExceeded = 0x93,
    /// Topic alias 0, above the maximum, or unknown.
    TopicAliasInvalid = 0x94,
    /// The packet exceeds the maximum packet size.
    PacketTooLarge = 0x95,
    /// The publish rate is too high.
    MessageRateTooHigh = 0x96,
    /// An implementation or administrative quota was exceeded.
    QuotaExceeded = 0x97,
    /// Disconnected by an administrator.
    AdministrativeAction = 0x98,
    /// Payload does not match the payload format indicator.
    PayloadFormatInvalid = 0x99,
    /// The server does not support retained messages.
    RetainNotSupported = 0x9A,
    /// QoS above the server's Maximum QoS.
    QoSNotSupported = 0x9B,
    /// Temporarily use another server.
    UseAnotherServer = 0x9C,
    /// Permanently use another server.
    ServerMoved = 0x9D,
    /// Shared subscriptions are not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// Too many connections too fast.
    ConnectionRateExceeded = 0x9F,
    /// The connection lasted its maximum allowed time.
    MaximumConnectTime = 0xA0,
    /// Subscription identifiers are not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// Wildcard subscriptions are not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// The reason code for a wire byte, or `None` if the byte is not a defined code.
    pub fn from_u8(v: u8) -> Option<ReasonCode> {
        use ReasonCode::*;
        Some(match v {
            0x00 => Success,
            0x01 => GrantedQoS1,
            0x02 => GrantedQoS2,
            0x04 => DisconnectWithWillMessage,
            0x10 => NoMatchingSubscribers,
            0x11 => NoSubscriptionExisted,
            0x18 => ContinueAuthentication,
            0x19 => ReAuthenticate,
            0x80 => UnspecifiedError,
            0x81 => MalformedPacket,
            0x82 => ProtocolError,
            0x83 => ImplementationSpecificError,
            0x84 => UnsupportedProtocolVersion,
            0x85 => ClientIdentifierNotValid,
            0x86 => BadUserNameOrPassword,
            0x87 => NotAuthorized,
            0x88 => ServerUnavailable,
            0x89 => ServerBusy,
            0x8A => Banned,
            0x8B => ServerShuttingDown,
            0x8C => BadAuthenticationMethod,
            0x8D => KeepAliveTimeout,
            0x8E => SessionTakenOver,
            0x8F => TopicFilterInvalid,
            0x90 => TopicNameInvalid,
            0x91 => PacketIdentifierInUse,
            0x92 => PacketIdentifierNotFound,
            0x93 => ReceiveMaximumExceeded,
            0x94 => TopicAliasInvalid,
            0x95 => PacketTooLarge,
            0x96 => MessageRateTooHigh,
            0x97 => QuotaExceeded,
            0x98 => AdministrativeAction,
            0x99 => PayloadFormatInvalid,
            0x9A => RetainNotSupported,
            0x9B => QoSNotSupported,
            0x9C => UseAnotherServer,
            0x9D => ServerMoved,
            0x9E => SharedSubscriptionsNotSupported,
            0x9F => ConnectionRateExceeded,
            0xA0 => MaximumConnectTime,
            0xA1 => SubscriptionIdentifiersNotSupported,
            0xA2 => WildcardSubscriptionsNotSupported,
            _ => return None,
        })
    }

    /// Whether this code reports a failure (0x80 and above).
    pub fn is_error(self) -> bool {
        (self as u8) >= 0x80
    }

    /// The MQTT 3.1.1 CONNACK return code for this 5.0 reason code, as EMQX maps it:
    /// 0 accepted, 1 unacceptable protocol version, 2 identifier rejected, 3 server
    /// unavailable, 4 bad user name or password, 5 not authorized.
    pub fn connack_v3(self) -> u8 {
        use ReasonCode::*;
        match self {
            Success => 0,
            UnsupportedProtocolVersion => 1,
            ClientIdentifierNotValid => 2,
            BadUserNameOrPassword => 4,
            NotAuthorized | Banned | BadAuthenticationMethod => 5,
            _ => 3,
        }
    }
}
