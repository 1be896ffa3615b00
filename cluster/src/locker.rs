//! One session per client id, cluster-wide: the client id locks (EMQX's
//! `emqx_cm_locker`). Before a node opens a session (or takes one over from
//! another node) it takes the client id's lock from the id's owner: the member
//! that wins a rendezvous hash of `(node, client id)` over the members this
//! node sees (itself and its peers). Every node of a connected cluster picks
//! the same owner, so two CONNECTs of one client id on two nodes are
//! serialised: the second one finds the first one's session and takes it over
//! (0x8E to the first connection).
//!
//! A lock is held for the length of a takeover and a session open, so it has a
//! lease ([`LEASE`]): a holder that vanished without releasing (a node killed
//! mid-open) blocks the id no longer than that. Locks held by a node declared
//! down are released at once ([`Locks::release_node`]).

use crate::wire::{self, Envelope};
use crate::{Cluster, ClusterMsg};
use parking_lot::Mutex;
use roost_core::cluster::ClientLock;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a granted lock counts if it is not released.
pub(crate) const LEASE: Duration = Duration::from_secs(30);
/// How long a CONNECT waits for its client id's lock before it is refused.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Who asked for a lock: a node, and a token unique on that node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asker {
    pub node: Arc<str>,
    pub token: u64,
}

struct Entry {
    holder: Asker,
    since: Instant,
    waiters: VecDeque<(Asker, oneshot::Sender<()>)>,
}

/// The locks this node owns (it is the owner of their client ids).
#[derive(Default)]
pub(crate) struct Locks {
    table: Mutex<HashMap<Arc<str>, Entry>>,
}

impl Locks {
    /// Takes `client_id`'s lock for `asker`, waiting up to `wait` for the
    /// holder to release it. True once granted.
    pub async fn acquire(&self, client_id: Arc<str>, asker: Asker, wait: Duration) -> bool {
        let rx = {
            let mut table = self.table.lock();
            match table.get_mut(&client_id) {
                None => {
                    table.insert(
                        client_id,
                        Entry {
                            holder: asker,
                            since: Instant::now(),
                            waiters: VecDeque::new(),
                        },
                    );
                    return true;
                }
                Some(e) if e.since.elapsed() > LEASE => {
                    tracing::warn!(%client_id, holder = %e.holder.node, "client_lock_lease_expired");
                    e.holder = asker;
                    e.since = Instant::now();
                    return true;
                }
                Some(e) => {
                    let (tx, rx) = oneshot::channel();
                    e.waiters.push_back((asker.clone(), tx));
                    rx
                }
            }
        };
        if let Ok(Ok(())) = tokio::time::timeout(wait, rx).await {
            return true;
        }
        // Timed out (or the owner dropped the wait): it may have been granted
        // just now, then it goes to the next in line.
        let granted = {
            let mut table = self.table.lock();
            match table.get_mut(&client_id) {
                Some(e) if e.holder == asker => true,
                Some(e) => {
                    e.waiters.retain(|(a, _)| *a != asker);
                    false
                }
                None => false,
            }
        };
        if granted {
            self.release(&client_id, &asker);
        }
        false
    }

    /// Releases `client_id`'s lock if `asker` holds it: the next waiter that
    /// still waits gets it.
    pub fn release(&self, client_id: &str, asker: &Asker) {
        let mut table = self.table.lock();
        let Some(e) = table.get_mut(client_id) else {
            return;
        };
        if e.holder != *asker {
            return;
        }
        if !hand_on(e) {
            table.remove(client_id);
        }
    }

    /// `node` is down: its locks are released and its waits dropped.
    pub fn release_node(&self, node: &str) {
        let mut table = self.table.lock();
        table.retain(|_, e| {
            e.waiters.retain(|(a, _)| &*a.node != node);
            if &*e.holder.node != node {
                return true;
            }
            hand_on(e)
        });
    }

    /// Number of client ids locked now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().len()
    }
}

/// Gives `e`'s lock to its next live waiter; false if nobody waits.
fn hand_on(e: &mut Entry) -> bool {
    while let Some((next, tx)) = e.waiters.pop_front() {
        if tx.send(()).is_ok() {
            e.holder = next;
            e.since = Instant::now();
            return true;
        }
    }
    false
}

/// A token unique on this node for one lock request.
/// How one try at a client id's lock ended.
enum Try {
    Granted(ClientLock),
    /// The owner answered no (its holder kept the lock past the wait).
    Refused,
    /// The owner went away before it answered (declared down, its link gone).
    OwnerLost,
}

