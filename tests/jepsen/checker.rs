//! The checker: reads a history (history.rs) after healing and a quiet period
//! and reports every violation of issue 18's three promises:
//! - a message whose PUBACK / PUBCOMP its publisher got reached every
//!   persistent subscriber subscribed before it was published, at least once;
//!   at QoS 2 exactly once;
//! - no client id had two live sessions at once;
//! - no retained message whose clear was acknowledged came back.

use super::history::{Event, Op};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A node's REST sample: when, and the `(client id, state)` pairs it listed.
type Sample<'a> = (u64, &'a Vec<(String, String)>);

/// An acknowledged message that did not reach a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    pub msg: String,
    pub qos: u8,
    pub publisher: String,
    pub pub_node: usize,
    /// The PUBACK's (or PUBREC's) reason code.
    pub reason: u8,
    pub subscriber: String,
    /// The nodes the subscriber was connected to from the publish to the end.
    pub sub_nodes: Vec<usize>,
    /// The subscriber's session was gone (CONNACK session present 0) after
    /// the message was published.
    pub session_lost: bool,
    /// Faults active from 1 s before the publish to 5 s after its ack.
    pub faults: Vec<String>,
    pub t: u64,
}

/// A QoS 2 message delivered more than once to one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub msg: String,
    pub subscriber: String,
    pub times: usize,
    pub nodes: Vec<usize>,
}

/// A client id with two live sessions at once.
#[derive(Debug, Clone, PartialEq)]
pub struct DoubleSession {
    pub client: String,
    pub nodes: Vec<usize>,
    /// How it was seen: `race` (both connections answered after settling) or
    /// `rest` (listed connected on two nodes in two samples in a row).
    pub how: &'static str,
    /// A partition between the nodes was active then.
    pub partitioned: bool,
    pub t: u64,
}

/// A retained message that came back after its clear was acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Resurrected {
    pub topic: String,
    pub node: usize,
    pub cleared_on: usize,
    pub faults: Vec<String>,
}

/// The checker's verdict.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Verdict {
    pub acked: usize,
    pub subscribers: usize,
    pub deliveries: usize,
    pub lost: Vec<Lost>,
    pub duplicates: Vec<Duplicate>,
    pub doubles: Vec<DoubleSession>,
    pub resurrected: Vec<Resurrected>,
    pub races: usize,
    pub retained_cleared: usize,
    pub faults: usize,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.doubles.is_empty()
            && self.resurrected.is_empty()
    }
}

/// Fault intervals `(what, start, end)` of a history (end = the end of the
/// history for a fault still active).
fn faults(events: &[Event]) -> Vec<(String, u64, u64)> {
    let end = events.last().map_or(0, |e| e.t);
    let mut open: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    for e in events {
        if let Op::Nemesis { what, nodes, start } = &e.op {
            let key = format!("{what} {nodes:?}");
            if *start {
                open.insert(key, e.t);
            } else if let Some(t0) = open.remove(&key) {
                out.push((key, t0, e.t));
            }
        }
    }
    out.extend(open.into_iter().map(|(k, t0)| (k, t0, end)));
    out.sort_by_key(|f| f.1);
    out
}

fn overlapping(faults: &[(String, u64, u64)], from: u64, to: u64) -> Vec<String> {
    faults
        .iter()
        .filter(|(_, a, b)| *a <= to && *b >= from)
        .map(|(w, a, b)| format!("{w} @{a}..{b}ms"))
        .collect()
}

/// Whether a partition separating `a` and `b` was active at `t`.
fn partitioned(faults: &[(String, u64, u64)], t: u64, a: usize, b: usize) -> bool {
    faults.iter().any(|(w, t0, t1)| {
        *t0 <= t
            && t <= *t1
            && w.starts_with("partition")
            && w.contains(&a.to_string())
            && w.contains(&b.to_string())
    })
}

