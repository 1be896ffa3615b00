//! Flow control between nodes (issue 18): a slow subscriber on one node slows
//! the publishers on the others, as `mqtt.backpressure` does on one node, and
//! loses nothing.
//!
//! Two kinds of credit, both granted by the receiving node:
//! - **Link credit** (per peer): the sender has at most [`WINDOW`] forwarded
//!   messages on their way to a peer. The peer gives the credit back
//!   ([`Envelope::Credit`]) once it has put a batch into its sessions' queues.
//!   A publisher whose message is queued for a peer out of credit is held back
//!   until credit comes back.
//! - **Per destination** (per congested session of the peer): when a
//!   forwarded message lands in a session at its high watermark, the peer
//!   names that session (by a token) and the publisher (by client id) in its
//!   next [`Envelope::Credit`]; the sender then holds back that publisher's
//!   next messages for the peer until the peer says the session has drained
//!   to its low watermark ([`Envelope::Drained`]). Other publishers, and so the
//!   other sessions of the peer, go on at full speed: one slow session never
//!   blocks the link.
//!
//! A held publisher waits as for a congested local session: at most
//! `mqtt.backpressure_timeout`, then goes on (its messages then queue here,
//! at most [`MAX_QUEUED`] per peer, oldest dropped and counted). With
//! `mqtt.backpressure: false` no one is held (EMQX's "drop instead": the
//! session's queue drops its oldest).

