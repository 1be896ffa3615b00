//! The router: the topic index and the shard actors that own its writes.
//!
//! The index is split into partitions by a filter's first level (filters starting
//! with a wildcard share partition 0). Each partition is written only by its shard
//! actor (subscribe/unsubscribe are serialised there), and read by publishers in
//! their own context under a short read lock: a publish never waits in a shard's
//! mailbox. The partitions live outside the shard actors, so a restarted shard
//! finds its part of the index intact.

pub mod shard;
pub mod trie;

use crate::config::SharedStrategy;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::session::{Delivery, Inbound, SessionHandle};
use parking_lot::RwLock;
use roost_protocol::SubscriptionOptions;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use trie::TopicTrie;

/// Identity of a shared subscription: its share name and its topic filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedKey {
    pub group: Arc<str>,
    pub filter: Arc<str>,
}

/// One session's subscription as the index holds it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub client_id: Arc<str>,
    pub session: Arc<SessionHandle>,
    pub options: SubscriptionOptions,
    pub subscription_id: Option<u32>,
}

/// What is stored under one key at one filter.
#[derive(Debug)]
pub enum Route {
    /// A plain subscription of one client.
    Client(Subscriber),
    /// A shared subscription group: each message goes to one member.
    Group(SharedGroup),
}

/// Members of one shared subscription group at one filter.
#[derive(Debug)]
pub struct SharedGroup {
    pub key: Arc<SharedKey>,
    pub members: Vec<Subscriber>,
    cursor: AtomicUsize,
}

/// Key of a [`Route`] at a filter: a client id, or a share name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    Client(Arc<str>),
    Group(Arc<str>),
}

type Partition = RwLock<TopicTrie<RouteKey, Route>>;

/// The shared topic index plus the delivery logic run by publishers.
pub struct Router {
    partitions: Vec<Arc<Partition>>,
    strategy: SharedStrategy,
    ignore_loop_deliver: bool,
    hasher: std::collections::hash_map::RandomState,
    metrics: Arc<Metrics>,
}

impl Router {
    /// An empty index with `shards` partitions (at least 1).
    pub fn new(
        shards: usize,
        strategy: SharedStrategy,
        ignore_loop_deliver: bool,
        metrics: Arc<Metrics>,
    ) -> Router {
        let partitions = (0..shards.max(1))
            .map(|_| Arc::new(RwLock::new(TopicTrie::default())))
            .collect();
        Router {
            partitions,
            strategy,
            ignore_loop_deliver,
            hasher: std::collections::hash_map::RandomState::new(),
            metrics,
        }
    }

    /// Number of partitions (and shard actors).
    pub fn shard_count(&self) -> usize {
        self.partitions.len()
    }

