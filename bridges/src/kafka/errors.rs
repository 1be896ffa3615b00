//! Which Kafka errors are worth retrying.

use crate::SendError;
use rskafka::client::error::{Error, ProtocolError as Code};

/// Connection trouble, timeouts and a cluster in motion (leader elections,
/// too few replicas for now) are retriable; a record or request the broker
/// refuses as such (too large, invalid, not authorized) is fatal.
pub fn classify(e: &Error) -> SendError {
    let text = e.to_string();
    match e {
        Error::ServerError { protocol_error, .. } if fatal(protocol_error) => {
            SendError::Fatal(text)
        }
        _ => SendError::Retriable(text),
    }
}

fn fatal(code: &Code) -> bool {
    matches!(
        code,
        Code::CorruptMessage
            | Code::MessageTooLarge
            | Code::RecordListTooLarge
            | Code::InvalidTopicException
            | Code::InvalidRequiredAcks
            | Code::InvalidTimestamp
            | Code::InvalidRecord
            | Code::InvalidRequest
            | Code::TopicAuthorizationFailed
            | Code::ClusterAuthorizationFailed
            | Code::SaslAuthenticationFailed
            | Code::UnsupportedSaslMechanism
            | Code::UnsupportedVersion
            | Code::UnsupportedCompressionType
            | Code::UnsupportedForMessageFormat
            | Code::PolicyViolation
    )
}
