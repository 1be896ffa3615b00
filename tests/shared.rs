//! Shared subscriptions (MQTT 5.0 section 4.8.2, and EMQX's `$queue/` form): every
//! message published to a group's filter reaches exactly one member of the group,
//! picked by `mqtt.shared_subscription_strategy`.

#[macro_use]
mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A client subscribed to `filter` at `q` (SUBACK asserted granted).
async fn member(b: &Broker, v: ProtocolVersion, id: &str, filter: &str, q: QoS) -> RawClient {
    let mut c = RawClient::connected(b.addr(), v, id).await;
    let ack = c.subscribe(filter, q).await;
    assert_eq!(
        ack.reason_codes,
        vec![granted(q)],
        "SUBACK of {id} for {filter}"
    );
    c
}

/// Publishes `n` QoS 1 messages `"<prefix>-<i>"` to `topic`, each PUBACKed.
async fn publish_n(p: &mut RawClient, topic: &str, prefix: &str, n: usize) -> BTreeSet<String> {
    let mut sent = BTreeSet::new();
    for i in 0..n {
        let payload = format!("{prefix}-{i}");
        let rc = p
            .publish(topic, payload.as_bytes(), QoS::AtLeastOnce, false)
            .await;
        assert!(!rc.is_error(), "PUBACK of {payload}: {rc:?}");
        sent.insert(payload);
    }
    sent
}

/// Reads (and acknowledges) PUBLISHes from every member until `total` have
/// arrived in all, or the deadline passes, then keeps reading for [`QUIET`] so
/// duplicates would be seen. Returns each member's payloads in arrival order.
async fn collect(members: &mut [RawClient], total: usize) -> Vec<Vec<String>> {
    let mut got: Vec<Vec<String>> = vec![Vec::new(); members.len()];
    let deadline = Instant::now() + RECV_TIMEOUT;
    let count = |g: &Vec<Vec<String>>| g.iter().map(|v| v.len()).sum::<usize>();
    while count(&got) < total && Instant::now() < deadline {
        for (i, m) in members.iter_mut().enumerate() {
            while let Recv::Packet(p) = m.try_recv_for(Duration::from_millis(30)).await {
                if let Packet::Publish(p) = p {
                    m.ack(&p).await;
                    got[i].push(String::from_utf8_lossy(&p.payload).into_owned());
                }
            }
        }
    }
    // Anything more would be a duplicate.
    for (i, m) in members.iter_mut().enumerate() {
        while let Recv::Packet(p) = m.try_recv_for(QUIET).await {
            if let Packet::Publish(p) = p {
                m.ack(&p).await;
                got[i].push(String::from_utf8_lossy(&p.payload).into_owned());
            }
        }
    }
    got
}

/// Asserts that `got` (per member) holds every message of `sent` exactly once.
fn assert_exactly_once(what: &str, sent: &BTreeSet<String>, got: &[Vec<String>]) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for m in got {
        for p in m {
            *seen.entry(p.as_str()).or_default() += 1;
        }
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "{what}: delivered more than once to the group: {dups:?}; per member: {got:?}"
    );
    let missing: Vec<_> = sent
        .iter()
        .filter(|s| !seen.contains_key(s.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: never delivered to the group: {missing:?}; per member: {got:?}"
    );
    let extra: Vec<_> = seen.keys().filter(|s| !sent.contains(**s)).collect();
    assert!(extra.is_empty(), "{what}: unexpected messages: {extra:?}");
}

// [MQTT-4.8.2-*] Each message goes to one member; with the default round_robin
// strategy (EMQX's default), 10 messages to 2 members are split 5 / 5.
async fn round_robin_splits_evenly(v: ProtocolVersion) {
    let b = Broker::start();
    let n = vname(v);
    let mut ms = vec![
        member(
            &b,
            v,
            &format!("rr-a-{n}"),
            "$share/g/sh/rr/#",
            QoS::AtLeastOnce,
        )
        .await,
        member(
            &b,
            v,
            &format!("rr-b-{n}"),
            "$share/g/sh/rr/#",
            QoS::AtLeastOnce,
        )
        .await,
    ];
    let mut p = RawClient::connected(b.addr(), v, &format!("rr-pub-{n}")).await;
    let sent = publish_n(&mut p, "sh/rr/x", "m", 10).await;
    let got = collect(&mut ms, 10).await;
    assert_exactly_once("round_robin", &sent, &got);
    assert_eq!(
        (got[0].len(), got[1].len()),
        (5, 5),
        "round_robin must alternate between the 2 members: {got:?}"
    );
}
// 3.1.1 clients can use `$share/` too (EMQX accepts it for every version).
versioned_test!(round_robin_splits_evenly);

