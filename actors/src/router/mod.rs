//! The router: the topic index and the shard actors that serialise sessions'
//! writes to it.
//!
//! The index is split into partitions by a filter's first level (filters starting
//! with a wildcard share partition 0). A partition is written under its write
//! lock: by a connection carrying out its client's SUBSCRIBE or UNSUBSCRIBE
//! ([`Router::subscribe`]), or by the partition's shard actor for a session's
//! own writes (see `shard.rs`). Publishers read it in their own context under a
//! short read lock: a publish never waits in a shard's mailbox. The partitions
//! live outside the shard actors, so a restarted shard finds its part of the
//! index intact. How a publish reaches this node's
//! sessions (one copy per client for overlapping subscriptions) is in
//! `deliver.rs`.

mod deliver;
pub mod shard;

use crate::config::{MqttConfig, OverlappingSubscriptions, SharedStrategy};
use crate::dropped;
use parking_lot::RwLock;
use roost_core::cluster::{ClusterLink, RemoteMatches};
use roost_core::hooks::{DropReason, Hooks};
use roost_core::trie::TopicTrie;
use roost_core::Delivery;
use roost_core::Message;
use roost_core::Metrics;
pub use roost_core::SharedKey;
use roost_protocol::SubscriptionOptions;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Where the router puts a delivery: a session's inbox (the session module
/// implements it; the router knows no session).
pub trait Mailbox: Send + Sync + std::fmt::Debug + 'static {
    /// Queues `d`. `Some(true)` when the session is congested (its publisher
    /// should hold back, see [`Mailbox::wait_for_drain`]); `None` once the
    /// session has ended (the delivery is dropped).
    fn deliver(&self, d: Delivery) -> Option<bool>;

    /// Registers `waiter` to be resumed once this congested session has
    /// drained. False, and nothing registered, if it already has.
    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool;
}

/// A publisher held back by congested sessions (a connection), resumed when
/// they drain: backpressure runs from subscribers to publishers (defined in
/// core, as a peer node out of credit holds publishers back too).
pub use roost_core::cluster::Waiter;

/// A hold from the cluster (a peer out of credit, or a congested session on
/// a peer) in a publisher's list of congested inboxes: it is only waited for.
#[derive(Clone)]
pub struct RemoteHold(pub Arc<dyn roost_core::cluster::Hold>);

impl std::fmt::Debug for RemoteHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteHold")
    }
}

impl Mailbox for RemoteHold {
    /// Never delivered to (the router puts no subscriber behind it).
    fn deliver(&self, d: Delivery) -> Option<bool> {
        drop(d);
        None
    }

    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool {
        self.0.wait_for_drain(waiter)
    }
}

/// A congested local session as the cluster sees it: something the node
/// that forwarded a message waits for (see [`Router::route_forwarded`]).
pub struct SessionHold(pub Arc<dyn Mailbox>);

impl roost_core::cluster::Hold for SessionHold {
    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool {
        self.0.wait_for_drain(waiter)
    }
}

/// One session's subscription as the index holds it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub client_id: Arc<str>,
    pub session: Arc<dyn Mailbox>,
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

/// Where a client's publish reports the sessions it found congested (see
/// [`Mailbox::deliver`]); `None` for publishes that never hold anyone back
/// (wills, `$SYS`, messages forwarded by another node).
type Congested<'a> = Option<&'a mut Vec<Arc<dyn Mailbox>>>;

/// The shared topic index plus the delivery logic run by publishers.
pub struct Router {
    partitions: Vec<Arc<Partition>>,
    strategy: SharedStrategy,
    ignore_loop_deliver: bool,
    overlapping: OverlappingSubscriptions,
    hasher: std::collections::hash_map::RandomState,
    metrics: Arc<Metrics>,
    hooks: Arc<Hooks>,
    cluster: Option<Arc<dyn ClusterLink>>,
    /// Round-robin cursor for groups whose members are all on other nodes.
    remote_cursor: AtomicUsize,
}

/// Which routes a local delivery uses.
enum Scope<'a> {
    /// Everything (no cluster, or no remote match).
    All,
    /// Everything; shared groups may pick a member on another node, recorded here.
    Cluster(&'a mut Vec<(Arc<str>, Arc<SharedKey>)>),
    /// Plain subscriptions only (a message forwarded by another node).
    PlainOnly,
}

