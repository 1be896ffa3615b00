//! The session's rules, driven on the plain value alone: no actor, no socket,
//! no clock (every time is an argument).

use super::*;
use crate::session::queue::InflightState;
use bytes::Bytes;
use roost_core::delivery::SubscriptionIds;
use roost_core::SharedKey;
use roost_protocol::{Properties, SubscriptionOptions};

mod record;

const LIMITS: Limits = Limits {
    max_inflight: 32,
    max_qos: QoS::ExactlyOnce,
    upgrade_qos: false,
    mqueue_store_qos0: true,
};

/// A 5.0 client with Receive Maximum `receive_maximum`, at `now`.
fn online(receive_maximum: u16, now: Instant) -> Terms {
    Terms {
        limits: LIMITS,
        peer: Some(Peer {
            version: ProtocolVersion::V5,
            receive_maximum,
        }),
        now,
    }
}

fn offline(now: Instant) -> Terms {
    Terms {
        limits: LIMITS,
        peer: None,
        now,
    }
}

fn message(topic: &str, qos: QoS) -> Arc<Message> {
    Arc::new(Message::new(
        topic.into(),
        Bytes::from(format!("payload of {topic}")),
        qos,
        false,
        "publisher".into(),
        &Properties::default(),
    ))
}

/// A delivery of a `qos` message through a subscription granting `qos`.
fn delivery(topic: &str, qos: QoS) -> Delivery {
    Delivery {
        message: message(topic, qos),
        qos,
        retain_as_published: false,
        subscription_ids: SubscriptionIds::None,
        shared: None,
        from_retained: false,
    }
}

/// One PUBLISH as the client would see it.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    topic: String,
    qos: QoS,
    packet_id: u16,
    dup: bool,
}

fn sent(topic: &str, qos: QoS, packet_id: u16, dup: bool) -> Sent {
    Sent {
        topic: topic.into(),
        qos,
        packet_id,
        dup,
    }
}

/// The PUBLISH packets asked for so far (taken out of `out`).
fn publishes(out: &mut Effects) -> Vec<Sent> {
    out.outbox
        .drain(..)
        .filter_map(|o| match o {
            Outgoing::Publish {
                message,
                qos,
                packet_id,
                dup,
                ..
            } => Some(sent(&message.topic, qos, packet_id, dup)),
            _ => None,
        })
        .collect()
}

fn topics(ds: impl IntoIterator<Item = Arc<Message>>) -> Vec<String> {
    ds.into_iter().map(|m| m.topic.to_string()).collect()
}

fn queued(s: &SessionData) -> Vec<String> {
    topics(s.mqueue.iter().map(|d| d.message.clone()))
}

#[test]
fn the_window_fills_to_the_receive_maximum_then_messages_queue() {
    // [MQTT-3.3.4-9] no more unacknowledged QoS 1/2 PUBLISH than the client's
    // Receive Maximum; [MQTT-4.9.0-2] none at all once the send quota is spent.
    let now = Instant::now();
    let t = online(2, now);
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    for topic in ["a", "b", "c", "d"] {
        s.deliver(delivery(topic, QoS::AtLeastOnce), &t, &mut out);
    }
    assert_eq!(
        publishes(&mut out),
        vec![
            sent("a", QoS::AtLeastOnce, 1, false),
            sent("b", QoS::AtLeastOnce, 2, false)
        ]
    );
    assert_eq!(s.inflight.len(), 2);
    assert_eq!(queued(&s), ["c", "d"]);
    assert!(out.retry, "messages in flight want the retry timer");
}

#[test]
fn max_inflight_caps_a_larger_receive_maximum() {
    let t = Terms {
        limits: Limits {
            max_inflight: 3,
            ..LIMITS
        },
        ..online(u16::MAX, Instant::now())
    };
    assert_eq!(t.window(), 3);
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    for topic in ["a", "b", "c", "d", "e"] {
        s.deliver(delivery(topic, QoS::ExactlyOnce), &t, &mut out);
    }
    assert_eq!(publishes(&mut out).len(), 3);
    assert_eq!(queued(&s), ["d", "e"]);
    assert_eq!(offline(Instant::now()).window(), 0);
}