// [MQTT-4.8.2-*] With strategy random, every message still reaches exactly one
// member of the group.
#[tokio::test]
async fn random_strategy_delivers_each_message_once() {
    let b = Broker::start_with(&[("ROOST__MQTT__SHARED_SUBSCRIPTION_STRATEGY", "random")]);
    let v = ProtocolVersion::V5;
    let mut ms = Vec::new();
    for id in ["rnd-a", "rnd-b", "rnd-c"] {
        ms.push(member(&b, v, id, "$share/g/sh/rnd/+", QoS::AtLeastOnce).await);
    }
    let mut p = RawClient::connected(b.addr(), v, "rnd-pub").await;
    let sent = publish_n(&mut p, "sh/rnd/t", "r", 30).await;
    let got = collect(&mut ms, 30).await;
    assert_exactly_once("random", &sent, &got);
    // 30 messages all on one of 3 members has probability 3 / 3^30.
    let used = got.iter().filter(|m| !m.is_empty()).count();
    assert!(
        used >= 2,
        "random strategy sent everything to one member: {got:?}"
    );
}

// [MQTT-4.8.2-*] Two groups on the same filter each get their own copy of each
// message, shared among that group's members.
#[tokio::test]
async fn two_groups_each_get_a_copy() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut g1 = vec![
        member(&b, v, "g1-a", "$share/g1/sh/two/t", QoS::AtLeastOnce).await,
        member(&b, v, "g1-b", "$share/g1/sh/two/t", QoS::AtLeastOnce).await,
    ];
    let mut g2 = vec![
        member(&b, v, "g2-a", "$share/g2/sh/two/t", QoS::AtLeastOnce).await,
        member(&b, v, "g2-b", "$share/g2/sh/two/t", QoS::AtLeastOnce).await,
    ];
    let mut p = RawClient::connected(b.addr(), v, "two-pub").await;
    let sent = publish_n(&mut p, "sh/two/t", "t", 6).await;
    let got1 = collect(&mut g1, 6).await;
    let got2 = collect(&mut g2, 6).await;
    assert_exactly_once("group g1", &sent, &got1);
    assert_exactly_once("group g2", &sent, &got2);
}

// A non-shared subscriber on the same filter gets every message, besides the
// group's one copy.
#[tokio::test]
async fn plain_subscriber_beside_group_gets_own_copy() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut group = vec![
        member(&b, v, "pg-a", "$share/g/sh/plain/t", QoS::AtLeastOnce).await,
        member(&b, v, "pg-b", "$share/g/sh/plain/t", QoS::AtLeastOnce).await,
    ];
    let mut plain = vec![member(&b, v, "pg-plain", "sh/plain/t", QoS::AtLeastOnce).await];
    let mut p = RawClient::connected(b.addr(), v, "pg-pub").await;
    let sent = publish_n(&mut p, "sh/plain/t", "p", 6).await;
    let got_group = collect(&mut group, 6).await;
    let got_plain = collect(&mut plain, 6).await;
    assert_exactly_once("group", &sent, &got_group);
    assert_exactly_once("plain subscriber", &sent, &got_plain);
}

// `$queue/<filter>` is EMQX's shorthand for a shared subscription in the group
// `$queue`: one member per message.
async fn queue_prefix_is_a_group(v: ProtocolVersion) {
    let b = Broker::start();
    let n = vname(v);
    let mut ms = vec![
        member(
            &b,
            v,
            &format!("q-a-{n}"),
            "$queue/sh/q/t",
            QoS::AtLeastOnce,
        )
        .await,
        member(
            &b,
            v,
            &format!("q-b-{n}"),
            "$queue/sh/q/t",
            QoS::AtLeastOnce,
        )
        .await,
    ];
    let mut p = RawClient::connected(b.addr(), v, &format!("q-pub-{n}")).await;
    let sent = publish_n(&mut p, "sh/q/t", "q", 6).await;
    let got = collect(&mut ms, 6).await;
    assert_exactly_once("$queue", &sent, &got);
    assert!(
        got.iter().all(|m| !m.is_empty()),
        "round_robin over $queue must use both members: {got:?}"
    );
}
versioned_test!(queue_prefix_is_a_group);

