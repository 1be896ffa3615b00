//! Overlapping subscriptions: a message matching several subscriptions of one
//! client (MQTT 5.0 §3.3.4, 3.1.1 §3.3.5). By default
//! (`mqtt.overlapping_subscriptions: one_copy`) the client gets one copy with
//! the highest granted QoS and every matching subscription identifier;
//! `per_subscription` (EMQX's behaviour) sends one copy per subscription. Copies
//! are counted up to a sentinel message ([`RawClient::recv_until`]), not over a
//! quiet time.

#[macro_use]
mod common;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

async fn client(b: &Broker, id: &str) -> RawClient {
    RawClient::connected(b.addr(), V5, id).await
}

/// A subscriber of `o/#` (QoS 1) and `o/+` (QoS 0) and of "sentinel", and a
/// publisher, on `b`; then the QoS of each copy of one QoS 2 message to `o/a`
/// (counted up to the sentinel, see [`RawClient::recv_until`]), sorted.
async fn overlapping_copies(b: &Broker, v: ProtocolVersion) -> Vec<QoS> {
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("o/#", QoS::AtLeastOnce).await;
    sub.subscribe("o/+", QoS::AtMostOnce).await;
    sub.subscribe("sentinel", QoS::AtLeastOnce).await;
    publ.publish("o/a", b"ov", QoS::ExactlyOnce, false).await;
    publ.publish("sentinel", b"", QoS::AtLeastOnce, false).await;
    let mut qos: Vec<QoS> = sub
        .recv_until("sentinel")
        .await
        .iter()
        .map(|m| {
            assert_eq!((m.topic.as_str(), &m.payload[..]), ("o/a", &b"ov"[..]));
            m.qos
        })
        .collect();
    qos.sort();
    qos
}

// 3.1.1 [MQTT-3.3.5-1], 5.0 [MQTT-3.3.4-2]: with overlapping subscriptions the
// message is delivered respecting the maximum QoS of the matching ones. By
// default (mqtt.overlapping_subscriptions: one_copy) the client gets one copy,
// at QoS 1 ("o/#"), for 3.1.1 and 5.0 clients alike.
async fn overlapping_subscriptions(v: ProtocolVersion) {
    let b = Broker::start();
    assert_eq!(overlapping_copies(&b, v).await, [QoS::AtLeastOnce]);
}
versioned_test!(overlapping_subscriptions);

// With mqtt.overlapping_subscriptions: per_subscription (EMQX's behaviour) the
// server sends one copy per matching subscription, which the specifications
// allow too (5.0 [MQTT-3.3.4-5]): one at QoS 1 ("o/#"), one at QoS 0 ("o/+").
async fn overlapping_subscriptions_per_subscription(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__OVERLAPPING_SUBSCRIPTIONS", "per_subscription")]);
    assert_eq!(
        overlapping_copies(&b, v).await,
        [QoS::AtMostOnce, QoS::AtLeastOnce]
    );
}
versioned_test!(overlapping_subscriptions_per_subscription);

/// Subscribes `filter` with `options` and Subscription Identifier `id`.
async fn subscribe_opts_id(c: &mut RawClient, filter: &str, options: SubscriptionOptions, id: u32) {
    let pid = c.next_pid();
    let mut sub = Subscribe {
        packet_id: pid,
        filters: vec![(filter.to_string(), options)],
        ..Default::default()
    };
    sub.properties.subscription_identifiers = vec![id];
    let ack = c.subscribe_with(sub).await;
    assert!(!ack.reason_codes[0].is_error(), "{ack:?}");
}