#[test]
fn acks_free_the_window_and_release_queued_messages_in_order() {
    // [MQTT-4.9.0-3] each PUBACK and PUBCOMP gives back one send quota; the
    // queued messages follow in the order they came [MQTT-4.6.0-6].
    let t = online(2, Instant::now());
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    s.deliver(delivery("q1-a", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("q2-b", QoS::ExactlyOnce), &t, &mut out);
    for topic in ["q1-c", "q1-d", "q1-e"] {
        s.deliver(delivery(topic, QoS::AtLeastOnce), &t, &mut out);
    }
    publishes(&mut out);

    s.puback(1, &t, &mut out);
    assert_eq!(topics(out.acked.drain(..)), ["q1-a"]);
    assert_eq!(
        publishes(&mut out),
        vec![sent("q1-c", QoS::AtLeastOnce, 3, false)]
    );

    // QoS 2: PUBREC answers with PUBREL and keeps the slot; PUBCOMP frees it.
    s.pubrec(2, ReasonCode::Success, &t, &mut out);
    assert!(matches!(
        out.outbox.as_slice(),
        [Outgoing::PubRel(2, ReasonCode::Success)]
    ));
    out.outbox.clear();
    assert!(out.acked.is_empty(), "acknowledged only by PUBCOMP");
    s.pubcomp(2, &t, &mut out);
    assert_eq!(topics(out.acked.drain(..)), ["q2-b"]);
    assert_eq!(
        publishes(&mut out),
        vec![sent("q1-d", QoS::AtLeastOnce, 4, false)]
    );
    assert_eq!(queued(&s), ["q1-e"]);

    // An ack for nothing in flight changes nothing.
    s.puback(99, &t, &mut out);
    assert!(out.outbox.is_empty() && out.acked.is_empty());
    assert_eq!(queued(&s), ["q1-e"]);
}

#[test]
fn qos2_goes_publish_pubrec_pubrel_pubcomp() {
    // [MQTT-4.3.3-3..5] the PUBLISH is unacknowledged until PUBREC, the PUBREL
    // (same packet id) until PUBCOMP.
    let t = online(10, Instant::now());
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    s.deliver(delivery("x", QoS::ExactlyOnce), &t, &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![sent("x", QoS::ExactlyOnce, 1, false)]
    );

    // A PUBCOMP before PUBREC does not complete the exchange.
    s.pubcomp(1, &t, &mut out);
    assert_eq!(s.inflight.len(), 1);
    assert!(out.acked.is_empty());

    s.pubrec(1, ReasonCode::Success, &t, &mut out);
    let state = s.inflight.iter().next().map(|e| e.state);
    assert_eq!(state, Some(InflightState::AwaitComp));
    // A repeated PUBREC is answered with PUBREL again.
    s.pubrec(1, ReasonCode::Success, &t, &mut out);
    assert!(matches!(
        out.outbox.as_slice(),
        [
            Outgoing::PubRel(1, ReasonCode::Success),
            Outgoing::PubRel(1, ReasonCode::Success)
        ]
    ));
    out.outbox.clear();

    s.pubcomp(1, &t, &mut out);
    assert!(s.inflight.is_empty());
    assert_eq!(topics(out.acked.drain(..)), ["x"]);

    // A PUBREC for an unknown packet id is answered 0x92.
    s.pubrec(7, ReasonCode::Success, &t, &mut out);
    assert!(matches!(
        out.outbox.as_slice(),
        [Outgoing::PubRel(7, ReasonCode::PacketIdentifierNotFound)]
    ));
}

#[test]
fn an_error_pubrec_frees_the_slot_without_pubrel_or_ack() {
    // [MQTT-4.9.0-3] a PUBREC with a reason code >= 0x80 gives the quota back;
    // the exchange ends there, with no PUBREL.
    let t = online(1, Instant::now());
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    s.deliver(delivery("refused", QoS::ExactlyOnce), &t, &mut out);
    s.deliver(delivery("next", QoS::ExactlyOnce), &t, &mut out);
    publishes(&mut out);

    s.pubrec(1, ReasonCode::QuotaExceeded, &t, &mut out);
    assert!(out.acked.is_empty(), "refused, not acknowledged");
    assert_eq!(
        publishes(&mut out),
        vec![sent("next", QoS::ExactlyOnce, 2, false)]
    );
    assert!(s.inflight.iter().all(|e| e.packet_id == 2));
}

#[test]
fn packet_ids_skip_those_in_flight_and_wrap_to_1() {
    // [MQTT-2.2.1-4] a new PUBLISH gets a non-zero packet id not in use.
    let t = online(10, Instant::now());
    let mut s = SessionData::new(100);
    let mut out = Effects::default();
    s.next_packet_id = u16::MAX - 1;
    for topic in ["a", "b", "c"] {
        s.deliver(delivery(topic, QoS::AtLeastOnce), &t, &mut out);
    }
    let ids: Vec<u16> = publishes(&mut out).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids, [u16::MAX - 1, u16::MAX, 1]);

    // 2 and 3 are free, 1 is in flight: after 65535 comes 2, not 1.
    s.puback(u16::MAX - 1, &t, &mut out);
    s.puback(u16::MAX, &t, &mut out);
    s.next_packet_id = u16::MAX;
    s.deliver(delivery("d", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("e", QoS::AtLeastOnce), &t, &mut out);
    let ids: Vec<u16> = publishes(&mut out).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids, [u16::MAX, 2]);

    let mut in_use: Vec<u16> = s.inflight.iter().map(|e| e.packet_id).collect();
    in_use.sort_unstable();
    in_use.dedup();
    assert_eq!(in_use.len(), s.inflight.len(), "ids in flight are unique");
    assert!(!in_use.contains(&0));
}