// Spec 4.8.2: if a member's session ends with QoS 1 messages unacknowledged,
// "the Server SHOULD send the Application Message to another Client that is
// subscribed to the same Shared Subscription"; EMQX redispatches the inflight
// and queued messages of a terminating shared member.
#[tokio::test]
async fn unacked_messages_of_departing_member_go_to_another() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    // A never acknowledges; clean start with no session expiry, so its session
    // ends when it disconnects.
    let mut a = member(&b, v, "leave-a", "$share/g/sh/leave/t", QoS::AtLeastOnce).await;
    let mut rest = [member(&b, v, "leave-b", "$share/g/sh/leave/t", QoS::AtLeastOnce).await];
    let mut p = RawClient::connected(b.addr(), v, "leave-pub").await;
    let sent = publish_n(&mut p, "sh/leave/t", "l", 4).await;

    // Round robin gives A two of the four; read them without acking.
    let mut at_a = Vec::new();
    let deadline = Instant::now() + RECV_TIMEOUT;
    while at_a.len() < 2 && Instant::now() < deadline {
        if let Recv::Packet(Packet::Publish(m)) = a.try_recv_for(Duration::from_millis(50)).await {
            at_a.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
    }
    assert!(!at_a.is_empty(), "member A never received a message");
    a.disconnect().await;

    // B must now hold all four: its own and A's unacknowledged ones.
    let deadline = Instant::now() + RECV_TIMEOUT;
    let mut at_b = BTreeSet::new();
    while at_b.len() < sent.len() && Instant::now() < deadline {
        if let Recv::Packet(Packet::Publish(m)) =
            rest[0].try_recv_for(Duration::from_millis(50)).await
        {
            rest[0].ack(&m).await;
            at_b.insert(String::from_utf8_lossy(&m.payload).into_owned());
        }
    }
    let missing: Vec<_> = sent.difference(&at_b).collect();
    assert!(
        missing.is_empty(),
        "messages left unacknowledged by departed member A ({at_a:?}) never reached B: {missing:?}"
    );
}

// Spec 3.3.1.3: retained messages are sent when a new *Non-shared* Subscription
// is made; EMQX's retainer skips `$share/` subscriptions. So the first message a
// new group member sees is a live one.
#[tokio::test]
async fn retained_messages_not_sent_on_shared_subscribe() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut p = RawClient::connected(b.addr(), v, "ret-pub").await;
    assert!(!p
        .publish("sh/ret/t", b"old", QoS::AtLeastOnce, true)
        .await
        .is_error());
    // Control: a plain subscription does get the retained message.
    let mut plain = member(&b, v, "ret-plain", "sh/ret/t", QoS::AtLeastOnce).await;
    let m = plain.recv_message().await;
    assert_eq!(
        (&m.payload[..], m.retain),
        (&b"old"[..], true),
        "plain subscriber: {m:?}"
    );

    let mut shared = member(&b, v, "ret-shared", "$share/g/sh/ret/t", QoS::AtLeastOnce).await;
    assert!(!p
        .publish("sh/ret/t", b"live", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = shared.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"live",
        "shared subscriber must not get the retained message at subscribe time: {m:?}"
    );
    shared.recv_none_for(QUIET).await;
}

// [MQTT-3.8.3-4] It is a Protocol Error to set No Local on a Shared Subscription.
#[tokio::test]
async fn no_local_on_shared_subscription_is_protocol_error() {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), ProtocolVersion::V5, "nl-shared").await;
    let pid = c.next_pid();
    let opts = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        ..Default::default()
    };
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: pid,
        filters: vec![("$share/g/sh/nl/t".to_string(), opts)],
        ..Default::default()
    }))
    .await;
    c.expect_disconnect(ReasonCode::ProtocolError).await;
}

