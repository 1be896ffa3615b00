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

#[cfg(test)]
mod tests {
    use super::*;
    use rskafka::client::error::RequestContext;

    fn server(code: Code) -> Error {
        Error::ServerError {
            protocol_error: code,
            error_message: None,
            request: RequestContext::Partition("t".into(), 0),
            response: None,
            is_virtual: false,
        }
    }

    #[test]
    fn a_cluster_in_motion_is_retriable_a_refused_record_fatal() {
        for code in [
            Code::LeaderNotAvailable,
            Code::NotLeaderOrFollower,
            Code::NotEnoughReplicas,
            Code::RequestTimedOut,
            Code::UnknownTopicOrPartition,
        ] {
            assert!(
                matches!(classify(&server(code)), SendError::Retriable(_)),
                "{code:?}"
            );
        }
        for code in [
            Code::MessageTooLarge,
            Code::RecordListTooLarge,
            Code::TopicAuthorizationFailed,
            Code::SaslAuthenticationFailed,
        ] {
            assert!(
                matches!(classify(&server(code)), SendError::Fatal(_)),
                "{code:?}"
            );
        }
        assert!(matches!(classify(&Error::Timeout), SendError::Retriable(_)));
    }
}