    /// The partition a filter (or a topic, for publishes) belongs to.
    pub fn partition_of(&self, filter: &str) -> usize {
        let n = self.partitions.len();
        let first = filter.split('/').next().unwrap_or("");
        if n == 1 || first == "+" || first == "#" {
            return 0;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        first.hash(&mut h);
        1 + (h.finish() as usize % (n - 1))
    }

    pub(crate) fn partition(&self, index: usize) -> Arc<Partition> {
        self.partitions[index].clone()
    }

    /// Total number of routes (plain subscriptions plus shared groups).
    pub fn route_count(&self) -> usize {
        self.partitions.iter().map(|p| p.read().len()).sum()
    }

    /// Delivers `msg` to every matching subscription: one delivery per matching
    /// plain subscription, one per shared group. Runs in the publisher's context.
    /// Returns the number of deliveries made.
    pub fn route(&self, msg: &Arc<Message>) -> usize {
        let own = self.partition_of(&msg.topic);
        let mut n = self.deliver(own, msg);
        if own != 0 {
            n += self.deliver(0, msg);
        }
        if n == 0 {
            self.metrics.inc_dropped_no_subscribers();
        }
        n
    }

    /// Delivers `msg` to the matching subscriptions of one partition, straight
    /// into each session's inbox under the partition's read lock (a short lock
    /// of its own per session; sessions never take a partition lock while
    /// holding their inbox's), so no list of deliveries is built per publish.
    fn deliver(&self, index: usize, msg: &Arc<Message>) -> usize {
        let mut n = 0;
        let send = |session: &SessionHandle, delivery: Delivery| {
            // A session that just ended is a normal race; the message is dropped
            // for it (its state is gone) and counted.
            if !session.send(Inbound::Deliver(delivery)) {
                self.metrics.inc_dropped_no_session();
            }
        };
        let partition = self.partitions[index].read();
        partition.for_each_match(&msg.topic, |entries| {
            for route in entries.values() {
                match route {
                    Route::Client(sub) => {
                        if (sub.options.no_local || self.ignore_loop_deliver)
                            && *sub.client_id == *msg.from
                        {
                            continue;
                        }
                        n += 1;
                        send(&sub.session, Delivery::new(msg.clone(), sub, None));
                    }
                    Route::Group(group) => {
                        if let Some(member) = self.pick(group, msg, None) {
                            n += 1;
                            send(
                                &member.session,
                                Delivery::new(msg.clone(), member, Some(group.key.clone())),
                            );
                        }
                    }
                }
            }
        });
        n
    }

    /// Picks the member of `group` that receives `msg`, never `exclude`.
    fn pick<'g>(
        &self,
        group: &'g SharedGroup,
        msg: &Message,
        exclude: Option<&str>,
    ) -> Option<&'g Subscriber> {
        let candidates: Vec<&Subscriber> = group
            .members
            .iter()
            .filter(|m| exclude.is_none_or(|e| *m.client_id != *e))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let i = match self.strategy {
            SharedStrategy::RoundRobin => group.cursor.fetch_add(1, Ordering::Relaxed),
            SharedStrategy::Random => rand::random::<u32>() as usize,
            SharedStrategy::HashClientid => self.hasher.hash_one(&*msg.from) as usize,
            SharedStrategy::HashTopic => self.hasher.hash_one(&*msg.topic) as usize,
        };
        Some(candidates[i % candidates.len()])
    }

    /// Sends a message that was delivered to a departing member of a shared group
    /// to another member of that group (EMQX's redispatch). Returns false when no
    /// other member exists.
    pub fn redispatch(&self, key: &Arc<SharedKey>, delivery: Delivery, exclude: &str) -> bool {
        let partition = self.partitions[self.partition_of(&key.filter)].read();
        let Some(entries) = partition.get(&key.filter) else {
            return false;
        };
        let Some(Route::Group(group)) = entries.get(&RouteKey::Group(key.group.clone())) else {
            return false;
        };
        let Some(member) = self.pick(group, &delivery.message, Some(exclude)) else {
            return false;
        };
        let mut d = Delivery::new(delivery.message, member, Some(key.clone()));
        d.qos = delivery.qos.min(member.options.qos);
        member.session.send(Inbound::Deliver(d))
    }
}

impl SharedGroup {
    fn new(key: Arc<SharedKey>) -> SharedGroup {
        SharedGroup {
            key,
            members: Vec::new(),
            cursor: AtomicUsize::new(0),
        }
    }
}

/// Adds `sub` under `filter` (in `group` if shared) to `trie`. Returns true when the
/// subscription did not exist before (for Retain Handling 1).
pub(crate) fn add_route(
    trie: &mut TopicTrie<RouteKey, Route>,
    filter: &str,
    group: Option<Arc<str>>,
    sub: Subscriber,
) -> bool {
    match group {
        None => trie
            .insert(
                filter,
                RouteKey::Client(sub.client_id.clone()),
                Route::Client(sub),
            )
            .is_none(),
        Some(group) => {
            let key = RouteKey::Group(group.clone());
            if trie.get(filter).is_none_or(|e| !e.contains_key(&key)) {
                let shared = Arc::new(SharedKey {
                    group,
                    filter: filter.into(),
                });
                trie.insert(filter, key.clone(), Route::Group(SharedGroup::new(shared)));
            }
            let Some(Route::Group(g)) = trie.get_mut(filter).and_then(|e| e.get_mut(&key)) else {
                unreachable!("group inserted above")
            };
            match g.members.iter_mut().find(|m| m.client_id == sub.client_id) {
                Some(existing) => {
                    *existing = sub;
                    false
                }
                None => {
                    g.members.push(sub);
                    true
                }
            }
        }
    }
}

/// Removes `client_id`'s subscription under `filter` (in `group` if shared).
pub(crate) fn remove_route(
    trie: &mut TopicTrie<RouteKey, Route>,
    filter: &str,
    group: Option<Arc<str>>,
    client_id: &Arc<str>,
) -> bool {
    match group {
        None => trie
            .remove(filter, &RouteKey::Client(client_id.clone()))
            .is_some(),
        Some(group) => {
            let key = RouteKey::Group(group);
            let Some(Route::Group(g)) = trie.get_mut(filter).and_then(|e| e.get_mut(&key)) else {
                return false;
            };
            let before = g.members.len();
            g.members.retain(|m| m.client_id != *client_id);
            let removed = g.members.len() != before;
            if g.members.is_empty() {
                trie.remove(filter, &key);
            }
            removed
        }
    }
}
