//! Errors of decoding and encoding, each mapped to the MQTT 5.0 reason code the
//! server sends before closing the connection.

use crate::ReasonCode;

/// Why a packet could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Bytes that do not form a packet: bad lengths, reserved bits, bad UTF-8,
    /// invalid property identifiers, duplicate properties...
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// A well-formed packet that breaks a protocol rule (e.g. packet id 0 on QoS 1,
    /// a second CONNECT, a first packet that is not CONNECT).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// The packet is larger than the maximum packet size in force.
    #[error("packet of {size} bytes exceeds maximum packet size {max}")]
    PacketTooLarge {
        /// Total packet size: fixed header plus remaining length.
        size: usize,
        /// The limit that was exceeded.
        max: usize,
    },
    /// CONNECT with a protocol name/level we do not speak.
    #[error("unsupported protocol: name {name:?}, level {level}")]
    UnsupportedProtocolVersion {
        /// Protocol name from CONNECT ("MQTT" or "MQIsdp").
        name: String,
        /// Protocol level from CONNECT.
        level: u8,
    },
    /// PUBLISH topic name with wildcards, U+0000 or otherwise invalid.
    #[error("invalid topic name: {0}")]
    TopicNameInvalid(&'static str),
    /// SUBSCRIBE/UNSUBSCRIBE topic filter that breaks the filter rules.
    #[error("invalid topic filter: {0}")]
    TopicFilterInvalid(&'static str),
}

impl ProtocolError {
    /// The reason code a server reports for this error (DISCONNECT, or CONNACK
    /// while connecting).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            ProtocolError::Malformed(_) => ReasonCode::MalformedPacket,
            ProtocolError::Protocol(_) => ReasonCode::ProtocolError,
            ProtocolError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            ProtocolError::UnsupportedProtocolVersion { .. } => {
                ReasonCode::UnsupportedProtocolVersion
            }
            ProtocolError::TopicNameInvalid(_) => ReasonCode::TopicNameInvalid,
            ProtocolError::TopicFilterInvalid(_) => ReasonCode::TopicFilterInvalid,
        }
    }
}