use crate::wire::Envelope;
use crate::Cluster;
use roost_core::cluster::{Hold, Waiter};
use roost_core::hooks::DropReason;
use roost_core::Message;
use roost_core::SharedKey;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Forwarded messages on their way to one peer at most (sent, not yet put into
/// the peer's sessions' queues). Small next to `mqtt.max_mqueue_len` minus the
/// high watermark (1000 - 128 by default), so a session that turns congested
/// takes what is already on its way without dropping.
pub(crate) const WINDOW: usize = 512;
/// Publishes in a batch at most (one frame).
pub(crate) const MAX_BATCH: usize = 128;
/// Messages queued for one peer at most (publishers that waited out
/// `mqtt.backpressure_timeout`, or with backpressure off): past it the oldest
/// is dropped (`queue_full`).
pub(crate) const MAX_QUEUED: usize = 64 * WINDOW;
/// Tokens of watched sessions have this bit, so they never equal a
/// connection's id among a session's waiters.
const TOKEN_BIT: u64 = 1 << 63;

/// A publish waiting for its node's next batch.
pub(crate) struct Pending {
    pub message: Arc<Message>,
    pub plain: bool,
    pub groups: Vec<Arc<SharedKey>>,
}

/// The sender's side of one peer (a new one has a full window of credit).
pub(crate) struct PeerFlow {
    /// Queued, not sent yet, in order.
    pub pending: VecDeque<Pending>,
    /// Messages the peer takes now.
    pub credit: usize,
    /// Publishers waiting for credit.
    credit_waiters: Vec<Arc<dyn Waiter>>,
    /// Congested sessions of the peer, by token: the publishers that reach
    /// them, and the publishers waiting for them.
    held: HashMap<u64, HeldSession>,
    /// Publisher (client id) → the tokens that hold it.
    held_by: HashMap<Arc<str>, Vec<u64>>,
}

#[derive(Default)]
struct HeldSession {
    publishers: Vec<Arc<str>>,
    waiters: Vec<Arc<dyn Waiter>>,
}

impl Default for PeerFlow {
    fn default() -> PeerFlow {
        PeerFlow {
            pending: VecDeque::new(),
            credit: WINDOW,
            credit_waiters: Vec::new(),
            held: HashMap::new(),
            held_by: HashMap::new(),
        }
    }
}

impl PeerFlow {
    /// Everything waiting here, to resume (the peer is gone or reset).
    fn release_all(&mut self) -> Vec<Arc<dyn Waiter>> {
        let mut all = std::mem::take(&mut self.credit_waiters);
        for (_, h) in self.held.drain() {
            all.extend(h.waiters);
        }
        self.held_by.clear();
        all
    }
}

/// The sender's side: queues and credits per peer.
#[derive(Default)]
pub(crate) struct Outbound {
    pub peers: HashMap<Arc<str>, PeerFlow>,
    /// A `Flush` is on its way to the forwarder.
    pub scheduled: bool,
}

/// The receiver's side: sessions of this node watched for a peer.
struct Watch {
    /// The congested session (its address identifies it).
    hold: Arc<dyn Hold>,
    token: u64,
    publishers: Vec<Arc<str>>,
}

/// Flow state of this node, both sides.
#[derive(Default)]
pub(crate) struct Flow {
    pub outbound: parking_lot::Mutex<Outbound>,
    watching: parking_lot::Mutex<HashMap<Arc<str>, Vec<Watch>>>,
    next_token: AtomicU64,
}

fn resume(waiters: Vec<Arc<dyn Waiter>>) {
    for w in waiters {
        w.resume();
    }
}

fn add_waiter(list: &mut Vec<Arc<dyn Waiter>>, waiter: &Arc<dyn Waiter>) {
    if !list.iter().any(|w| w.id() == waiter.id()) {
        list.push(waiter.clone());
    }
}

/// Queues `msg` for `node`; wakes the forwarder if needed. `Some` when the
/// publisher should hold back (see `ClusterLink::forward`).
pub(crate) fn enqueue(
    cluster: &Cluster,
    node: &Arc<str>,
    msg: &Arc<Message>,
    plain: bool,
    groups: Vec<Arc<SharedKey>>,
) -> Option<Arc<dyn Hold>> {
    let (wake, hold, dropped) = {
        let mut out = cluster.flow.outbound.lock();
        let out = &mut *out;
        let peer = out.peers.entry(node.clone()).or_default();
        peer.pending.push_back(Pending {
            message: msg.clone(),
            plain,
            groups,
        });
        let dropped = if peer.pending.len() > MAX_QUEUED {
            peer.pending.pop_front()
        } else {
            None
        };
        let hold = if let Some(&token) = peer.held_by.get(&msg.from).and_then(|t| t.first()) {
            Some(PeerHold::Session(token))
        } else if peer.pending.len() > peer.credit {
            Some(PeerHold::Credit)
        } else {
            None
        };
        let wake = peer.credit > 0 && !out.scheduled;
        if wake {
            out.scheduled = true;
        }
        (wake, hold, dropped)
    };
    if let Some(p) = dropped {
        drop_queued(cluster, node, &p.message);
    }
    if wake {
        cluster.wake_forwarder();
    }
    hold.map(|kind| {
        Arc::new(Held {
            cluster: cluster.me.clone(),
            node: node.clone(),
            kind,
        }) as Arc<dyn Hold>
    })
}

fn drop_queued(cluster: &Cluster, node: &str, msg: &Message) {
    tracing::debug!(peer = %node, topic = %msg.topic, "cluster_forward_queue_full");
    if let Some(api) = cluster.api() {
        api.metrics().message_dropped(&DropReason::QueueFull);
    }
}

#[derive(Clone, Copy)]
enum PeerHold {
    /// The link is out of credit.
    Credit,
    /// A congested session of the peer, by its token.
    Session(u64),
}

/// What a held publisher waits for on a peer.
struct Held {
    cluster: Weak<Cluster>,
    node: Arc<str>,
    kind: PeerHold,
}

impl Hold for Held {
    fn wait_for_drain(&self, waiter: &Arc<dyn Waiter>) -> bool {
        let Some(cluster) = self.cluster.upgrade() else {
            return false;
        };
        let mut out = cluster.flow.outbound.lock();
        let Some(peer) = out.peers.get_mut(&self.node) else {
            return false;
        };
        match self.kind {
            PeerHold::Credit => {
                if peer.pending.len() <= peer.credit {
                    return false;
                }
                add_waiter(&mut peer.credit_waiters, waiter);
            }
            PeerHold::Session(token) => {
                let Some(h) = peer.held.get_mut(&token) else {
                    return false;
                };
                add_waiter(&mut h.waiters, waiter);
            }
        }
        true
    }
}

impl Flow {
    /// The peer (re)appeared or said hello: a fresh window (what it had not
    /// acknowledged may have been dropped with its old link), no holds.
    pub(crate) fn reset(&self, node: &Arc<str>) {
        let waiters = {
            let mut out = self.outbound.lock();
            let peer = out.peers.entry(node.clone()).or_default();
            peer.credit = WINDOW;
            peer.release_all()
        };
        self.watching.lock().remove(node);
        resume(waiters);
    }

    /// The peer is gone: its queue goes (counted), its waiters are resumed.
    /// The number of messages dropped.
    pub(crate) fn peer_gone(&self, node: &str) -> usize {
        let gone = self.outbound.lock().peers.remove(node);
        self.watching.lock().remove(node);
        let Some(mut peer) = gone else { return 0 };
        resume(peer.release_all());
        peer.pending.len()
    }

    /// The peer took `count` messages into its sessions' queues, and names
    /// its sessions that turned congested with the publishers that reach them.
    /// True if the forwarder has work now.
    pub(crate) fn credit(&self, node: &str, count: usize, congested: Vec<(u64, String)>) -> bool {
        let (waiters, wake) = {
            let mut out = self.outbound.lock();
            let out = &mut *out;
            let Some(peer) = out.peers.get_mut(node) else {
                return false;
            };
            peer.credit = (peer.credit + count).min(WINDOW);
            for (token, publisher) in congested {
                let publisher: Arc<str> = publisher.into();
                let h = peer.held.entry(token).or_default();
                if !h.publishers.contains(&publisher) {
                    h.publishers.push(publisher.clone());
                    peer.held_by.entry(publisher).or_default().push(token);
                }
            }
            let waiters = if peer.pending.len() <= peer.credit {
                std::mem::take(&mut peer.credit_waiters)
            } else {
                Vec::new()
            };
            let wake = !peer.pending.is_empty() && !out.scheduled;
            if wake {
                out.scheduled = true;
            }
            (waiters, wake)
        };
        resume(waiters);
        wake
    }

    /// The peer's session `token` drained: its publishers go on.
    pub(crate) fn drained(&self, node: &str, token: u64) {
        let waiters = {
            let mut out = self.outbound.lock();
            let Some(peer) = out.peers.get_mut(node) else {
                return;
            };
            let Some(h) = peer.held.remove(&token) else {
                return;
            };
            for p in &h.publishers {
                if let Some(tokens) = peer.held_by.get_mut(p) {
                    tokens.retain(|t| *t != token);
                    if tokens.is_empty() {
                        peer.held_by.remove(p);
                    }
                }
            }
            h.waiters
        };
        resume(waiters);
    }

    /// Receiver's side: a message from `publisher`, forwarded by `node`, met
    /// the congested local session `hold`. Watches the session (once per peer)
    /// and returns `(token, publisher)` to tell the peer, unless already told.
    pub(crate) fn watch(
        &self,
        cluster: &Cluster,
        node: &Arc<str>,
        hold: Arc<dyn Hold>,
        publisher: &str,
    ) -> Option<(u64, String)> {
        let key = Arc::as_ptr(&hold) as *const () as usize;
        let mut watching = self.watching.lock();
        let list = watching.entry(node.clone()).or_default();
        if let Some(w) = list
            .iter_mut()
            .find(|w| Arc::as_ptr(&w.hold) as *const () as usize == key)
        {
            if w.publishers.iter().any(|p| &**p == publisher) {
                return None;
            }
            w.publishers.push(publisher.into());
            return Some((w.token, publisher.to_string()));
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed) | TOKEN_BIT;
        let notice: Arc<dyn Waiter> = Arc::new(DrainNotice {
            cluster: cluster.me.clone(),
            node: node.clone(),
            token,
        });
        // Registered under `watching`'s lock: a session drains (and resumes
        // its waiters) without it, so the notice waits for the entry below
        // only as long as this push takes.
        if !hold.wait_for_drain(&notice) {
            return None;
        }
        list.push(Watch {
            hold,
            token,
            publishers: vec![publisher.into()],
        });
        Some((token, publisher.to_string()))
    }
}

/// Receiver's side: resumed by a watched session once it has drained; tells
/// the peer, whose publishers then go on.
struct DrainNotice {
    cluster: Weak<Cluster>,
    node: Arc<str>,
    token: u64,
}

impl Waiter for DrainNotice {
    fn id(&self) -> u64 {
        self.token
    }

    fn resume(&self) {
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let watched = {
            let mut watching = cluster.flow.watching.lock();
            match watching.get_mut(&self.node) {
                Some(list) => {
                    let before = list.len();
                    list.retain(|w| w.token != self.token);
                    list.len() != before
                }
                None => false,
            }
        };
        if watched {
            cluster.send(
                &self.node,
                &Envelope::Drained {
                    node: cluster.node.to_string(),
                    token: self.token,
                },
            );
        }
    }
}
