//! The router's delivery rules without sessions: each session is a
//! [`Recorder`] that keeps what it was given.

use super::*;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use roost_protocol::{Properties, QoS};
use std::collections::{BTreeMap, BTreeSet};

/// A session's inbox that records its deliveries.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Delivery>>);

impl Mailbox for Recorder {
    fn deliver(&self, d: Delivery) -> Option<bool> {
        self.0.lock().push(d);
        Some(false)
    }

    fn wait_for_drain(&self, _: &Arc<dyn Waiter>) -> bool {
        false
    }
}

impl Recorder {
    fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// A router with 4 partitions (so `a/...` and `+/...` filters live apart).
fn router(overlapping: OverlappingSubscriptions) -> Router {
    test_router(4, overlapping)
}

/// One client's session.
struct Client {
    id: Arc<str>,
    inbox: Arc<Recorder>,
}

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        inbox: Arc::new(Recorder::default()),
    }
}

/// Subscribes `c` to `raw` (`$share/<g>/...` for a shared one) as a shard would.
fn subscribe(r: &Router, c: &Client, raw: &str, options: SubscriptionOptions, id: Option<u32>) {
    let parsed = roost_protocol::topic::parse_subscription_filter(raw).unwrap();
    let filter = parsed.filter.to_string();
    let sub = Subscriber {
        client_id: c.id.clone(),
        session: c.inbox.clone(),
        options,
        subscription_id: id,
    };
    let partition = r.partition(r.partition_of(&filter));
    add_route(
        &mut partition.write(),
        &filter,
        parsed.group.map(Into::into),
        sub,
    );
}

fn qos(q: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: q,
        ..Default::default()
    }
}

fn publish(r: &Router, topic: &str, from: &str) -> usize {
    let msg = Message::new(
        topic.into(),
        Bytes::from_static(b"m"),
        QoS::ExactlyOnce,
        true,
        from.into(),
        &Properties::default(),
    );
    r.route(&Arc::new(msg))
}

/// What a client received: (QoS, identifiers, Retain As Published, shared).
fn got(c: &Client) -> Vec<(QoS, Vec<u32>, bool, bool)> {
    let mut v: Vec<_> = c
        .inbox
        .take()
        .into_iter()
        .map(|d| {
            (
                d.qos,
                d.subscription_ids.as_slice().to_vec(),
                d.retain_as_published,
                d.shared.is_some(),
            )
        })
        .collect();
    v.sort();
    v
}

// [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] `a` (id 2, QoS 0) and `a/#`
// (id 3, QoS 1): one copy with QoS 1 and both identifiers; with
// per_subscription one copy each [MQTT-3.3.4-5].
#[test]
fn overlapping_subscriptions_make_one_copy_or_one_each() {
    let r = router(OverlappingSubscriptions::OneCopy);
    let c = client("c");
    subscribe(&r, &c, "a", qos(QoS::AtMostOnce), Some(2));
    subscribe(&r, &c, "a/#", qos(QoS::AtLeastOnce), Some(3));
    assert_eq!(publish(&r, "a", "p"), 1);
    assert_eq!(got(&c), [(QoS::AtLeastOnce, vec![2, 3], false, false)]);

    let r = router(OverlappingSubscriptions::PerSubscription);
    subscribe(&r, &c, "a", qos(QoS::AtMostOnce), Some(2));
    subscribe(&r, &c, "a/#", qos(QoS::AtLeastOnce), Some(3));
    assert_eq!(publish(&r, "a", "p"), 2);
    assert_eq!(
        got(&c),
        [
            (QoS::AtMostOnce, vec![2], false, false),
            (QoS::AtLeastOnce, vec![3], false, false)
        ]
    );
}

// `+/b` lives in the wildcard partition, `a/#` in `a`'s: one copy all the same.
#[test]
fn overlap_across_partitions_is_one_copy() {
    let r = router(OverlappingSubscriptions::OneCopy);
    assert_ne!(r.partition_of("+/b"), r.partition_of("a/#"));
    let c = client("c");
    let other = client("other");
    subscribe(&r, &c, "+/b", qos(QoS::ExactlyOnce), None);
    subscribe(&r, &c, "a/#", qos(QoS::AtMostOnce), Some(7));
    subscribe(&r, &other, "a/b", qos(QoS::AtMostOnce), None);
    assert_eq!(publish(&r, "a/b", "p"), 2);
    assert_eq!(got(&c), [(QoS::ExactlyOnce, vec![7], false, false)]);
    assert_eq!(got(&other), [(QoS::AtMostOnce, vec![], false, false)]);
}

// [MQTT-3.8.3-3] A No Local subscription does not take its own client's
// message, and so adds nothing to the copy its other subscription gets.
#[test]
fn a_no_local_subscription_does_not_count_for_its_own_message() {
    let r = router(OverlappingSubscriptions::OneCopy);
    let c = client("c");
    let no_local = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        ..Default::default()
    };
    subscribe(&r, &c, "a/b", no_local, Some(1));
    subscribe(&r, &c, "a/+", qos(QoS::AtMostOnce), Some(2));
    assert_eq!(publish(&r, "a/b", "c"), 1);
    assert_eq!(got(&c), [(QoS::AtMostOnce, vec![2], false, false)]);
    assert_eq!(publish(&r, "a/b", "someone else"), 1);
    assert_eq!(got(&c), [(QoS::ExactlyOnce, vec![1, 2], false, false)]);
}

