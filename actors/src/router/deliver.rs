//! Local delivery: a message into the inboxes of this node's sessions whose
//! subscriptions match it, run in the publisher's context.
//!
//! A client whose subscriptions overlap (`a` and `a/#`) gets one copy that
//! stands for all of them by default (`mqtt.overlapping_subscriptions:
//! one_copy`, MQTT 5.0 §3.3.4), or one per subscription (`per_subscription`,
//! EMQX). A topic matches few filter nodes (a handful of trie entries maps),
//! and within one map a client has at most one plain subscription, so a
//! client can only appear twice across maps: the copies are merged by looking
//! a client up in the other matched maps, never by collecting the deliveries.
//! The largest map is walked last and looks nothing up unless a client of the
//! smaller ones was found in it, so a big fan-out next to a few wildcard
//! subscribers costs what it did before.

use super::{delivery, Congested, Route, RouteKey, Router, Scope, SharedGroup, Subscriber};
use crate::config::OverlappingSubscriptions;
use roost_core::cluster::RemoteMatches;
use roost_core::hooks::DropReason;
use roost_core::trie::Map;
use roost_core::{Delivery, Message};
use smallvec::SmallVec;
use std::sync::Arc;

/// What the index holds at one filter.
pub(super) type Entries = Map<RouteKey, Route>;

/// The matched filters' entries of one publish. Eight cover all but unusual
/// subscription sets (a topic matches one entries map per matching filter
/// node), so the common publish allocates nothing for them.
type Matched<'a> = SmallVec<[&'a Entries; 8]>;

/// Puts deliveries into sessions' inboxes and counts them.
struct Sender<'a> {
    router: &'a Router,
    msg: &'a Arc<Message>,
    congested: Congested<'a>,
    n: usize,
}

impl Sender<'_> {
    /// Queues `d` for `sub`'s session; a client's publish notes the sessions
    /// it found congested (see [`super::Mailbox::deliver`]).
    fn send(&mut self, sub: &Subscriber, d: Delivery) {
        self.n += 1;
        let session = &sub.session;
        match session.deliver(d) {
            Some(false) => {}
            Some(true) => {
                if let Some(c) = self.congested.as_deref_mut() {
                    if !c.iter().any(|s| Arc::ptr_eq(s, session)) {
                        c.push(session.clone());
                    }
                }
            }
            // A session that just ended is a normal race; the message is
            // dropped for it (its state is gone) and counted.
            None => self
                .router
                .dropped_delivery(&sub.client_id, self.msg, DropReason::NoSession),
        }
    }
}

impl Router {
    /// Delivers `msg` to this node's matching subscriptions; returns the number
    /// of deliveries made (a merged copy counts once).
    ///
    /// The topic's own partition and the wildcard partition 0 stay read-locked
    /// together while the matches are delivered (straight into each session's
    /// inbox, a short lock of its own; sessions never take a partition lock
    /// while holding their inbox's): one client's overlapping subscriptions can
    /// sit in both, and must be seen together to make one copy. No deadlock:
    /// publishers take their read locks in one order (own partition, then 0),
    /// and a shard takes only its own partition's write lock, holding nothing
    /// else, so no one waits for a lock while holding one another waits for.
    pub(super) fn route_local(
        &self,
        msg: &Arc<Message>,
        mut scope: Scope<'_>,
        remote: &mut RemoteMatches,
        congested: Congested<'_>,
    ) -> usize {
        let own = self.partition_of(&msg.topic);
        let own_part = self.partitions[own].read();
        let wild_part = (own != 0).then(|| self.partitions[0].read());
        let mut matched: Matched<'_> = SmallVec::new();
        own_part.for_each_match(&msg.topic, |e| matched.push(e));
        if let Some(wild) = &wild_part {
            wild.for_each_match(&msg.topic, |e| matched.push(e));
        }
        let mut out = Sender {
            router: self,
            msg,
            congested,
            n: 0,
        };
        self.deliver(&mut matched, &mut scope, remote, &mut out);
        drop(matched);
        drop(wild_part);
        drop(own_part);
        let n = out.n;
        let remote_targets = !remote.plain.is_empty()
            || !remote.groups.is_empty()
            || matches!(&scope, Scope::Cluster(p) if !p.is_empty());
        if n == 0 && !remote_targets && !matches!(scope, Scope::PlainOnly) {
            crate::dropped::message(&self.metrics, &self.hooks, msg, DropReason::NoSubscribers);
        }
        n
    }