/// Checks `events` (in time order).
pub fn check(events: &[Event]) -> Verdict {
    let faults = faults(events);
    let mut v = Verdict {
        faults: faults.len(),
        ..Verdict::default()
    };
    let end = events.last().map_or(0, |e| e.t);

    // Publishes: invoke time and node, then the ack.
    let mut invoked: HashMap<&str, (u64, &str, usize)> = HashMap::new();
    // msg -> (qos, publisher, node, reason, invoke t, ack t)
    let mut acked: BTreeMap<&str, (u8, &str, usize, u8, u64, u64)> = BTreeMap::new();
    let mut first_sub: BTreeMap<&str, u64> = BTreeMap::new();
    let mut deliveries: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut session_lost_at: HashMap<&str, Vec<u64>> = HashMap::new();
    let mut nodes_of: HashMap<&str, Vec<(u64, usize)>> = HashMap::new();
    let mut cleared: HashMap<&str, usize> = HashMap::new();
    let mut cleared_at: HashMap<&str, u64> = HashMap::new();
    // Per node: the time of its last REST sample and the clients it listed.
    let mut last_sample: HashMap<usize, Sample> = HashMap::new();
    let mut seen_doubles: std::collections::HashSet<String> = Default::default();

    for e in events {
        match &e.op {
            Op::PubInvoke {
                client, msg, node, ..
            } => {
                invoked.insert(msg.as_str(), (e.t, client.as_str(), *node));
            }
            Op::PubAck {
                client,
                msg,
                qos,
                node,
                reason,
            } => {
                let (t0, _, pnode) = invoked
                    .get(msg.as_str())
                    .copied()
                    .unwrap_or((e.t, "", *node));
                acked.insert(
                    msg.as_str(),
                    (*qos, client.as_str(), pnode, *reason, t0, e.t),
                );
            }
            Op::Subscribed { client, .. } => {
                first_sub.entry(client.as_str()).or_insert(e.t);
            }
            Op::Connected {
                client,
                node,
                session_present,
            } => {
                nodes_of
                    .entry(client.as_str())
                    .or_default()
                    .push((e.t, *node));
                if !session_present && first_sub.contains_key(client.as_str()) {
                    session_lost_at
                        .entry(client.as_str())
                        .or_default()
                        .push(e.t);
                }
            }
            Op::Deliver {
                client, msg, node, ..
            } => {
                v.deliveries += 1;
                deliveries
                    .entry((client.as_str(), msg.as_str()))
                    .or_default()
                    .push(*node);
            }
            Op::RetainCleared { topic, node } => {
                cleared.insert(topic.as_str(), *node);
                cleared_at.insert(topic.as_str(), e.t);
                v.retained_cleared += 1;
            }
            Op::RetainSet { topic, .. } => {
                // A set after the clear makes the topic's final state unknown.
                cleared.remove(topic.as_str());
            }
            Op::RetainSeen { topic, node, .. } => {
                if let Some(&on) = cleared.get(topic.as_str()) {
                    let t = cleared_at[topic.as_str()];
                    v.resurrected.push(Resurrected {
                        topic: topic.clone(),
                        node: *node,
                        cleared_on: on,
                        faults: overlapping(&faults, t.saturating_sub(1000), end),
                    });
                }
            }
            Op::Race {
                client,
                nodes,
                alive,
            } => {
                v.races += 1;
                if alive.0 && alive.1 {
                    v.doubles.push(DoubleSession {
                        client: client.clone(),
                        nodes: vec![nodes.0, nodes.1],
                        how: "race",
                        partitioned: partitioned(&faults, e.t, nodes.0, nodes.1),
                        t: e.t,
                    });
                }
            }
            Op::Sample { node, clients } => {
                last_sample.insert(*node, (e.t, clients));
                // A client listed connected, with the same connected_at, on two
                // nodes, in this sample and in the previous one of both nodes.
                for (other, (at, theirs)) in &last_sample {
                    // Only the same sampling round: a node that stopped
                    // answering (killed, paused) keeps its last listing.
                    if other == node || e.t.saturating_sub(*at) > 1000 {
                        continue;
                    }
                    for c in clients.iter() {
                        let Some(o) = theirs.iter().find(|o| o.0 == c.0) else {
                            continue;
                        };
                        let (lo, hi) = if node < other {
                            ((node, &c.1), (other, &o.1))
                        } else {
                            ((other, &o.1), (node, &c.1))
                        };
                        let key = format!("{}|{lo:?}|{hi:?}", c.0);
                        // Seen again in a later sample: both connections
                        // outlived a sampling round.
                        if !seen_doubles.insert(key)
                            && seen_doubles.insert(format!("reported|{}", c.0))
                        {
                            v.doubles.push(DoubleSession {
                                client: c.0.clone(),
                                nodes: vec![*node, *other],
                                how: "rest",
                                partitioned: partitioned(&faults, e.t, *node, *other),
                                t: e.t,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }

    v.acked = acked.len();
    v.subscribers = first_sub.len();
    for (msg, (qos, publisher, pub_node, reason, t0, t1)) in &acked {
        for (sub, sub_t) in &first_sub {
            if *sub_t >= *t0 {
                continue;
            }
            match deliveries.get(&(*sub, *msg)) {
                None => {
                    let sub_nodes: Vec<usize> = {
                        let conns = nodes_of.get(sub).cloned().unwrap_or_default();
                        let mut n: Vec<usize> = conns
                            .iter()
                            .filter(|(t, _)| *t >= *t0)
                            .map(|(_, n)| *n)
                            .collect();
                        if let Some((_, before)) = conns.iter().rev().find(|(t, _)| *t < *t0) {
                            n.insert(0, *before);
                        }
                        n.dedup();
                        n
                    };
                    v.lost.push(Lost {
                        msg: msg.to_string(),
                        qos: *qos,
                        publisher: publisher.to_string(),
                        pub_node: *pub_node,
                        reason: *reason,
                        subscriber: sub.to_string(),
                        sub_nodes,
                        session_lost: session_lost_at
                            .get(sub)
                            .is_some_and(|ts| ts.iter().any(|t| t >= t0)),
                        faults: overlapping(&faults, t0.saturating_sub(1000), t1 + 5000),
                        t: *t0,
                    })
                }
                Some(nodes) if *qos == 2 && nodes.len() > 1 => v.duplicates.push(Duplicate {
                    msg: msg.to_string(),
                    subscriber: sub.to_string(),
                    times: nodes.len(),
                    nodes: nodes.clone(),
                }),
                Some(_) => {}
            }
        }
    }
    v
}

impl fmt::Display for Verdict {
    /// The summary: counts, then the first violations of each kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} acknowledged messages x {} subscribers, {} deliveries, {} faults, \
             {} races, {} retained clears",
            if self.ok() { "VALID" } else { "INVALID" },
            self.acked,
            self.subscribers,
            self.deliveries,
            self.faults,
            self.races,
            self.retained_cleared
        )?;
        let q = |qos: u8| self.lost.iter().filter(|l| l.qos == qos).count();
        let no_match = self.lost.iter().filter(|l| l.reason == 0x10).count();
        let session = self.lost.iter().filter(|l| l.session_lost).count();
        let mut msgs: Vec<&str> = self.lost.iter().map(|l| l.msg.as_str()).collect();
        msgs.sort();
        msgs.dedup();
        writeln!(
            f,
            "lost: {} (message, subscriber) pairs, {} messages (QoS 1: {}, QoS 2: {}; \
             acked 0x10 no matching subscribers: {}; subscriber's session gone: {})",
            self.lost.len(),
            msgs.len(),
            q(1),
            q(2),
            no_match,
            session
        )?;
        let mut by_sub: BTreeMap<(&str, Vec<usize>), usize> = BTreeMap::new();
        for l in &self.lost {
            *by_sub
                .entry((l.subscriber.as_str(), l.sub_nodes.clone()))
                .or_default() += 1;
        }
        for ((s, n), c) in &by_sub {
            writeln!(f, "  lost for {s} (on nodes {n:?}): {c}")?;
        }
        for l in self.lost.iter().take(10) {
            writeln!(
                f,
                "  e.g. {} (QoS {}, from {} on node {}, reason 0x{:02x}, t={}ms) never reached \
                 {} (nodes {:?}, session gone: {}); faults: {:?}",
                l.msg,
                l.qos,
                l.publisher,
                l.pub_node,
                l.reason,
                l.t,
                l.subscriber,
                l.sub_nodes,
                l.session_lost,
                l.faults
            )?;
        }
        writeln!(f, "QoS 2 duplicates: {}", self.duplicates.len())?;
        for d in self.duplicates.iter().take(10) {
            writeln!(
                f,
                "  {} reached {} {} times (nodes {:?})",
                d.msg, d.subscriber, d.times, d.nodes
            )?;
        }
        let mut ids: Vec<&str> = self.doubles.iter().map(|d| d.client.as_str()).collect();
        ids.sort();
        ids.dedup();
        writeln!(
            f,
            "double sessions: {} (seen by race: {}, by REST samples: {}; client ids: {}; \
             with a partition between the two nodes: {})",
            self.doubles.len(),
            self.doubles.iter().filter(|d| d.how == "race").count(),
            self.doubles.iter().filter(|d| d.how == "rest").count(),
            ids.len(),
            self.doubles.iter().filter(|d| d.partitioned).count()
        )?;
        for d in self.doubles.iter().take(10) {
            writeln!(
                f,
                "  {} live on nodes {:?} at {}ms (seen by {}, partition between them: {})",
                d.client, d.nodes, d.t, d.how, d.partitioned
            )?;
        }
        writeln!(
            f,
            "resurrected retained messages: {}",
            self.resurrected.len()
        )?;
        for r in self.resurrected.iter().take(10) {
            writeln!(
                f,
                "  {} (cleared on node {}) back on node {}; faults since: {:?}",
                r.topic, r.cleared_on, r.node, r.faults
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The checker finds each kind of violation in a made-up history, and
    //! none in a correct one.
    use super::*;

    fn ev(t: u64, op: Op) -> Event {
        Event { t, op }
    }

    fn publish(t: u64, msg: &str, qos: u8) -> [Event; 2] {
        [
            ev(
                t,
                Op::PubInvoke {
                    client: "pub".into(),
                    msg: msg.into(),
                    qos,
                    node: 0,
                },
            ),
            ev(
                t + 5,
                Op::PubAck {
                    client: "pub".into(),
                    msg: msg.into(),
                    qos,
                    node: 0,
                    reason: 0,
                },
            ),
        ]
    }

    fn deliver(t: u64, sub: &str, msg: &str, qos: u8, pkid: u16) -> Event {
        ev(
            t,
            Op::Deliver {
                client: sub.into(),
                msg: msg.into(),
                qos,
                node: 1,
                dup: false,
                pkid,
            },
        )
    }

    /// Two subscribers, a QoS 1 and a QoS 2 message both delivered once to
    /// each, a message published before a late subscriber subscribed (not
    /// owed to it), a retained topic cleared and not seen, a race one side lost.
    fn valid_history() -> Vec<Event> {
        let mut h = vec![ev(
            0,
            Op::Subscribed {
                client: "s1".into(),
                node: 1,
            },
        )];
        h.extend(publish(10, "m1", 1));
        h.extend(publish(20, "m2", 2));
        h.push(ev(
            30,
            Op::Subscribed {
                client: "s2".into(),
                node: 2,
            },
        ));
        h.extend(publish(40, "m3", 2));
        for (t, s, m, q) in [
            (50, "s1", "m1", 1),
            (51, "s1", "m2", 2),
            (52, "s1", "m3", 2),
            (53, "s2", "m3", 2),
        ] {
            h.push(deliver(t, s, m, q, 7));
        }
        // A QoS 2 resend under the same packet id before PUBREL is no duplicate.
        h.push(ev(
            54,
            Op::Redeliver {
                client: "s1".into(),
                msg: "m3".into(),
                node: 1,
                pkid: 7,
            },
        ));
        h.push(ev(
            60,
            Op::RetainCleared {
                topic: "r/1".into(),
                node: 0,
            },
        ));
        h.push(ev(
            70,
            Op::Race {
                client: "racer".into(),
                nodes: (0, 1),
                alive: (false, true),
            },
        ));
        h.push(ev(
            80,
            Op::RetainSeen {
                topic: "r/2".into(),
                node: 1,
                payload: "kept".into(),
            },
        ));
        h
    }

    #[test]
    fn a_correct_history_is_valid() {
        let v = check(&valid_history());
        assert!(v.ok(), "{v}");
        assert_eq!((v.acked, v.subscribers, v.deliveries), (3, 2, 4));
    }

    #[test]
    fn a_lost_message_is_reported_with_its_subscriber_and_faults() {
        let mut h = valid_history();
        h.push(ev(
            100,
            Op::Nemesis {
                what: "kill".into(),
                nodes: vec![1],
                start: true,
            },
        ));
        h.extend(publish(110, "m4", 1));
        h.push(deliver(120, "s2", "m4", 1, 9));
        h.push(ev(
            130,
            Op::Nemesis {
                what: "kill".into(),
                nodes: vec![1],
                start: false,
            },
        ));
        let v = check(&h);
        assert!(!v.ok());
        assert_eq!(v.lost.len(), 1, "{v}");
        let l = &v.lost[0];
        assert_eq!((l.msg.as_str(), l.subscriber.as_str()), ("m4", "s1"));
        assert_eq!(l.faults.len(), 1, "{:?}", l.faults);
        assert!(l.faults[0].starts_with("kill [1]"), "{:?}", l.faults);
        assert!(v.to_string().contains("lost for s1"), "{v}");
    }

    #[test]
    fn a_qos2_message_delivered_twice_is_a_duplicate() {
        let mut h = valid_history();
        // A second delivery under another packet id: the application sees it twice.
        h.push(deliver(90, "s2", "m3", 2, 8));
        let v = check(&h);
        assert_eq!(v.duplicates.len(), 1, "{v}");
        assert_eq!(v.duplicates[0].msg, "m3");
        assert_eq!(v.duplicates[0].subscriber, "s2");
        assert!(v.lost.is_empty() && v.doubles.is_empty() && v.resurrected.is_empty());
        // At QoS 1 a second delivery is allowed.
        let mut h = valid_history();
        h.push(deliver(90, "s1", "m1", 1, 8));
        assert!(check(&h).ok());
    }

    #[test]
    fn two_live_sessions_are_reported() {
        let mut h = valid_history();
        h.push(ev(
            95,
            Op::Race {
                client: "racer2".into(),
                nodes: (1, 2),
                alive: (true, true),
            },
        ));
        let v = check(&h);
        assert_eq!(v.doubles.len(), 1, "{v}");
        assert_eq!(v.doubles[0].how, "race");

        // The REST view: listed on nodes 0 and 2 in two rounds in a row.
        let mut h = valid_history();
        let listed = |at: &str| vec![("c9".to_string(), at.to_string())];
        for t in [100, 1100] {
            h.push(ev(
                t,
                Op::Sample {
                    node: 0,
                    clients: listed("a"),
                },
            ));
            h.push(ev(
                t + 1,
                Op::Sample {
                    node: 2,
                    clients: listed("b"),
                },
            ));
        }
        let v = check(&h);
        assert_eq!(v.doubles.len(), 1, "{v}");
        assert_eq!(v.doubles[0].how, "rest");
        assert_eq!(v.doubles[0].client, "c9");

        // A stale listing of a node that stopped answering is not compared.
        let mut h = valid_history();
        h.push(ev(
            100,
            Op::Sample {
                node: 0,
                clients: listed("a"),
            },
        ));
        for t in [5000, 6000] {
            h.push(ev(
                t,
                Op::Sample {
                    node: 2,
                    clients: listed("b"),
                },
            ));
        }
        assert!(check(&h).ok());

        // Listed twice only once (a moment of takeover): not a double session.
        let mut h = valid_history();
        h.push(ev(
            100,
            Op::Sample {
                node: 0,
                clients: listed("a"),
            },
        ));
        h.push(ev(
            101,
            Op::Sample {
                node: 2,
                clients: listed("b"),
            },
        ));
        h.push(ev(
            1100,
            Op::Sample {
                node: 0,
                clients: vec![],
            },
        ));
        assert!(check(&h).ok());
    }

    #[test]
    fn a_cleared_retained_message_that_comes_back_is_reported() {
        let mut h = valid_history();
        h.push(ev(
            200,
            Op::RetainSeen {
                topic: "r/1".into(),
                node: 2,
                payload: "old".into(),
            },
        ));
        let v = check(&h);
        assert_eq!(v.resurrected.len(), 1, "{v}");
        assert_eq!((v.resurrected[0].node, v.resurrected[0].cleared_on), (2, 0));
        // Set again after the clear (even unacknowledged): its state is unknown.
        let mut h = valid_history();
        h.push(ev(
            150,
            Op::RetainSet {
                topic: "r/1".into(),
                node: 1,
                acked: false,
            },
        ));
        h.push(ev(
            200,
            Op::RetainSeen {
                topic: "r/1".into(),
                node: 2,
                payload: "new".into(),
            },
        ));
        assert!(check(&h).ok());
    }

    #[test]
    fn all_four_at_once_are_each_reported() {
        let mut h = valid_history();
        h.extend(publish(110, "m4", 1)); // lost for s1 and s2
        h.push(deliver(120, "s1", "m2", 2, 9)); // duplicate
        h.push(ev(
            130,
            Op::Race {
                client: "r".into(),
                nodes: (0, 2),
                alive: (true, true),
            },
        ));
        h.push(ev(
            140,
            Op::RetainSeen {
                topic: "r/1".into(),
                node: 0,
                payload: "x".into(),
            },
        ));
        let v = check(&h);
        assert_eq!(
            (
                v.lost.len(),
                v.duplicates.len(),
                v.doubles.len(),
                v.resurrected.len()
            ),
            (2, 1, 1, 1),
            "{v}"
        );
        let text = v.to_string();
        for needle in [
            "INVALID",
            "m4",
            "QoS 2 duplicates: 1",
            "double sessions: 1",
            "resurrected retained messages: 1",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }
}
