//! A session's record: a postcard round trip gives the same session back.

use super::*;
use roost_protocol::PropertyValues;

/// A session with something in every field, at `now`.
fn full_session(now: Instant) -> SessionData {
    let t = online(2, now);
    let mut s = SessionData::new(50);
    let mut out = Effects::default();
    for (raw, id) in [("a/+", Some(1)), ("$share/g/b/#", None), ("c", Some(9))] {
        let snapshot = SubscriptionSnapshot {
            raw: raw.into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                ..Default::default()
            },
            subscription_id: id,
        };
        let record = SubscriptionRecord::from_snapshot(&snapshot).unwrap();
        s.subscriptions.insert(raw.into(), record);
    }
    let props: Properties = PropertyValues {
        content_type: Some("text/plain".into()),
        user_properties: vec![("k".into(), "v".into())],
        ..PropertyValues::default()
    }
    .into();
    let mut expiring = Message::new(
        "expiring".into(),
        Bytes::from_static(b"\x00\x01binary"),
        QoS::ExactlyOnce,
        true,
        "p".into(),
        &props,
    );
    expiring.expires_at = Some(now + Duration::from_secs(120));
    s.deliver(
        Delivery {
            message: Arc::new(expiring),
            qos: QoS::ExactlyOnce,
            retain_as_published: true,
            // One copy standing for two overlapping subscriptions [MQTT-3.3.4-4].
            subscription_ids: SubscriptionIds::from_ids([1, 9]),
            shared: None,
            from_retained: false,
        },
        &t,
        &mut out,
    );
    s.deliver(delivery("unacked", QoS::AtLeastOnce), &t, &mut out);
    s.pubrec(1, ReasonCode::Success, &t, &mut out);
    s.deliver(
        Delivery {
            shared: Some(Arc::new(SharedKey {
                group: "g".into(),
                filter: "b/#".into(),
            })),
            ..delivery("queued", QoS::AtLeastOnce)
        },
        &t,
        &mut out,
    );
    s.merge_awaiting_rel(vec![3, 4]);
    let will_props: Properties = PropertyValues {
        will_delay_interval: Some(30),
        message_expiry_interval: Some(60),
        correlation_data: Some(Bytes::from_static(b"cd")),
        ..PropertyValues::default()
    }
    .into();
    s.attach(
        Some(Will {
            topic: "will".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: will_props,
        }),
        3600,
    );
    s.detach(now - Duration::from_secs(7), true, None, vec![]);
    s
}

#[test]
fn a_session_record_survives_a_postcard_round_trip() {
    let now = Instant::now();
    let s = full_session(now);
    let record = SessionRecord::of(&s, now);
    assert_eq!(record.subscriptions.len(), 3);
    assert_eq!(record.inflight.len(), 2);
    assert_eq!(record.mqueue.len(), 1);
    assert_eq!(record.detached_ms_ago, Some(7000));
    assert_eq!(
        record.inflight[0].delivery.message.expires_in_ms,
        Some(120_000)
    );

    let bytes = postcard::to_stdvec(&record).unwrap();
    let decoded: SessionRecord = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, record);

    // The session made from it is the same session, times included.
    let back = decoded.into_data(now).unwrap();
    assert_eq!(SessionRecord::of(&back, now), record);
    assert_eq!(back.detached_at, s.detached_at);
    assert!(back.will.is_some());
    assert_eq!(back.will, s.will);
    let sub = &back.subscriptions["$share/g/b/#"];
    assert_eq!(
        (sub.filter.as_str(), sub.group.as_deref()),
        ("b/#", Some("g"))
    );
    assert_eq!(sub.options, s.subscriptions["$share/g/b/#"].options);

    // And it follows the same rules: PUBCOMP completes the QoS 2 exchange.
    let mut back = back;
    let mut out = Effects::default();
    back.pubcomp(1, &online(2, now), &mut out);
    assert_eq!(topics(out.acked.drain(..)), ["expiring"]);
    assert_eq!(
        publishes(&mut out),
        vec![sent("queued", QoS::AtLeastOnce, 3, false)]
    );
}

#[test]
fn session_data_serialises_as_its_record() {
    // Through serde directly (the clock is read on both sides, so this
    // session has no time in it but its send stamps, taken as 0 ms ago).
    let now = Instant::now();
    let mut s = full_session(now);
    s.detached_at = None;
    let expiring = s.inflight.iter_mut().next().unwrap();
    let mut m = (*expiring.delivery.message).clone();
    m.expires_at = None;
    expiring.delivery.message = Arc::new(m);

    let bytes = postcard::to_stdvec(&s).unwrap();
    let back: SessionData = postcard::from_bytes(&bytes).unwrap();
    let strip = |mut r: SessionRecord| {
        r.inflight.iter_mut().for_each(|e| e.sent_ms_ago = 0);
        r
    };
    assert_eq!(
        strip(SessionRecord::of(&back, now)),
        strip(SessionRecord::of(&s, now))
    );

    // A record whose filter does not parse makes no session.
    let mut bad = SessionRecord::of(&s, now);
    bad.subscriptions[0].raw = "a/#/b".into();
    let bytes = postcard::to_stdvec(&bad).unwrap();
    assert!(postcard::from_bytes::<SessionData>(&bytes).is_err());
}