// mqtt.shared_subscription = false: CONNACK says Shared Subscription Available 0
// (absent would mean available, spec 3.2.2.3.16) and a shared filter gets SUBACK
// 0x9E while a plain filter in the same SUBSCRIBE is granted. The spec also allows
// DISCONNECT 0x9E; EMQX answers per filter in the SUBACK.
#[tokio::test]
async fn shared_subscriptions_disabled() {
    let b = Broker::start_with(&[("ROOST__MQTT__SHARED_SUBSCRIPTION", "false")]);
    let (mut c, ack) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "noshare")).await;
    assert_eq!(
        ack.properties.shared_subscription_available,
        Some(0),
        "CONNACK must announce Shared Subscription Available 0: {ack:?}"
    );
    let ack = c
        .subscribe_opts(&[
            ("$share/g/sh/off/t", sub_opts(QoS::AtLeastOnce)),
            ("sh/off/t", sub_opts(QoS::AtLeastOnce)),
        ])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![
            ReasonCode::SharedSubscriptionsNotSupported,
            ReasonCode::GrantedQoS1
        ],
        "{ack:?}"
    );
}

// [MQTT-4.8.2-1] [MQTT-4.8.2-2] A ShareName is at least one character, holds no
// `/`, `+` or `#`, and is followed by `/` and a topic filter. Each broken filter
// gets reason 0x8F: in the SUBACK (the brief's choice, and the spec's SUBACK code
// for it), or, as EMQX does for any invalid filter, in a DISCONNECT.
#[tokio::test]
async fn invalid_share_names_are_rejected() {
    let b = Broker::start();
    for (i, filter) in [
        "$share/a+b/t",
        "$share/g",
        "$share//t",
        "$share/a#/t",
        "$share/g/",
    ]
    .into_iter()
    .enumerate()
    {
        let mut c =
            RawClient::connected(b.addr(), ProtocolVersion::V5, &format!("badshare-{i}")).await;
        let pid = c.next_pid();
        c.send(&Packet::Subscribe(Subscribe {
            packet_id: pid,
            filters: vec![(filter.to_string(), sub_opts(QoS::AtLeastOnce))],
            ..Default::default()
        }))
        .await;
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::SubAck(a)) => assert_eq!(
                a.reason_codes,
                vec![ReasonCode::TopicFilterInvalid],
                "SUBACK for {filter:?}"
            ),
            Recv::Packet(Packet::Disconnect(d)) => assert_eq!(
                d.reason_code,
                ReasonCode::TopicFilterInvalid,
                "DISCONNECT for {filter:?}"
            ),
            other => panic!("{filter:?}: expected SUBACK or DISCONNECT 0x8F, got {other:?}"),
        }
    }
}

/// Reads every PUBLISH from each member for `total` messages (acked) and returns
/// (member index, topic, payload) in arrival order per member.
async fn collect_with_topics(
    members: &mut [RawClient],
    total: usize,
) -> Vec<(usize, String, String)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + RECV_TIMEOUT;
    while got.len() < total && Instant::now() < deadline {
        for (i, m) in members.iter_mut().enumerate() {
            while let Recv::Packet(Packet::Publish(p)) =
                m.try_recv_for(Duration::from_millis(30)).await
            {
                m.ack(&p).await;
                got.push((
                    i,
                    p.topic.clone(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                ));
            }
        }
    }
    assert_eq!(got.len(), total, "messages delivered to the group: {got:?}");
    got
}

// Strategy hash_topic: all messages of one topic go to the same member.
#[tokio::test]
async fn hash_topic_strategy_keeps_a_topic_on_one_member() {
    let b = Broker::start_with(&[("ROOST__MQTT__SHARED_SUBSCRIPTION_STRATEGY", "hash_topic")]);
    let v = ProtocolVersion::V5;
    let mut ms = Vec::new();
    for id in ["ht-a", "ht-b", "ht-c"] {
        ms.push(member(&b, v, id, "$share/g/sh/ht/+", QoS::AtLeastOnce).await);
    }
    let mut p = RawClient::connected(b.addr(), v, "ht-pub").await;
    for i in 0..5 {
        for t in ["x", "y", "z", "w"] {
            let topic = format!("sh/ht/{t}");
            assert!(!p
                .publish(&topic, i.to_string().as_bytes(), QoS::AtLeastOnce, false)
                .await
                .is_error());
        }
    }
    let got = collect_with_topics(&mut ms, 20).await;
    let mut owner: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, t, _) in &got {
        owner.entry(t.clone()).or_default().insert(*i);
    }
    for (t, members) in &owner {
        assert_eq!(
            members.len(),
            1,
            "topic {t} was spread over members {members:?}"
        );
    }
}