#[test]
fn a_full_queue_drops_its_oldest_message_and_reports_it() {
    // The queue's policy (EMQX's default): a new message pushes out the
    // oldest, which is reported as a QueueFull drop.
    let t = offline(Instant::now());
    let mut s = SessionData::new(2);
    let mut out = Effects::default();
    for topic in ["1", "2", "3", "4"] {
        s.deliver(delivery(topic, QoS::AtLeastOnce), &t, &mut out);
    }
    assert_eq!(queued(&s), ["3", "4"]);
    let dropped: Vec<(String, DropReason)> = out
        .dropped
        .drain(..)
        .map(|(m, r)| (m.topic.to_string(), r))
        .collect();
    assert_eq!(
        dropped,
        [
            ("1".to_string(), DropReason::QueueFull),
            ("2".to_string(), DropReason::QueueFull)
        ]
    );
    assert!(out.outbox.is_empty(), "nothing is sent while offline");

    // 0 = unbounded.
    let mut s = SessionData::new(0);
    for i in 0..5000 {
        s.deliver(delivery(&i.to_string(), QoS::AtLeastOnce), &t, &mut out);
    }
    assert_eq!(s.mqueue.len(), 5000);
    assert!(out.dropped.is_empty());
}

#[test]
fn the_queue_is_bounded_in_bytes_too_dropping_its_oldest() {
    // `mqtt.max_mqueue_bytes`: each message here is 1 + 12 = 13 bytes of
    // topic and payload ("payload of N"); 30 bytes hold two.
    let t = offline(Instant::now());
    let mut s = SessionData::new(100).with_mqueue_bytes(30);
    let mut out = Effects::default();
    for topic in ["1", "2", "3", "4"] {
        s.deliver(delivery(topic, QoS::AtLeastOnce), &t, &mut out);
    }
    assert_eq!(queued(&s), ["3", "4"]);
    assert_eq!(s.mqueue.bytes(), 26);
    let dropped: Vec<String> = out
        .dropped
        .drain(..)
        .map(|(m, r)| {
            assert_eq!(r, DropReason::QueueFull);
            m.topic.to_string()
        })
        .collect();
    assert_eq!(dropped, ["1", "2"]);
    // Taking messages out gives their bytes back.
    s.mqueue.pop();
    assert_eq!(s.mqueue.bytes(), 13);
    s.mqueue.drain().for_each(drop);
    assert_eq!(s.mqueue.bytes(), 0);
}

