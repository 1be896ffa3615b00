//! The routes of the other nodes: `filter -> node`, replicated from each node's
//! own subscriptions. Publishers read it (under a short read lock) to find the
//! nodes a message must be forwarded to.

use crate::wire::WireRoute;
use parking_lot::RwLock;
use roost_core::cluster::RemoteMatches;
use roost_core::trie::TopicTrie;
use roost_core::SharedKey;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A route of one node at one filter: plain (`group` none) or a share group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RemoteKey {
    node: Arc<str>,
    group: Option<Arc<str>>,
}

#[derive(Default)]
struct Inner {
    /// Value: the filter itself (matching hands out entries, not filters).
    trie: TopicTrie<RemoteKey, Arc<str>>,
    by_node: HashMap<Arc<str>, HashSet<WireRoute>>,
}

/// Every other node's routes.
#[derive(Default)]
pub struct RemoteRoutes {
    inner: RwLock<Inner>,
}

impl RemoteRoutes {
    /// Replaces everything known of `node` with `routes` (full resync).
    pub fn replace(&self, node: &Arc<str>, routes: Vec<WireRoute>) {
        let mut inner = self.inner.write();
        inner.remove_node(node);
        for r in routes {
            inner.add(node, r);
        }
    }

    /// Applies a delta: removals, then additions.
    pub fn apply(&self, node: &Arc<str>, add: Vec<WireRoute>, del: Vec<WireRoute>) {
        let mut inner = self.inner.write();
        for r in del {
            inner.del(node, &r);
        }
        for r in add {
            inner.add(node, r);
        }
    }

    /// Forgets `node` (it left, died or went silent).
    pub fn remove_node(&self, node: &str) -> usize {
        self.inner.write().remove_node(node)
    }

    /// Number of routes `node` holds.
    pub fn count(&self, node: &str) -> usize {
        self.inner.read().by_node.get(node).map_or(0, HashSet::len)
    }

    /// The nodes with subscriptions matching `topic`.
    pub fn matches(&self, topic: &str, out: &mut RemoteMatches) {
        let inner = self.inner.read();
        if inner.by_node.is_empty() {
            return;
        }
        inner.trie.for_each_match(topic, |entries| {
            for (key, filter) in entries {
                match &key.group {
                    None => {
                        if !out.plain.contains(&key.node) {
                            out.plain.push(key.node.clone());
                        }
                    }
                    Some(group) => {
                        let found = out
                            .groups
                            .iter_mut()
                            .find(|(k, _)| k.group == *group && k.filter == *filter);
                        match found {
                            Some((_, nodes)) => {
                                if !nodes.contains(&key.node) {
                                    nodes.push(key.node.clone());
                                }
                            }
                            None => out.groups.push((
                                Arc::new(SharedKey {
                                    group: group.clone(),
                                    filter: filter.clone(),
                                }),
                                vec![key.node.clone()],
                            )),
                        }
                    }
                }
            }
        });
    }
}

impl Inner {
    fn add(&mut self, node: &Arc<str>, route: WireRoute) {
        let key = RemoteKey {
            node: node.clone(),
            group: route.1.as_deref().map(Into::into),
        };
        self.trie.insert(&route.0, key, route.0.as_str().into());
        self.by_node.entry(node.clone()).or_default().insert(route);
    }

    fn del(&mut self, node: &Arc<str>, route: &WireRoute) {
        let key = RemoteKey {
            node: node.clone(),
            group: route.1.as_deref().map(Into::into),
        };
        self.trie.remove(&route.0, &key);
        if let Some(set) = self.by_node.get_mut(node) {
            set.remove(route);
        }
    }

    fn remove_node(&mut self, node: &str) -> usize {
        let Some((node, routes)) = self.by_node.remove_entry(node) else {
            return 0;
        };
        let n = routes.len();
        for r in routes {
            let key = RemoteKey {
                node: node.clone(),
                group: r.1.as_deref().map(Into::into),
            };
            self.trie.remove(&r.0, &key);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(r: &RemoteRoutes, topic: &str) -> (Vec<String>, Vec<(String, Vec<String>)>) {
        let mut m = RemoteMatches::default();
        r.matches(topic, &mut m);
        let mut plain: Vec<String> = m.plain.iter().map(|n| n.to_string()).collect();
        plain.sort();
        let mut groups: Vec<(String, Vec<String>)> = m
            .groups
            .iter()
            .map(|(k, n)| {
                let mut n: Vec<String> = n.iter().map(|n| n.to_string()).collect();
                n.sort();
                (format!("{}/{}", k.group, k.filter), n)
            })
            .collect();
        groups.sort();
        (plain, groups)
    }

    #[test]
    fn replace_apply_and_forget() {
        let r = RemoteRoutes::default();
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        r.replace(
            &a,
            vec![("t/#".into(), None), ("t/+".into(), Some("g".into()))],
        );
        r.replace(
            &b,
            vec![("t/1".into(), None), ("t/+".into(), Some("g".into()))],
        );
        assert_eq!(
            nodes(&r, "t/1"),
            (
                vec!["a".into(), "b".into()],
                vec![("g/t/+".into(), vec!["a".into(), "b".into()])]
            )
        );
        // Idempotent: the same delta twice changes nothing more.
        for _ in 0..2 {
            r.apply(&a, vec![], vec![("t/#".into(), None)]);
        }
        assert_eq!(nodes(&r, "t/2").0, Vec::<String>::new());
        // A full resync replaces, not merges.
        r.replace(&b, vec![("x".into(), None)]);
        assert_eq!(nodes(&r, "t/1").0, Vec::<String>::new());
        assert_eq!(nodes(&r, "x").0, vec!["b".to_string()]);
        assert_eq!(r.remove_node("b"), 1);
        assert_eq!(nodes(&r, "x").0, Vec::<String>::new());
        assert_eq!(r.count("a"), 1);
    }
}