// Strategy hash_clientid: all messages of one publisher go to the same member.
#[tokio::test]
async fn hash_clientid_strategy_keeps_a_publisher_on_one_member() {
    let b = Broker::start_with(&[("ROOST__MQTT__SHARED_SUBSCRIPTION_STRATEGY", "hash_clientid")]);
    let v = ProtocolVersion::V5;
    let mut ms = Vec::new();
    for id in ["hc-a", "hc-b", "hc-c"] {
        ms.push(member(&b, v, id, "$share/g/sh/hc/t", QoS::AtLeastOnce).await);
    }
    let mut pubs = Vec::new();
    for id in ["hc-pub-1", "hc-pub-2", "hc-pub-3", "hc-pub-4"] {
        pubs.push((id, RawClient::connected(b.addr(), v, id).await));
    }
    for i in 0..5 {
        for (id, p) in pubs.iter_mut() {
            let payload = format!("{id}/{i}");
            assert!(!p
                .publish("sh/hc/t", payload.as_bytes(), QoS::AtLeastOnce, false)
                .await
                .is_error());
        }
    }
    let got = collect_with_topics(&mut ms, 20).await;
    let mut owner: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, _, payload) in &got {
        let publisher = payload.split('/').next().unwrap().to_string();
        owner.entry(publisher).or_default().insert(*i);
    }
    for (publisher, members) in &owner {
        assert_eq!(
            members.len(),
            1,
            "{publisher}'s messages were spread over members {members:?}"
        );
    }
}

// [MQTT-4.8.2-3] Each member gets messages at its own granted QoS: a QoS 1
// publish reaches a QoS 0 member at QoS 0 and a QoS 1 member at QoS 1.
#[tokio::test]
async fn shared_members_get_their_granted_qos() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut q0 = member(&b, v, "gq-0", "$share/g/sh/gq/t", QoS::AtMostOnce).await;
    let mut q1 = member(&b, v, "gq-1", "$share/g/sh/gq/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), v, "gq-pub").await;
    publish_n(&mut p, "sh/gq/t", "g", 4).await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + RECV_TIMEOUT;
    while seen.len() < 4 && Instant::now() < deadline {
        for (name, m) in [("qos0 member", &mut q0), ("qos1 member", &mut q1)] {
            if let Recv::Packet(Packet::Publish(x)) =
                m.try_recv_for(Duration::from_millis(30)).await
            {
                m.ack(&x).await;
                seen.push((name, x.qos));
            }
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    for (name, q) in &seen {
        let want = if *name == "qos0 member" {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        assert_eq!(*q, want, "{name} got QoS {q:?}: {seen:?}");
    }
    assert!(
        seen.iter().any(|(n, _)| *n == "qos0 member")
            && seen.iter().any(|(n, _)| *n == "qos1 member")
    );
}

// [MQTT-4.8.2-6] A PUBACK with an error code (0x80) for a shared delivery ends
// that message: it is not sent to another member, even when the member leaves.
#[tokio::test]
async fn error_puback_is_not_redispatched() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut a = member(&b, v, "ep-a", "$share/g/sh/ep/t", QoS::AtLeastOnce).await;
    let mut others = vec![member(&b, v, "ep-b", "$share/g/sh/ep/t", QoS::AtLeastOnce).await];
    let mut p = RawClient::connected(b.addr(), v, "ep-pub").await;
    let sent = publish_n(&mut p, "sh/ep/t", "e", 2).await;
    // Round robin: one message each.
    let refused = a.expect_publish().await;
    a.send(&Packet::PubAck(PubAck {
        packet_id: refused.packet_id,
        reason_code: ReasonCode::UnspecifiedError,
        properties: Properties::default(),
    }))
    .await;
    a.disconnect().await;
    let got = collect(&mut others, 1).await;
    let refused = String::from_utf8_lossy(&refused.payload).into_owned();
    assert!(
        !got[0].contains(&refused),
        "{refused} was refused by A yet redispatched to B: {got:?}"
    );
    let rest: BTreeSet<_> = sent.iter().filter(|s| **s != refused).cloned().collect();
    assert_exactly_once("the member that stayed", &rest, &got);
}

// A member that unsubscribes leaves the group: the remaining member gets every
// later message, the departed one none [MQTT-3.10.4-2].
#[tokio::test]
async fn unsubscribed_member_leaves_the_group() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut a = member(&b, v, "un-a", "$share/g/sh/un/t", QoS::AtLeastOnce).await;
    let mut rest = vec![member(&b, v, "un-b", "$share/g/sh/un/t", QoS::AtLeastOnce).await];
    let ack = a.unsubscribe(&["$share/g/sh/un/t"]).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::Success], "{ack:?}");
    let mut p = RawClient::connected(b.addr(), v, "un-pub").await;
    let sent = publish_n(&mut p, "sh/un/t", "u", 4).await;
    let got = collect(&mut rest, 4).await;
    assert_exactly_once("remaining member", &sent, &got);
    a.recv_none_for(QUIET).await;
}