/// What arrived before the sentinel (see [`RawClient::recv_until`]):
/// (topic, QoS, RETAIN, identifiers in ascending order), sorted.
async fn copies(s: &mut RawClient, p: &mut RawClient) -> Vec<(String, QoS, bool, Vec<u32>)> {
    assert!(!p
        .publish("sentinel", b"", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let mut v: Vec<_> = s
        .recv_until("sentinel")
        .await
        .into_iter()
        .map(|m| {
            let mut ids = m.properties.subscription_identifiers.clone();
            ids.sort();
            (m.topic.to_string(), m.qos, m.retain, ids)
        })
        .collect();
    v.sort();
    v
}

/// A QoS `q` subscription with default options.
fn opts(q: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: q,
        ..Default::default()
    }
}

/// A subscriber of `a` (id 2, QoS 0) and `a/#` (id 3, QoS 1), the sentinel
/// topic, and a publisher, on `b`.
async fn overlapping_pair(b: &Broker) -> (RawClient, RawClient) {
    let mut s = client(b, "ov-sub").await;
    subscribe_opts_id(&mut s, "a", opts(QoS::AtMostOnce), 2).await;
    subscribe_opts_id(&mut s, "a/#", opts(QoS::AtLeastOnce), 3).await;
    s.subscribe("sentinel", QoS::AtLeastOnce).await;
    (s, client(b, "ov-pub").await)
}

// [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] By default
// (mqtt.overlapping_subscriptions: one_copy) a message matching `a` (id 2,
// QoS 0) and `a/#` (id 3, QoS 1), published at QoS 2, reaches the client once:
// at QoS 1, the highest granted, with both identifiers.
#[tokio::test]
async fn one_copy_with_every_identifier() {
    let b = Broker::start();
    let (mut s, mut p) = overlapping_pair(&b).await;
    assert!(!p
        .publish("a", b"m", QoS::ExactlyOnce, false)
        .await
        .is_error());
    assert_eq!(
        copies(&mut s, &mut p).await,
        [("a".into(), QoS::AtLeastOnce, false, vec![2, 3])]
    );
}

// [MQTT-3.3.4-5] mqtt.overlapping_subscriptions: per_subscription (EMQX): one
// copy per matching subscription, each with its own QoS and identifier.
#[tokio::test]
async fn per_subscription_with_own_identifiers() {
    let b = Broker::start_with(&[("ROOST__MQTT__OVERLAPPING_SUBSCRIPTIONS", "per_subscription")]);
    let (mut s, mut p) = overlapping_pair(&b).await;
    assert!(!p
        .publish("a", b"m", QoS::ExactlyOnce, false)
        .await
        .is_error());
    assert_eq!(
        copies(&mut s, &mut p).await,
        [
            ("a".into(), QoS::AtMostOnce, false, vec![2]),
            ("a".into(), QoS::AtLeastOnce, false, vec![3])
        ]
    );
}

// [MQTT-3.3.4-4] `+/b` and `a/#` are kept apart in the index (a filter
// starting with a wildcard is filed apart from those of its first level, with
// the default 8 shards): still one copy.
#[tokio::test]
async fn overlap_with_a_leading_wildcard_is_one_copy() {
    let b = Broker::start();
    let mut s = client(&b, "lw-sub").await;
    subscribe_opts_id(&mut s, "+/b", opts(QoS::AtLeastOnce), 4).await;
    subscribe_opts_id(&mut s, "a/#", opts(QoS::AtMostOnce), 5).await;
    s.subscribe("sentinel", QoS::AtLeastOnce).await;
    let mut p = client(&b, "lw-pub").await;
    assert!(!p
        .publish("a/b", b"m", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(
        copies(&mut s, &mut p).await,
        [("a/b".into(), QoS::AtLeastOnce, false, vec![4, 5])]
    );
}

// [MQTT-3.8.3-3] A No Local subscription does not take its own client's
// message, so it adds nothing to the copy: the publisher's own message comes
// back once through its plain subscription (id 2, QoS 0); another client's
// message comes once with both identifiers and the higher QoS.
#[tokio::test]
async fn no_local_does_not_count_towards_one_copy() {
    let b = Broker::start();
    let mut c = client(&b, "nl1-me").await;
    let no_local = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        ..Default::default()
    };
    subscribe_opts_id(&mut c, "a", no_local, 1).await;
    subscribe_opts_id(&mut c, "a/#", opts(QoS::AtMostOnce), 2).await;
    c.subscribe("sentinel", QoS::AtLeastOnce).await;
    let mut other = client(&b, "nl1-other").await;
    assert!(!c
        .publish("a", b"own", QoS::ExactlyOnce, false)
        .await
        .is_error());
    // The sentinel is the publisher's too: it comes back through "sentinel".
    assert!(!c
        .publish("sentinel", b"", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let own: Vec<_> = c
        .recv_until("sentinel")
        .await
        .into_iter()
        .map(|m| {
            (
                m.payload.clone(),
                m.qos,
                m.properties.subscription_identifiers.clone(),
            )
        })
        .collect();
    assert_eq!(
        own,
        [(Bytes::from_static(b"own"), QoS::AtMostOnce, vec![2])]
    );
    assert!(!other
        .publish("a", b"other", QoS::ExactlyOnce, false)
        .await
        .is_error());
    assert_eq!(
        copies(&mut c, &mut other).await,
        [("a".into(), QoS::ExactlyOnce, false, vec![1, 2])]
    );
}

// A shared subscription keeps its own rules [MQTT-4.8.2]: its delivery is not
// merged with the same client's plain one, so the client gets two copies.
#[tokio::test]
async fn shared_and_plain_of_one_client_are_two_copies() {
    let b = Broker::start();
    let mut s = client(&b, "sh1-sub").await;
    subscribe_opts_id(&mut s, "$share/g/a", opts(QoS::AtLeastOnce), 1).await;
    subscribe_opts_id(&mut s, "a", opts(QoS::AtMostOnce), 2).await;
    s.subscribe("sentinel", QoS::AtLeastOnce).await;
    let mut p = client(&b, "sh1-pub").await;
    assert!(!p
        .publish("a", b"m", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(
        copies(&mut s, &mut p).await,
        [
            ("a".into(), QoS::AtMostOnce, false, vec![2]),
            ("a".into(), QoS::AtLeastOnce, false, vec![1])
        ]
    );
}

// Retain As Published [MQTT-3.3.1-12, MQTT-3.3.1-13] for one copy standing for
// two subscriptions: RETAIN is kept as published if either asks (Roost's
// choice, see docs/architecture.md).
#[tokio::test]
async fn one_copy_keeps_retain_if_any_subscription_asks() {
    let b = Broker::start();
    let mut s = client(&b, "rap1-sub").await;
    let rap = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        retain_as_published: true,
        ..Default::default()
    };
    subscribe_opts_id(&mut s, "a/#", rap, 1).await;
    subscribe_opts_id(&mut s, "a", opts(QoS::AtLeastOnce), 2).await;
    s.subscribe("sentinel", QoS::AtLeastOnce).await;
    let mut p = client(&b, "rap1-pub").await;
    assert!(!p
        .publish("a", b"m", QoS::AtLeastOnce, true)
        .await
        .is_error());
    assert_eq!(
        copies(&mut s, &mut p).await,
        [("a".into(), QoS::AtLeastOnce, true, vec![1, 2])]
    );
}