#[test]
fn offline_qos0_is_queued_or_dropped_by_mqueue_store_qos0() {
    let now = Instant::now();
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    s.deliver(delivery("kept", QoS::AtMostOnce), &offline(now), &mut out);
    assert_eq!(queued(&s), ["kept"]);

    let strict = Terms {
        limits: Limits {
            mqueue_store_qos0: false,
            ..LIMITS
        },
        ..offline(now)
    };
    s.deliver(delivery("dropped", QoS::AtMostOnce), &strict, &mut out);
    s.deliver(delivery("qos1", QoS::AtLeastOnce), &strict, &mut out);
    assert_eq!(queued(&s), ["kept", "qos1"]);
    assert!(matches!(
        out.dropped.as_slice(),
        [(m, DropReason::Qos0Offline)] if &*m.topic == "dropped"
    ));
}

#[test]
fn qos0_bypasses_a_full_window_but_queued_qos1_is_not_overtaken() {
    // [MQTT-4.9.0-2] QoS 0 may go on when the send quota is spent; messages of
    // one QoS keep their order [MQTT-4.6.0-6].
    let t = online(1, Instant::now());
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    s.deliver(delivery("one", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("two", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("zero", QoS::AtMostOnce), &t, &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![
            sent("one", QoS::AtLeastOnce, 1, false),
            sent("zero", QoS::AtMostOnce, 0, false)
        ]
    );
    assert_eq!(queued(&s), ["two"]);
    // The window frees while a message waits: a new one goes behind it.
    s.inflight.remove(1, InflightState::AwaitAck);
    s.deliver(delivery("three", QoS::AtLeastOnce), &t, &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![sent("two", QoS::AtLeastOnce, 2, false)]
    );
    assert_eq!(queued(&s), ["three"]);
}

#[test]
fn the_delivered_qos_is_the_lower_of_the_message_and_the_subscription() {
    // [MQTT-3.8.4-8] the minimum of the published QoS and the granted QoS.
    let t = online(10, Instant::now());
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    let mut d = delivery("high-msg", QoS::ExactlyOnce);
    d.qos = QoS::AtLeastOnce;
    s.deliver(d, &t, &mut out);
    let mut d = delivery("low-msg", QoS::AtLeastOnce);
    d.qos = QoS::ExactlyOnce;
    s.deliver(d, &t, &mut out);
    let mut d = delivery("zero-sub", QoS::ExactlyOnce);
    d.qos = QoS::AtMostOnce;
    s.deliver(d, &t, &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![
            sent("high-msg", QoS::AtLeastOnce, 1, false),
            sent("low-msg", QoS::AtLeastOnce, 2, false),
            sent("zero-sub", QoS::AtMostOnce, 0, false)
        ]
    );

    let mut d = delivery("m", QoS::AtMostOnce);
    d.qos = QoS::ExactlyOnce;
    let upgrade = Limits {
        upgrade_qos: true,
        ..LIMITS
    };
    assert_eq!(upgrade.qos_of(&d), QoS::ExactlyOnce);
    let capped = Limits {
        upgrade_qos: true,
        max_qos: QoS::AtLeastOnce,
        ..LIMITS
    };
    assert_eq!(capped.qos_of(&d), QoS::AtLeastOnce);
    assert_eq!(LIMITS.qos_of(&d), QoS::AtMostOnce);
}

#[test]
fn the_subscription_identifier_and_retain_flag_go_with_each_publish() {
    // [MQTT-3.3.4-5] each PUBLISH carries the identifier of its subscription;
    // RETAIN is kept as published only when asked [MQTT-3.3.1-12, -13], and
    // set for retained messages sent for a new subscription [MQTT-3.3.1-8].
    let t = online(10, Instant::now());
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    let retained = |topic: &str| {
        let mut m = (*message(topic, QoS::AtLeastOnce)).clone();
        m.retain = true;
        Delivery {
            message: Arc::new(m),
            qos: QoS::AtLeastOnce,
            retain_as_published: false,
            subscription_ids: SubscriptionIds::None,
            shared: None,
            from_retained: false,
        }
    };
    let mut d = retained("rap-0");
    d.subscription_ids = SubscriptionIds::One(7);
    s.deliver(d, &t, &mut out);
    let mut d = retained("rap-1");
    d.retain_as_published = true;
    d.subscription_ids = SubscriptionIds::One(268_435_455);
    s.deliver(d, &t, &mut out);
    let mut d = delivery("from-retained", QoS::AtMostOnce);
    d.from_retained = true;
    s.deliver(d, &t, &mut out);
    // [MQTT-3.3.4-4] one copy for overlapping subscriptions carries all their
    // identifiers.
    let mut d = delivery("merged", QoS::AtMostOnce);
    d.subscription_ids = SubscriptionIds::from_ids([3, 2]);
    s.deliver(d, &t, &mut out);

    let flags: Vec<(String, bool, Vec<u32>)> = out
        .outbox
        .drain(..)
        .filter_map(|o| match o {
            Outgoing::Publish {
                message,
                retain,
                subscription_ids,
                ..
            } => Some((
                message.topic.to_string(),
                retain,
                subscription_ids.as_slice().to_vec(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("rap-0".to_string(), false, vec![7]),
            ("rap-1".to_string(), true, vec![268_435_455]),
            ("from-retained".to_string(), true, vec![]),
            ("merged".to_string(), false, vec![2, 3])
        ]
    );
}

#[test]
fn a_message_that_expires_while_queued_is_dropped_at_dequeue() {
    // [MQTT-3.3.2-5] a message whose expiry has passed before onward delivery
    // started is deleted.
    let t0 = Instant::now();
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    let mut m = (*message("short", QoS::AtLeastOnce)).clone();
    m.expires_at = Some(t0 + Duration::from_secs(10));
    let short = Delivery {
        message: Arc::new(m),
        ..delivery("short", QoS::AtLeastOnce)
    };
    s.deliver(short, &offline(t0), &mut out);
    s.deliver(
        delivery("forever", QoS::AtLeastOnce),
        &offline(t0),
        &mut out,
    );
    assert!(out.dropped.is_empty());

    // Still alive 9 s later.
    let mut early = SessionData::new(10);
    early.mqueue.push(s.mqueue.front().unwrap().clone());
    early.drain_mqueue(&online(10, t0 + Duration::from_secs(9)), &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![sent("short", QoS::AtLeastOnce, 1, false)]
    );

    // Gone 11 s later: dropped, and the next one goes out.
    s.drain_mqueue(&online(10, t0 + Duration::from_secs(11)), &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![sent("forever", QoS::AtLeastOnce, 1, false)]
    );
    assert!(matches!(
        out.dropped.as_slice(),
        [(m, DropReason::Expired)] if &*m.topic == "short"
    ));
    assert!(s.mqueue.is_empty());

    // An expired message is not even queued.
    out.dropped.clear();
    let mut m = (*message("stale", QoS::AtLeastOnce)).clone();
    m.expires_at = Some(t0);
    let stale = Delivery {
        message: Arc::new(m),
        ..delivery("stale", QoS::AtLeastOnce)
    };
    s.deliver(stale, &offline(t0), &mut out);
    assert!(s.mqueue.is_empty());
    assert!(matches!(out.dropped.as_slice(), [(_, DropReason::Expired)]));
}

#[test]
fn a_reconnect_resends_the_window_in_order_with_dup_and_pubrel() {
    // [MQTT-4.4.0-1] on reconnect, unacknowledged PUBLISH and PUBREL are sent
    // again with their packet ids; [MQTT-3.3.1-1] a resent PUBLISH has DUP set;
    // [MQTT-4.6.0-1] in the original order; [MQTT-4.3.3-6] no PUBLISH again
    // once its PUBREL went.
    let t0 = Instant::now();
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    let first = online(10, t0);
    s.deliver(delivery("a", QoS::AtLeastOnce), &first, &mut out);
    s.deliver(delivery("b", QoS::ExactlyOnce), &first, &mut out);
    s.deliver(delivery("c", QoS::AtLeastOnce), &first, &mut out);
    s.pubrec(2, ReasonCode::Success, &first, &mut out);
    out.outbox.clear();
    s.detach(t0, true, None, vec![]);
    // Queued while offline.
    s.deliver(delivery("d", QoS::AtLeastOnce), &offline(t0), &mut out);
    assert!(out.outbox.is_empty());

    let later = online(10, t0 + Duration::from_secs(5));
    s.attach(None, 0);
    out.retry = false;
    s.resend_inflight(&later, &mut out);
    s.drain_mqueue(&later, &mut out);
    let packets: Vec<String> = out
        .outbox
        .iter()
        .map(|o| match o {
            Outgoing::Publish {
                message,
                packet_id,
                dup,
                ..
            } => format!("PUBLISH {} id={packet_id} dup={dup}", message.topic),
            Outgoing::PubRel(id, _) => format!("PUBREL id={id}"),
        })
        .collect();
    assert_eq!(
        packets,
        [
            "PUBLISH a id=1 dup=true",
            "PUBREL id=2",
            "PUBLISH c id=3 dup=true",
            "PUBLISH d id=4 dup=false"
        ]
    );
    assert!(out.retry);
    assert!(
        s.inflight.iter().all(|e| e.sent_at == later.now),
        "resent now"
    );
}

#[test]
fn a_v3_client_gets_resends_after_the_retry_interval_a_v5_client_never() {
    // 5.0 forbids resending but on reconnect [MQTT-4.4.0-1]; 3.1.1 clients
    // are retried after `retry_interval`, with DUP.
    let t0 = Instant::now();
    let every = Duration::from_secs(30);
    let v3 = |now| Terms {
        peer: Some(Peer {
            version: ProtocolVersion::V3_1_1,
            receive_maximum: u16::MAX,
        }),
        ..online(u16::MAX, now)
    };
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    s.deliver(delivery("old", QoS::AtLeastOnce), &v3(t0), &mut out);
    s.deliver(
        delivery("new", QoS::AtLeastOnce),
        &v3(t0 + Duration::from_secs(20)),
        &mut out,
    );
    publishes(&mut out);

    out.retry = false;
    s.retry(every, &v3(t0 + Duration::from_secs(31)), &mut out);
    assert_eq!(
        publishes(&mut out),
        vec![sent("old", QoS::AtLeastOnce, 1, true)]
    );
    assert!(out.retry, "still in flight: armed again");

    let v5 = online(u16::MAX, t0 + Duration::from_secs(3600));
    out.retry = false;
    s.retry(every, &v5, &mut out);
    assert!(out.outbox.is_empty() && !out.retry);
    s.retry(every, &offline(t0 + Duration::from_secs(3600)), &mut out);
    assert!(out.outbox.is_empty() && !out.retry);
}

#[test]
fn detach_and_attach_keep_the_will_due_the_expiry_and_the_generation() {
    let t0 = Instant::now();
    let mut s = SessionData::new(10);
    let will = Will {
        topic: "last/words".into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::default(),
    };
    s.attach(Some(will.clone()), 60);
    assert_eq!((s.generation, s.bound_before), (1, true));

    s.detach(t0, true, Some(10), vec![5, 6]);
    s.merge_awaiting_rel(vec![6, 7]);
    assert_eq!(s.awaiting_rel, [5, 6, 7]);
    assert_eq!(s.expiry, 10, "DISCONNECT set a new expiry");
    assert!(s.will.is_some());
    assert!(!s.is_expired(t0 + Duration::from_secs(9)));
    assert!(s.is_expired(t0 + Duration::from_secs(10)));

    s.attach(Some(will), u32::MAX);
    assert_eq!(s.generation, 2);
    assert_eq!(s.detached_at, None);
    s.detach(t0, false, None, vec![]);
    assert!(s.will.is_none(), "a normal DISCONNECT drops the will");
    assert!(!s.is_expired(t0 + Duration::from_secs(u32::MAX as u64)));
}

#[test]
fn a_handover_takes_what_the_client_has_not_received() {
    let t = online(2, Instant::now());
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    s.subscriptions.insert(
        "$share/g/a/#".into(),
        SubscriptionRecord::from_snapshot(&SubscriptionSnapshot {
            raw: "$share/g/a/#".into(),
            options: SubscriptionOptions::default(),
            subscription_id: Some(3),
        })
        .unwrap(),
    );
    s.expiry = 300;
    s.deliver(delivery("received", QoS::ExactlyOnce), &t, &mut out);
    s.deliver(delivery("unacked", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("queued", QoS::AtLeastOnce), &t, &mut out);
    s.pubrec(1, ReasonCode::Success, &t, &mut out);

    let snapshot = s.transfer();
    assert_eq!(snapshot.expiry, 300);
    assert_eq!(
        topics(snapshot.messages.into_iter().map(|d| d.message)),
        ["unacked", "queued"]
    );
    assert_eq!(snapshot.subscriptions.len(), 1);
    let sub = &snapshot.subscriptions[0];
    assert_eq!(
        (sub.raw.as_str(), sub.subscription_id),
        ("$share/g/a/#", Some(3))
    );
    let back = SubscriptionRecord::from_snapshot(sub).unwrap();
    assert_eq!(
        (back.filter.as_str(), back.group.as_deref()),
        ("a/#", Some("g"))
    );
    assert!(s.inflight.is_empty() && s.mqueue.is_empty());
}

#[test]
fn a_clean_start_returns_shared_messages_but_a_qos2_already_sent() {
    // [MQTT-4.8.2-5] a QoS 2 message sent to a member stays with it.
    let t = online(2, Instant::now());
    let mut s = SessionData::new(10);
    let mut out = Effects::default();
    let shared = |topic: &str, qos| Delivery {
        shared: Some(Arc::new(SharedKey {
            group: "g".into(),
            filter: "#".into(),
        })),
        ..delivery(topic, qos)
    };
    s.deliver(shared("sent-q2", QoS::ExactlyOnce), &t, &mut out);
    s.deliver(shared("sent-q1", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(delivery("own", QoS::AtLeastOnce), &t, &mut out);
    s.deliver(shared("queued", QoS::ExactlyOnce), &t, &mut out);
    s.awaiting_rel = vec![9];
    s.next_packet_id = 40;

    let mut dropped = Effects::default();
    let back = s.take_messages(&LIMITS, &mut dropped);
    // Its own queued message was never sent: dropped, and reported.
    let lost: Vec<(String, DropReason)> = dropped
        .dropped
        .drain(..)
        .map(|(m, r)| (m.topic.to_string(), r))
        .collect();
    assert_eq!(lost, [("own".to_string(), DropReason::NoSession)]);
    assert_eq!(
        topics(back.into_iter().map(|d| d.message)),
        ["sent-q1", "queued"]
    );
    assert!(s.inflight.is_empty() && s.mqueue.is_empty() && s.awaiting_rel.is_empty());
    assert_eq!(s.next_packet_id, 1);
}