// Like the departing-member case, but most of A's messages are still in its
// queue (Receive Maximum 1, nothing acked): queued ones must move to B too.
#[tokio::test]
async fn queued_messages_of_departing_member_go_to_another() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut c = connect_packet(v, "leaveq-a");
    c.properties.receive_maximum = Some(1);
    let (mut a, _) = RawClient::connect_ok(b.addr(), c).await;
    a.subscribe("$share/g/sh/leaveq/t", QoS::AtLeastOnce).await;
    let mut rest = [member(&b, v, "leaveq-b", "$share/g/sh/leaveq/t", QoS::AtLeastOnce).await];
    let mut p = RawClient::connected(b.addr(), v, "leaveq-pub").await;
    let sent = publish_n(&mut p, "sh/leaveq/t", "q", 10).await;
    let first = a.expect_publish().await;
    a.recv_none_for(Duration::from_millis(200)).await;
    a.disconnect().await;
    let deadline = Instant::now() + RECV_TIMEOUT;
    let mut at_b = BTreeSet::new();
    while at_b.len() < sent.len() && Instant::now() < deadline {
        if let Recv::Packet(Packet::Publish(m)) =
            rest[0].try_recv_for(Duration::from_millis(50)).await
        {
            rest[0].ack(&m).await;
            at_b.insert(String::from_utf8_lossy(&m.payload).into_owned());
        }
    }
    let missing: Vec<_> = sent.difference(&at_b).collect();
    assert!(
        missing.is_empty(),
        "A (in flight: {:?}) left; never reached B: {missing:?}",
        String::from_utf8_lossy(&first.payload)
    );
}

// [MQTT-4.8.2-5] A QoS 2 message already sent to a member whose session then
// ends goes to no other member (unlike QoS 1, see above).
#[tokio::test]
async fn qos2_inflight_of_departing_member_is_not_redispatched() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut a = member(&b, v, "q2-a", "$share/g/sh/q2/t", QoS::ExactlyOnce).await;
    let mut rest = vec![member(&b, v, "q2-b", "$share/g/sh/q2/t", QoS::ExactlyOnce).await];
    let mut p = RawClient::connected(b.addr(), v, "q2-pub").await;
    for i in 0..2 {
        let rc = p
            .publish(
                "sh/q2/t",
                format!("x-{i}").as_bytes(),
                QoS::ExactlyOnce,
                false,
            )
            .await;
        assert!(!rc.is_error(), "{rc:?}");
    }
    // Round robin: one each. A receives its copy and never answers.
    let at_a = a.expect_publish().await;
    let at_a = String::from_utf8_lossy(&at_a.payload).into_owned();
    a.disconnect().await;
    let got = collect(&mut rest, 1).await;
    assert_eq!(
        got[0].len(),
        1,
        "B must get exactly its own message: {got:?}"
    );
    assert!(
        !got[0].contains(&at_a),
        "QoS 2 message {at_a} sent to A was redispatched: {got:?}"
    );
}

// Concurrent publishers into one group: still exactly once per message, and
// every member used.
#[tokio::test]
async fn concurrent_publishers_exactly_once() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut ms = Vec::new();
    for id in ["cp-a", "cp-b", "cp-c"] {
        ms.push(member(&b, v, id, "$share/g/sh/cp/#", QoS::AtLeastOnce).await);
    }
    let addr = b.addr();
    let mut tasks = Vec::new();
    for k in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut p = RawClient::connected(addr, v, &format!("cp-pub-{k}")).await;
            publish_n(&mut p, &format!("sh/cp/{k}"), &format!("p{k}"), 25).await
        }));
    }
    let mut sent = BTreeSet::new();
    for t in tasks {
        sent.extend(t.await.expect("publisher task"));
    }
    let got = collect(&mut ms, 100).await;
    assert_exactly_once("concurrent publishers", &sent, &got);
    assert!(
        got.iter().all(|m| !m.is_empty()),
        "a member got nothing: {:?}",
        got.iter().map(|m| m.len()).collect::<Vec<_>>()
    );
}