impl Router {
    /// An empty index with `shards` partitions (at least 1), delivering by
    /// `mqtt`'s rules (shared strategy, loop delivery, overlapping subscriptions).
    pub fn new(
        shards: usize,
        mqtt: &MqttConfig,
        metrics: Arc<Metrics>,
        hooks: Arc<Hooks>,
        cluster: Option<Arc<dyn ClusterLink>>,
    ) -> Router {
        let partitions = (0..shards.max(1))
            .map(|_| Arc::new(RwLock::new(TopicTrie::default())))
            .collect();
        Router {
            partitions,
            strategy: mqtt.shared_subscription_strategy,
            ignore_loop_deliver: mqtt.ignore_loop_deliver,
            overlapping: mqtt.overlapping_subscriptions,
            hasher: std::collections::hash_map::RandomState::new(),
            metrics,
            hooks,
            cluster,
            remote_cursor: AtomicUsize::new(0),
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
        // A fixed seed: a first level always maps to the same partition.
        let h = foldhash::fast::FixedState::default().hash_one(first);
        1 + (h as usize % (n - 1))
    }

    pub(crate) fn partition(&self, index: usize) -> Arc<Partition> {
        self.partitions[index].clone()
    }

    /// Adds `sub` under `filter` (in `group` if shared) in the caller's context,
    /// under the partition's write lock: in force for every publish from the
    /// moment this returns. True when the subscription is new (for Retain
    /// Handling 1).
    pub fn subscribe(&self, filter: &str, group: Option<Arc<str>>, sub: Subscriber) -> bool {
        let partition = &self.partitions[self.partition_of(filter)];
        subscribe_in(partition, self.cluster.as_ref(), filter, group, sub)
    }

    /// Removes `client_id`'s subscription under `filter` (in `group` if shared)
    /// in the caller's context. True if it existed.
    pub fn unsubscribe(&self, filter: &str, group: Option<Arc<str>>, client_id: &Arc<str>) -> bool {
        let partition = &self.partitions[self.partition_of(filter)];
        unsubscribe_in(partition, self.cluster.as_ref(), filter, group, client_id)
    }

    /// Total number of routes (plain subscriptions plus shared groups).
    pub fn route_count(&self) -> usize {
        self.partitions.iter().map(|p| p.read().len()).sum()
    }

    /// Delivers `msg` to every matching subscription: one delivery per client
    /// with matching plain subscriptions (or one per subscription, see
    /// `mqtt.overlapping_subscriptions`), one per shared group. Runs in the
    /// publisher's context. In a cluster, other nodes with matches get the message once each, and a
    /// shared group spanning nodes picks one member cluster-wide. Returns the
    /// number of deliveries made (a forward to a node counts as one).
    pub fn route(&self, msg: &Arc<Message>) -> usize {
        self.route_congested(msg, None)
    }

    /// [`Self::route`] for a client's publish: the local sessions that are
    /// congested (bound, backlog at the high watermark) are pushed onto
    /// `congested`, so the publishing connection can hold its client back.
    /// Nothing is allocated while no session is congested. A forward to a
    /// peer out of credit, or to a peer with a congested session this
    /// publisher reaches, is reported too (see `ClusterLink::forward`).
    pub fn route_from_client(
        &self,
        msg: &Arc<Message>,
        congested: &mut Vec<Arc<dyn Mailbox>>,
    ) -> usize {
        self.route_congested(msg, Some(congested))
    }

    fn route_congested(&self, msg: &Arc<Message>, mut congested: Congested<'_>) -> usize {
        let Some(hook) = self.cluster.as_ref() else {
            return self.route_local(msg, Scope::All, &mut RemoteMatches::default(), congested);
        };
        let mut remote = RemoteMatches::default();
        hook.remote_matches(&msg.topic, &mut remote);
        if remote.is_empty() {
            return self.route_local(msg, Scope::All, &mut remote, congested);
        }
        // Local deliveries first; `deliver` takes from `remote.groups` the groups
        // it decides on (and puts the remote picks in `picked`).
        let mut picked: Vec<(Arc<str>, Arc<SharedKey>)> = Vec::new();
        let mut n = self.route_local(
            msg,
            Scope::Cluster(&mut picked),
            &mut remote,
            congested.as_deref_mut(),
        );
        // Groups with members on other nodes only.
        for (key, nodes) in remote.groups.drain(..) {
            if nodes.is_empty() {
                continue;
            }
            let i = self.pick_index(&self.remote_cursor, msg, nodes.len());
            picked.push((nodes[i].clone(), key));
        }
        let mut targets: Vec<(Arc<str>, bool, Vec<Arc<SharedKey>>)> = remote
            .plain
            .drain(..)
            .map(|node| (node, true, Vec::new()))
            .collect();
        for (node, key) in picked {
            match targets.iter_mut().find(|t| t.0 == node) {
                Some(t) => t.2.push(key),
                None => targets.push((node, false, vec![key])),
            }
        }
        for (node, plain, groups) in targets {
            // A peer out of credit (or with a congested session this
            // publisher reaches) holds the publisher back like a local session.
            if let (Some(hold), Some(c)) = (hook.forward(&node, msg, plain, groups), &mut congested)
            {
                c.push(Arc::new(RemoteHold(hold)));
            }
            n += 1;
        }
        n
    }

    /// Delivers a message forwarded by another node: to the local plain
    /// subscriptions if `plain`, and to one local member of each of `groups`.
    /// Never forwarded again. The sessions found congested are pushed onto
    /// `congested` (the cluster holds the publisher on its node back).
    pub fn route_forwarded(
        &self,
        msg: &Arc<Message>,
        plain: bool,
        groups: &[Arc<SharedKey>],
        congested: &mut Vec<Arc<dyn Mailbox>>,
    ) -> usize {
        let mut n = 0;
        if plain {
            n += self.route_local(
                msg,
                Scope::PlainOnly,
                &mut RemoteMatches::default(),
                Some(&mut *congested),
            );
        }
        for key in groups {
            let partition = self.partitions[self.partition_of(&key.filter)].read();
            let member = partition
                .get(&key.filter)
                .and_then(|e| e.get(&RouteKey::Group(key.group.clone())))
                .and_then(|r| match r {
                    Route::Group(g) => self.pick(g, msg, None),
                    Route::Client(_) => None,
                });
            match member {
                Some(m) => {
                    let d = delivery(msg.clone(), m, Some(key.clone()));
                    if let Some(full) = m.session.deliver(d) {
                        n += 1;
                        if full && !congested.iter().any(|s| Arc::ptr_eq(s, &m.session)) {
                            congested.push(m.session.clone());
                        }
                    } else {
                        self.dropped_delivery(&m.client_id, msg, DropReason::NoSession);
                    }
                }
                // The group's last member here left while the message travelled.
                None => {
                    dropped::message(&self.metrics, &self.hooks, msg, DropReason::NoSubscribers)
                }
            }
        }
        n
    }

    fn dropped_delivery(&self, client_id: &str, msg: &Message, reason: DropReason) {
        dropped::delivery(&self.metrics, &self.hooks, client_id, msg, reason);
    }

    /// An index in `0..n` by the shared-subscription strategy.
    fn pick_index(&self, cursor: &AtomicUsize, msg: &Message, n: usize) -> usize {
        let i = match self.strategy {
            SharedStrategy::RoundRobin => cursor.fetch_add(1, Ordering::Relaxed),
            SharedStrategy::Random => rand::random::<u32>() as usize,
            SharedStrategy::HashClientid => self.hasher.hash_one(&*msg.from) as usize,
            SharedStrategy::HashTopic => self.hasher.hash_one(&*msg.topic) as usize,
        };
        i % n.max(1)
    }

    /// The cluster this node belongs to, if it is clustered.
    pub fn cluster(&self) -> Option<&Arc<dyn ClusterLink>> {
        self.cluster.as_ref()
    }

    /// Every local route as `(filter, share group)`: the full set a node sends
    /// to a peer on (re)connect.
    pub fn local_routes(&self) -> Vec<(String, Option<Arc<str>>)> {
        let mut out = Vec::new();
        for p in &self.partitions {
            p.read().for_each_entry(|filter, entries| {
                if entries.keys().any(|k| matches!(k, RouteKey::Client(_))) {
                    out.push((filter.to_string(), None));
                }
                for k in entries.keys() {
                    if let RouteKey::Group(g) = k {
                        out.push((filter.to_string(), Some(g.clone())));
                    }
                }
            });
        }
        out
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
        let i = self.pick_index(&group.cursor, msg, candidates.len());
        Some(candidates[i])
    }

    /// Sends a message that was delivered to a departing member of a shared group
    /// to another member of that group (EMQX's redispatch). Returns false when no
    /// other member exists.
    pub fn redispatch(&self, key: &Arc<SharedKey>, returned: Delivery, exclude: &str) -> bool {
        let partition = self.partitions[self.partition_of(&key.filter)].read();
        let Some(entries) = partition.get(&key.filter) else {
            return false;
        };
        let Some(Route::Group(group)) = entries.get(&RouteKey::Group(key.group.clone())) else {
            return false;
        };
        let Some(member) = self.pick(group, &returned.message, Some(exclude)) else {
            return false;
        };
        let mut d = delivery(returned.message, member, Some(key.clone()));
        d.qos = returned.qos.min(member.options.qos);
        member.session.deliver(d).is_some()
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

/// Adds `sub` to `partition` under its write lock; a filter's first
/// subscription here is news for the other nodes of a cluster. True when the
/// subscription is new.
pub(crate) fn subscribe_in(
    partition: &Partition,
    cluster: Option<&Arc<dyn ClusterLink>>,
    filter: &str,
    group: Option<Arc<str>>,
    sub: Subscriber,
) -> bool {
    let mut trie = partition.write();
    let before = present(&trie, filter, group.as_ref());
    let new = add_route(&mut trie, filter, group.clone(), sub);
    if let (Some(cluster), false) = (cluster, before) {
        cluster.route_changed(filter, group.as_ref(), true);
    }
    new
}

/// Removes `client_id`'s subscription from `partition` under its write lock;
/// a filter's last one here is news for the other nodes. True if it existed.
pub(crate) fn unsubscribe_in(
    partition: &Partition,
    cluster: Option<&Arc<dyn ClusterLink>>,
    filter: &str,
    group: Option<Arc<str>>,
    client_id: &Arc<str>,
) -> bool {
    let mut trie = partition.write();
    let existed = remove_route(&mut trie, filter, group.clone(), client_id);
    if let (Some(cluster), true) = (cluster, existed) {
        if !present(&trie, filter, group.as_ref()) {
            cluster.route_changed(filter, group.as_ref(), false);
        }
    }
    existed
}

/// Whether `filter` holds a plain subscription (`group` none) or members of
/// `group`: what the other nodes of a cluster know of this node.
fn present(trie: &TopicTrie<RouteKey, Route>, filter: &str, group: Option<&Arc<str>>) -> bool {
    trie.get(filter).is_some_and(|entries| match group {
        None => entries.keys().any(|k| matches!(k, RouteKey::Client(_))),
        Some(g) => entries.contains_key(&RouteKey::Group(g.clone())),
    })
}

/// Adds `sub` under `filter` (in `group` if shared) to `trie`. Returns true when the
/// subscription did not exist before (for Retain Handling 1).
fn add_route(
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
fn remove_route(
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

/// A message on its way to `sub`'s session through its subscription (one
/// member of `shared`, if it is a group's).
pub fn delivery(
    message: Arc<Message>,
    sub: &Subscriber,
    shared: Option<Arc<SharedKey>>,
) -> Delivery {
    Delivery {
        message,
        qos: sub.options.qos,
        retain_as_published: sub.options.retain_as_published,
        subscription_ids: sub.subscription_id.into(),
        shared,
        from_retained: false,
    }
}

/// A router for the unit tests and the benchmark: `shards` partitions,
/// `overlapping` as the rule, every other `mqtt.*` default, no cluster.
#[cfg(test)]
fn test_router(shards: usize, overlapping: OverlappingSubscriptions) -> Router {
    let mqtt = MqttConfig {
        overlapping_subscriptions: overlapping,
        ..MqttConfig::default()
    };
    Router::new(
        shards,
        &mqtt,
        Arc::new(Metrics::default()),
        Arc::new(Hooks::default()),
        None,
    )
}

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