/// Takes `client_id`'s lock from its owner ([`ClusterLink::lock_client`]).
/// An owner that goes away mid-call is not a refusal: the owner is picked
/// again among the members left, until [`WAIT`] has passed, so a CONNECT that
/// meets a peer being declared down waits for the new owner instead of being
/// refused with 0x88.
///
/// [`ClusterLink::lock_client`]: roost_core::cluster::ClusterLink::lock_client
pub(crate) async fn lock_client(cluster: Weak<Cluster>, client_id: Arc<str>) -> Option<ClientLock> {
    let deadline = Instant::now() + WAIT;
    loop {
        let c = cluster.upgrade()?;
        match try_lock(&c, &client_id, deadline).await {
            Try::Granted(lock) => return Some(lock),
            Try::Refused => return None,
            Try::OwnerLost if Instant::now() >= deadline => {
                tracing::warn!(%client_id, "client_lock_owner_lost");
                return None;
            }
            Try::OwnerLost => {
                drop(c);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn try_lock(c: &Cluster, client_id: &Arc<str>, deadline: Instant) -> Try {
    let owner: Arc<str> = {
        let mut members: Vec<Arc<str>> = c.peers.iter().map(|p| p.key().clone()).collect();
        members.push(c.node.clone());
        let names: Vec<&str> = members.iter().map(|m| &**m).collect();
        owner_of(client_id, &names).unwrap_or(&c.node).into()
    };
    let asker = Asker {
        node: c.node.clone(),
        token: next_token(),
    };
    let wait = deadline.saturating_duration_since(Instant::now());
    if owner == c.node {
        let locks = c.locks.clone();
        if locks.acquire(client_id.clone(), asker.clone(), wait).await {
            let id = client_id.clone();
            return Try::Granted(ClientLock::new(move || locks.release(&id, &asker)));
        }
        tracing::warn!(%client_id, %owner, "client_lock_not_granted");
        return Try::Refused;
    }
    let Some(link) = c.peers.get(&owner).map(|p| p.link.clone()) else {
        return Try::OwnerLost;
    };
    let request = wire::encode(&wire::Request::Lock {
        client_id: client_id.to_string(),
        node: asker.node.to_string(),
        token: asker.token,
    });
    // The owner answers within its own WAIT: the extra covers a lost peer.
    let r = link
        .call(
            |reply| ClusterMsg::Call(request, reply),
            Some(wait + Duration::from_secs(2)),
        )
        .await;
    let Ok(ractor::rpc::CallResult::Success(bytes)) = r else {
        return Try::OwnerLost;
    };
    if !wire::decode::<wire::LockReply>(&bytes).is_ok_and(|r| r.granted) {
        tracing::warn!(%client_id, %owner, "client_lock_not_granted");
        return Try::Refused;
    }
    let unlock = wire::encode(&Envelope::Unlock {
        node: asker.node.to_string(),
        client_id: client_id.to_string(),
        token: asker.token,
    });
    Try::Granted(ClientLock::new(move || {
        let _ = link.cast(ClusterMsg::Frame(unlock));
    }))
}

pub(crate) fn next_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The owner of `client_id` among `members`: the highest rendezvous hash, so
/// a member joining or leaving moves only the ids it wins or held.
pub(crate) fn owner_of<'a>(client_id: &str, members: &[&'a str]) -> Option<&'a str> {
    members
        .iter()
        .copied()
        .max_by_key(|node| (weight(node, client_id), *node))
}

/// FNV-1a over `node`, a separator and `client_id`, then a splitmix64
/// finaliser: the same on every node and every build (unlike std's hasher).
fn weight(node: &str, client_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0xff]).chain(client_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asker(node: &str, token: u64) -> Asker {
        Asker {
            node: node.into(),
            token,
        }
    }

    #[tokio::test]
    async fn one_holder_at_a_time_in_order() {
        let locks = Arc::new(Locks::default());
        let id: Arc<str> = "c".into();
        assert!(locks.acquire(id.clone(), asker("a", 1), WAIT).await);
        let l = locks.clone();
        let i = id.clone();
        let second = tokio::spawn(async move { l.acquire(i, asker("b", 1), WAIT).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished(), "granted while held");
        // Someone else's release does nothing.
        locks.release(&id, &asker("b", 1));
        assert!(!second.is_finished());
        locks.release(&id, &asker("a", 1));
        assert!(second.await.unwrap());
        locks.release(&id, &asker("b", 1));
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn a_wait_times_out_and_a_down_node_lets_go() {
        let locks = Arc::new(Locks::default());
        let id: Arc<str> = "c".into();
        assert!(locks.acquire(id.clone(), asker("a", 1), WAIT).await);
        assert!(
            !locks
                .acquire(id.clone(), asker("b", 1), Duration::from_millis(20))
                .await
        );
        let l = locks.clone();
        let i = id.clone();
        let third = tokio::spawn(async move { l.acquire(i, asker("c", 1), WAIT).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        locks.release_node("a");
        assert!(
            third.await.unwrap(),
            "the down node's lock went to the next"
        );
    }

    #[test]
    fn every_node_picks_the_same_owner() {
        let members = ["n1@h", "n2@h", "n3@h"];
        let mut reversed = members;
        reversed.reverse();
        let mut per_node = HashMap::new();
        for i in 0..300 {
            let id = format!("client-{i}");
            let a = owner_of(&id, &members).unwrap();
            assert_eq!(Some(a), owner_of(&id, &reversed));
            *per_node.entry(a).or_insert(0) += 1;
            // Without a member that does not own it, the owner stays.
            let others: Vec<&str> = members
                .iter()
                .copied()
                .filter(|m| *m == a || *m != "n3@h")
                .collect();
            assert_eq!(owner_of(&id, &others), Some(a));
        }
        assert_eq!(per_node.len(), 3, "spread over every node: {per_node:?}");
    }
}
