//! What nodes say to each other, encoded with postcard inside one
//! remote-capable ractor message (`ClusterMsg::Frame`).

pub use roost_core::message::MessageRecord as WireMessage;
use roost_core::session::SessionSnapshot;
use serde::{Deserialize, Serialize};

/// A route as replicated: a filter, and the share group if it is a shared
/// subscription's.
pub type WireRoute = (String, Option<String>);

/// One frame between nodes. Every frame names its sender.
#[derive(Debug, Serialize, Deserialize)]
pub enum Envelope {
    /// Sent to a peer's link when it appears: who we are and where we listen.
    Hello { node: String, address: String },
    /// Alive, every `cluster.heartbeat_interval`.
    Heartbeat { node: String },
    /// All routes of `node`: replaces what the receiver knew of it.
    RoutesFull {
        node: String,
        routes: Vec<WireRoute>,
    },
    /// Changes since the last frame, in order; applying one twice is harmless.
    RoutesDelta {
        node: String,
        add: Vec<WireRoute>,
        del: Vec<WireRoute>,
    },
    /// Publishes for the receiver's local subscribers, never forwarded again.
    Forward { node: String, batch: Vec<Forwarded> },
    /// Retained messages stored (or cleared: empty payload) on `node`, each
    /// with its version: the receiver applies the ones newer than its own
    /// (see `retained.rs`).
    Retained {
        node: String,
        messages: Vec<VersionedRetained>,
    },
    /// The sender leaves the cluster (`roost ctl cluster leave`).
    Leave { node: String },
    /// Lossless takeover: deliveries that reached `client_id`'s old session
    /// on the sender after it moved to the receiver, in order.
    Relay {
        node: String,
        client_id: String,
        deliveries: Vec<roost_core::Delivery>,
    },
    /// Lossless takeover: `client_id`'s session is restored on the sender,
    /// which takes the relay from now on.
    RelayReady { node: String, client_id: String },
    /// Lossless takeover: the sender relayed everything of `client_id`.
    RelayEnd { node: String, client_id: String },
    /// The sender's connected clients and when each connected (ms since the
    /// epoch), sent on every (re)connect: a client id connected on both nodes
    /// (each side of a healed partition let it in) keeps only its newer
    /// connection (see `heal.rs`).
    Connected {
        node: String,
        clients: Vec<(String, u64)>,
    },
    /// The sender releases `client_id`'s lock it took with `token`
    /// ([`Request::Lock`]).
    Unlock {
        node: String,
        client_id: String,
        token: u64,
    },
    /// The sender's copy of a replicated table (the rules...): the receiver
    /// takes it if `version` is newer than its own (last writer wins). Sent on
    /// every change, and to every peer that (re)connects.
    Table {
        node: String,
        table: String,
        version: u64,
        doc: Vec<u8>,
    },
    /// Flow control (see `flow.rs`): the sender put `count` more of the
    /// receiver's forwarded messages into its sessions' queues (credit back),
    /// and these of its sessions turned congested: `(token, publisher)`, the
    /// receiver holds back that publisher's messages for the sender.
    Credit {
        node: String,
        count: u32,
        congested: Vec<(u64, String)>,
    },
    /// The sender's session `token` has drained: its publishers go on.
    Drained { node: String, token: u64 },
}

/// A retained message (or a clear: empty payload) and its version: a
/// millisecond stamp and the node that made it.
#[derive(Debug, Serialize, Deserialize)]
pub struct VersionedRetained {
    pub message: WireMessage,
    pub stamp: u64,
    pub node: String,
}

/// A request that wants an answer (`ClusterMsg::Call`).
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Close `client_id`'s connection (0x8E) and end its session; with
    /// `resume`, answer with the session, and relay to `node` (the asker) what
    /// still reaches it here (lossless takeover).
    Takeover {
        client_id: String,
        resume: bool,
        node: String,
    },
    /// Take `client_id`'s cluster-wide lock for `node` (the receiver owns the
    /// id): answered with a [`LockReply`] once granted, or when the wait ran
    /// out.
    Lock {
        client_id: String,
        node: String,
        token: u64,
    },
}

/// The answer to [`Request::Lock`].
#[derive(Debug, Serialize, Deserialize)]
pub struct LockReply {
    pub granted: bool,
}

/// The answer to [`Request::Takeover`].
#[derive(Debug, Serialize, Deserialize)]
pub struct TakeoverReply {
    /// The session was here (and is gone now).
    pub found: bool,
    pub session: Option<SessionSnapshot>,
}