// A merged copy keeps RETAIN as published if any of its subscriptions asks.
#[test]
fn retain_as_published_if_any_merged_subscription_asks() {
    let r = router(OverlappingSubscriptions::OneCopy);
    let c = client("c");
    let rap = SubscriptionOptions {
        retain_as_published: true,
        ..Default::default()
    };
    subscribe(&r, &c, "a/b", qos(QoS::AtMostOnce), None);
    subscribe(&r, &c, "#", rap, None);
    publish(&r, "a/b", "p");
    assert_eq!(got(&c), [(QoS::AtMostOnce, vec![], true, false)]);
}

// A shared subscription keeps its own rules: its delivery is never merged
// with the client's plain one.
#[test]
fn shared_deliveries_are_not_merged() {
    let r = router(OverlappingSubscriptions::OneCopy);
    let c = client("c");
    subscribe(&r, &c, "$share/g/a/b", qos(QoS::AtLeastOnce), Some(1));
    subscribe(&r, &c, "a/b", qos(QoS::AtMostOnce), Some(2));
    subscribe(&r, &c, "a/#", qos(QoS::AtMostOnce), Some(3));
    assert_eq!(publish(&r, "a/b", "p"), 2);
    assert_eq!(
        got(&c),
        [
            (QoS::AtMostOnce, vec![2, 3], false, false),
            (QoS::AtLeastOnce, vec![1], false, true)
        ]
    );
}

// During a takeover one client id can name two sessions' subscriptions:
// each session gets its own copy.
#[test]
fn two_sessions_of_one_client_id_are_not_merged() {
    let r = router(OverlappingSubscriptions::OneCopy);
    let old = client("c");
    let new = client("c");
    subscribe(&r, &old, "a/+", qos(QoS::AtMostOnce), Some(1));
    subscribe(&r, &new, "a/b", qos(QoS::AtMostOnce), Some(2));
    assert_eq!(publish(&r, "a/b", "p"), 2);
    assert_eq!(got(&old), [(QoS::AtMostOnce, vec![1], false, false)]);
    assert_eq!(got(&new), [(QoS::AtMostOnce, vec![2], false, false)]);
}

/// Random subscription sets against the rule itself: each client gets one
/// copy per publish if any of its plain subscriptions takes the message, with
/// the highest QoS, the set of identifiers and Retain As Published if any;
/// plus one per shared group it was picked in.
#[test]
fn one_copy_per_client_against_a_model() {
    const FILTERS: [&str; 9] = [
        "a/b/c", "a/b/+", "a/#", "a/+/c", "+/b/c", "#", "+/#", "a/b", "x/b/c",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..200 {
        let r = router(OverlappingSubscriptions::OneCopy);
        let clients: Vec<Client> = (0..rng.random_range(1..12))
            .map(|i| client(&format!("c{i}")))
            .collect();
        // client -> (filter -> (options, id)); the index keeps one per filter.
        let mut model: BTreeMap<usize, BTreeMap<&str, (SubscriptionOptions, Option<u32>)>> =
            BTreeMap::new();
        for (i, c) in clients.iter().enumerate() {
            for _ in 0..rng.random_range(0..6) {
                let filter = FILTERS[rng.random_range(0..FILTERS.len())];
                let options = SubscriptionOptions {
                    qos: QoS::from_u8(rng.random_range(0..3)).unwrap(),
                    no_local: rng.random_bool(0.3),
                    retain_as_published: rng.random_bool(0.3),
                    ..Default::default()
                };
                let id = rng.random_bool(0.7).then(|| rng.random_range(1..6));
                subscribe(&r, c, filter, options, id);
                model.entry(i).or_default().insert(filter, (options, id));
            }
        }
        let from = format!("c{}", rng.random_range(0..clients.len()));
        let topic = ["a/b/c", "a/b", "x/b/c", "a"][round % 4];
        publish(&r, topic, &from);
        for (i, c) in clients.iter().enumerate() {
            let taking: Vec<&(SubscriptionOptions, Option<u32>)> = model
                .get(&i)
                .into_iter()
                .flatten()
                .filter(|(f, (o, _))| {
                    roost_protocol::topic::matches(f, topic) && !(o.no_local && *c.id == *from)
                })
                .map(|(_, s)| s)
                .collect();
            let expected: Vec<(QoS, Vec<u32>, bool, bool)> = if taking.is_empty() {
                vec![]
            } else {
                let ids: BTreeSet<u32> = taking.iter().filter_map(|(_, id)| *id).collect();
                vec![(
                    taking.iter().map(|(o, _)| o.qos).max().unwrap(),
                    ids.into_iter().collect(),
                    taking.iter().any(|(o, _)| o.retain_as_published),
                    false,
                )]
            };
            assert_eq!(
                got(c),
                expected,
                "round {round}, {topic} from {from}, {}",
                c.id
            );
        }
    }
}