    /// Delivers to every route of the `matched` entries: one member of each
    /// shared group, and each client's plain subscriptions (merged into one
    /// copy per client unless `per_subscription`).
    fn deliver(
        &self,
        matched: &mut Matched<'_>,
        scope: &mut Scope<'_>,
        remote: &mut RemoteMatches,
        out: &mut Sender<'_>,
    ) {
        let msg = out.msg;
        if matched.len() < 2 || self.overlapping == OverlappingSubscriptions::PerSubscription {
            for entries in matched.iter() {
                for route in entries.values() {
                    match route {
                        Route::Client(sub) if self.applies(sub, msg) => {
                            out.send(sub, delivery(msg.clone(), sub, None))
                        }
                        Route::Client(_) => {}
                        Route::Group(group) => self.deliver_group(group, scope, remote, out),
                    }
                }
            }
            return;
        }
        // The largest map last (see the module's comment).
        let largest = (0..matched.len())
            .max_by_key(|&i| matched[i].len())
            .unwrap_or(0);
        let last = matched.len() - 1;
        matched.swap(largest, last);
        // Clients of the largest map already served with an earlier map's copy.
        let mut merged_into_last = 0usize;
        for (i, entries) in matched.iter().enumerate() {
            for (key, route) in entries.iter() {
                let sub = match route {
                    Route::Client(sub) if self.applies(sub, msg) => sub,
                    Route::Client(_) => continue,
                    Route::Group(group) => {
                        self.deliver_group(group, scope, remote, out);
                        continue;
                    }
                };
                if i == last {
                    if merged_into_last > 0
                        && matched[..last]
                            .iter()
                            .any(|e| self.same_recipient(e, key, sub, msg).is_some())
                    {
                        merged_into_last -= 1;
                        continue;
                    }
                    out.send(sub, delivery(msg.clone(), sub, None));
                    continue;
                }
                // Served already by the first map that holds this client.
                if matched[..i]
                    .iter()
                    .any(|e| self.same_recipient(e, key, sub, msg).is_some())
                {
                    continue;
                }
                let mut d = delivery(msg.clone(), sub, None);
                for (j, other) in matched.iter().enumerate().skip(i + 1) {
                    if let Some(s) = self.same_recipient(other, key, sub, msg) {
                        d.merge(
                            s.options.qos,
                            s.options.retain_as_published,
                            s.subscription_id,
                        );
                        if j == last {
                            merged_into_last += 1;
                        }
                    }
                }
                out.send(sub, d);
            }
        }
    }

    /// Whether `sub`'s subscription takes `msg`: No Local [MQTT-3.8.3-3] and
    /// `mqtt.ignore_loop_deliver` leave out the publisher's own message. One
    /// that does not take it does not count towards a merged copy either.
    fn applies(&self, sub: &Subscriber, msg: &Message) -> bool {
        !((sub.options.no_local || self.ignore_loop_deliver) && *sub.client_id == *msg.from)
    }

    /// The plain subscription in `entries` of `sub`'s client (`key`), if it
    /// takes `msg` and belongs to the same session (during a takeover a client
    /// id can briefly name two sessions' subscriptions: those are not merged).
    fn same_recipient<'e>(
        &self,
        entries: &'e Entries,
        key: &RouteKey,
        sub: &Subscriber,
        msg: &Message,
    ) -> Option<&'e Subscriber> {
        match entries.get(key)? {
            Route::Client(s) if Arc::ptr_eq(&s.session, &sub.session) && self.applies(s, msg) => {
                Some(s)
            }
            _ => None,
        }
    }

    /// Delivers to one member of a shared group, never merged with anything
    /// (a shared subscription has its own rules); messages forwarded by
    /// another node (`PlainOnly`) skip groups, the sender picked already.
    fn deliver_group(
        &self,
        group: &SharedGroup,
        scope: &mut Scope<'_>,
        remote: &mut RemoteMatches,
        out: &mut Sender<'_>,
    ) {
        if matches!(scope, Scope::PlainOnly) {
            return;
        }
        let msg = out.msg;
        // Members on other nodes count as candidates too: one slot per node
        // (EMQX picks among the group's members cluster-wide).
        let nodes = remote
            .groups
            .iter()
            .position(|(k, _)| **k == *group.key)
            .map(|i| remote.groups.swap_remove(i).1)
            .unwrap_or_default();
        let member = if nodes.is_empty() {
            self.pick(group, msg, None)
        } else {
            let slots = group.members.len() + nodes.len();
            let i = self.pick_index(&group.cursor, msg, slots);
            if i >= group.members.len() {
                if let Scope::Cluster(picked) = scope {
                    picked.push((nodes[i - group.members.len()].clone(), group.key.clone()));
                }
                return;
            }
            Some(&group.members[i])
        };
        if let Some(member) = member {
            out.send(
                member,
                delivery(msg.clone(), member, Some(group.key.clone())),
            );
        }
    }
}