/// One forwarded publish.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forwarded {
    pub message: WireMessage,
    /// Deliver to the receiver's plain subscriptions.
    pub plain: bool,
    /// Deliver to one local member of each of these `(group, filter)`.
    pub groups: Vec<(String, String)>,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("cluster frames always encode")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roost_core::delivery::SubscriptionIds;
    use roost_core::session::SubscriptionSnapshot;
    use roost_core::{Delivery, Message, SharedKey};
    use roost_protocol::{Properties, PropertyValues, QoS, SubscriptionOptions};
    use std::sync::Arc;
    use std::time::Instant;

    fn message() -> Message {
        let props: Properties = PropertyValues {
            content_type: Some("text/plain".into()),
            message_expiry_interval: Some(60),
            ..PropertyValues::default()
        }
        .into();
        Message::new(
            "a/b".into(),
            Bytes::from_static(b"hello"),
            QoS::ExactlyOnce,
            true,
            "c".into(),
            &props,
        )
    }

    #[test]
    fn a_forwarded_message_survives_the_wire() {
        let now = Instant::now();
        let env = Envelope::Forward {
            node: "n1".into(),
            batch: vec![Forwarded {
                message: WireMessage::of(&message(), now),
                plain: true,
                groups: vec![("g".into(), "a/+".into())],
            }],
        };
        let bytes = encode(&env);
        let Envelope::Forward { node, batch } = decode::<Envelope>(&bytes).unwrap() else {
            panic!("decoded another variant")
        };
        assert_eq!(node, "n1");
        let f = batch.into_iter().next().unwrap();
        assert_eq!(
            (f.plain, f.groups),
            (true, vec![("g".to_string(), "a/+".to_string())])
        );
        let back = f.message.into_message(now);
        assert_eq!((&*back.topic, &back.payload[..]), ("a/b", &b"hello"[..]));
        assert_eq!(
            back.properties.as_deref().unwrap().content_type.as_deref(),
            Some("text/plain")
        );
        assert_eq!(back.remaining_expiry(now), Some(60));
    }

    #[test]
    fn a_moving_session_survives_the_wire() {
        let options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            ..Default::default()
        };
        let session = SessionSnapshot {
            expiry: 300,
            subscriptions: vec![SubscriptionSnapshot {
                raw: "$share/g/a/+".into(),
                options,
                subscription_id: Some(7),
            }],
            messages: vec![Delivery {
                message: Arc::new(message()),
                qos: QoS::AtLeastOnce,
                retain_as_published: true,
                subscription_ids: SubscriptionIds::from_ids([7, 8]),
                shared: Some(Arc::new(SharedKey {
                    group: "g".into(),
                    filter: "a/+".into(),
                })),
                from_retained: false,
            }],
            moved_from: None,
        };
        let reply = TakeoverReply {
            found: true,
            session: Some(session),
        };
        let back: TakeoverReply = decode(&encode(&reply)).unwrap();
        let s = back.session.expect("the session");
        assert_eq!(s.expiry, 300);
        assert_eq!(s.subscriptions[0].raw, "$share/g/a/+");
        assert_eq!(s.subscriptions[0].options, options);
        assert_eq!(s.subscriptions[0].subscription_id, Some(7));
        let d = &s.messages[0];
        assert_eq!(
            (d.qos, d.retain_as_published, d.subscription_ids.as_slice()),
            (QoS::AtLeastOnce, true, &[7, 8][..])
        );
        assert_eq!(
            d.shared.as_deref().map(|k| (&*k.group, &*k.filter)),
            Some(("g", "a/+"))
        );
        assert_eq!(&*d.message.topic, "a/b");
    }

    #[test]
    fn a_replicated_table_survives_the_wire() {
        let env = Envelope::Table {
            node: "a@h".into(),
            table: "rules".into(),
            version: 1_733_000_000_123,
            doc: br#"{"version":1,"rules":[]}"#.to_vec(),
        };
        match decode::<Envelope>(&encode(&env)).unwrap() {
            Envelope::Table {
                node,
                table,
                version,
                doc,
            } => {
                assert_eq!((node.as_str(), table.as_str()), ("a@h", "rules"));
                assert_eq!(version, 1_733_000_000_123);
                assert_eq!(doc, br#"{"version":1,"rules":[]}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credits_and_drained_notices_survive_the_wire() {
        let env = Envelope::Credit {
            node: "b@h".into(),
            count: 128,
            congested: vec![(1 << 63 | 7, "pub-1".into())],
        };
        match decode::<Envelope>(&encode(&env)).unwrap() {
            Envelope::Credit {
                node,
                count,
                congested,
            } => {
                assert_eq!((node.as_str(), count), ("b@h", 128));
                assert_eq!(congested, vec![(1 << 63 | 7, "pub-1".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        let env = Envelope::Drained {
            node: "b@h".into(),
            token: 1 << 63 | 7,
        };
        match decode::<Envelope>(&encode(&env)).unwrap() {
            Envelope::Drained { node, token } => {
                assert_eq!((node.as_str(), token), ("b@h", 1 << 63 | 7))
            }
            other => panic!("{other:?}"),
        }
    }
}