// Churn: members join and leave while messages flow. QoS 1 through a group is
// at least once: nothing published may be lost (what the departing member had
// not acknowledged is redispatched).
#[tokio::test]
async fn churn_loses_nothing() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let filter = "$share/g/sh/churn/t";
    let mut a = member(&b, v, "churn-a", filter, QoS::AtLeastOnce).await;
    let mut bb = member(&b, v, "churn-b", filter, QoS::AtLeastOnce).await;
    let addr = b.addr();
    let publisher = tokio::spawn(async move {
        let mut p = RawClient::connected(addr, v, "churn-pub").await;
        let mut sent = BTreeSet::new();
        for i in 0..200 {
            let payload = format!("c-{i}");
            assert!(!p
                .publish("sh/churn/t", payload.as_bytes(), QoS::AtLeastOnce, false)
                .await
                .is_error());
            sent.insert(payload);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sent
    });
    let mut seen = BTreeSet::new();
    async fn pump(m: &mut RawClient, seen: &mut BTreeSet<String>) -> usize {
        let mut n = 0;
        while let Recv::Packet(Packet::Publish(p)) = m.try_recv_for(Duration::from_millis(5)).await
        {
            m.ack(&p).await;
            seen.insert(String::from_utf8_lossy(&p.payload).into_owned());
            n += 1;
        }
        n
    }
    let deadline = Instant::now() + RECV_TIMEOUT;
    while seen.len() < 60 && Instant::now() < deadline {
        pump(&mut a, &mut seen).await;
        pump(&mut bb, &mut seen).await;
    }
    let mut c = member(&b, v, "churn-c", filter, QoS::AtLeastOnce).await;
    while seen.len() < 120 && Instant::now() < deadline {
        pump(&mut a, &mut seen).await;
        pump(&mut bb, &mut seen).await;
        pump(&mut c, &mut seen).await;
    }
    // A leaves with whatever is still unread in its socket unacknowledged.
    a.disconnect().await;
    let sent = publisher.await.expect("publisher");
    let deadline = Instant::now() + RECV_TIMEOUT;
    while !sent.is_subset(&seen) && Instant::now() < deadline {
        pump(&mut bb, &mut seen).await;
        pump(&mut c, &mut seen).await;
    }
    let lost: Vec<_> = sent.difference(&seen).collect();
    assert!(lost.is_empty(), "lost through membership churn: {lost:?}");
}

// A persistent member that goes away and comes back (session resumed) is still
// in the group; across the gap every message reaches the group exactly once
// (whatever was routed to its offline session arrives on resume).
#[tokio::test]
async fn persistent_member_resumes_in_group() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let filter = "$share/g/sh/resume/t";
    let (mut a, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "res-a", 300)).await;
    a.subscribe(filter, QoS::AtLeastOnce).await;
    let bm = member(&b, v, "res-b", filter, QoS::AtLeastOnce).await;
    a.disconnect().await;
    let mut p = RawClient::connected(b.addr(), v, "res-pub").await;
    let mut sent = publish_n(&mut p, "sh/resume/t", "off", 6).await;
    let (a, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "res-a", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    sent.extend(publish_n(&mut p, "sh/resume/t", "on", 6).await);
    let mut ms = [a, bm];
    let got = collect(&mut ms, 12).await;
    assert_exactly_once("group across a member's reconnect", &sent, &got);
    assert!(
        got[0].iter().any(|m| m.starts_with("on-")),
        "the resumed member got no new message: {got:?}"
    );
}

// UNSUBSCRIBE of a shared filter answers 0x00 when it existed and 0x11 when not.
#[tokio::test]
async fn unsubscribe_shared_filter_reason_codes() {
    let b = Broker::start();
    let mut c = member(
        &b,
        ProtocolVersion::V5,
        "unsh",
        "$share/g/sh/unsh/t",
        QoS::AtLeastOnce,
    )
    .await;
    let ack = c
        .unsubscribe(&["$share/g/sh/unsh/t", "$share/other/sh/unsh/t"])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        "{ack:?}"
    );
}
