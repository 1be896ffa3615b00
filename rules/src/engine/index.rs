//! What the publish path reads: the enabled rules' FROM filters in a topic
//! trie, and the rules of each event kind. Rebuilt whole on every change (rules
//! change rarely) and published as a new snapshot; each thread keeps the last
//! snapshot it saw and checks one version number per read, so the publisher
//! takes no lock and shares no written cache line with other publishers.

use super::events::EventKind;
use super::registry::Rule;
use super::workers::Job;
use parking_lot::RwLock;
use roost_core::trie::TopicTrie;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// One snapshot of the enabled rules.
pub struct Index {
    pub topics: TopicTrie<Arc<str>, Arc<Rule>>,
    pub events: Vec<(EventKind, Vec<Arc<Rule>>)>,
    /// The rules on each data-integration source, by source id.
    pub sources: HashMap<String, Vec<Arc<Rule>>>,
    /// The workers' queues (none before the engine starts).
    pub senders: Arc<[Sender<Job>]>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            topics: TopicTrie::default(),
            events: Vec::new(),
            sources: HashMap::new(),
            senders: Arc::from(Vec::new()),
        }
    }
}

impl Index {
    pub fn build<'a>(rules: impl Iterator<Item = &'a Arc<Rule>>) -> (Index, u32) {
        let mut index = Index::default();
        let mut mask = 0;
        for rule in rules.filter(|r| r.spec.enable) {
            for filter in &rule.topics {
                index.topics.insert(filter, rule.id.clone(), rule.clone());
                mask |= EventKind::MessagePublish.bit();
            }
            for id in &rule.sources {
                let rules = index.sources.entry(id.clone()).or_default();
                if !rules.iter().any(|r| Arc::ptr_eq(r, rule)) {
                    rules.push(rule.clone());
                }
            }
            for &kind in &rule.events {
                mask |= kind.bit();
                match index.events.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, v)) => {
                        if !v.iter().any(|r| Arc::ptr_eq(r, rule)) {
                            v.push(rule.clone())
                        }
                    }
                    None => index.events.push((kind, vec![rule.clone()])),
                }
            }
        }
        (index, mask)
    }

    /// The rules on event `kind`.
    pub fn on(&self, kind: EventKind) -> &[Arc<Rule>] {
        self.events
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
}

/// The current snapshot, and the mask of event kinds that have a rule (one
/// relaxed load tells an event nobody selects to go away).
pub struct IndexCell {
    /// Tells this cell's snapshots from another engine's in a thread's cache.
    id: u64,
    version: AtomicU64,
    mask: AtomicU32,
    current: RwLock<Arc<Index>>,
}

thread_local! {
    /// (cell id, version, snapshot) of the last read on this thread.
    static CACHE: RefCell<Option<(u64, u64, Arc<Index>)>> = const { RefCell::new(None) };
}

impl Default for IndexCell {
    fn default() -> Self {
        IndexCell::new()
    }
}

impl IndexCell {
    pub fn new() -> IndexCell {
        static IDS: AtomicU64 = AtomicU64::new(0);
        IndexCell {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
            mask: AtomicU32::new(0),
            current: RwLock::new(Arc::new(Index::default())),
        }
    }

    /// Whether any enabled rule selects events of `kind`.
    #[inline]
    pub fn has(&self, kind: EventKind) -> bool {
        self.mask.load(Ordering::Relaxed) & kind.bit() != 0
    }

    /// Publishes a new snapshot.
    pub fn set(&self, index: Index, mask: u32) {
        *self.current.write() = Arc::new(index);
        self.mask.store(mask, Ordering::Relaxed);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Runs `f` on the current snapshot: from this thread's cache while the
    /// version is unchanged (no lock, no reference count touched).
    pub fn with<R>(&self, f: impl FnOnce(&Index) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        CACHE.with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => {
                let fresh = matches!(&*cache, Some((id, v, _)) if *id == self.id && *v == version);
                if !fresh {
                    *cache = Some((self.id, version, self.current.read().clone()));
                }
                let (_, _, index) = cache.as_ref().expect("just filled");
                f(index)
            }
            // Re-entered from inside `f`: read the shared snapshot.
            Err(_) => {
                let index = self.current.read().clone();
                f(&index)
            }
        })
    }
}
