//! The topic trie: one node per topic level, subscribers at the node where their
//! filter ends. Matching walks at most three branches per level (exact, `+`,
//! `#`), so its cost grows with the topic's depth, not with the subscriber count.

use smallvec::SmallVec;
use std::collections::HashMap;

/// The trie's maps: keyed by topic levels and subscribers, looked up on every
/// publish, so hashed with foldhash (seeded per process) instead of SipHash.
pub type Map<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// A trie of topic filters holding values of type `V` keyed by `K` at each filter.
#[derive(Debug)]
pub struct TopicTrie<K, V> {
    root: Node<K, V>,
    len: usize,
}

#[derive(Debug)]
struct Node<K, V> {
    /// Children by exact level; `+` and `#` have their own slots so a match
    /// hashes one level per node, not three.
    children: Map<Box<str>, Node<K, V>>,
    plus: Option<Box<Node<K, V>>>,
    hash: Option<Box<Node<K, V>>>,
    entries: Map<K, V>,
}

impl<K, V> Default for Node<K, V> {
    fn default() -> Self {
        Node {
            children: Map::default(),
            plus: None,
            hash: None,
            entries: Map::default(),
        }
    }
}

impl<K, V> Node<K, V> {
    fn child(&self, level: &str) -> Option<&Node<K, V>> {
        match level {
            "+" => self.plus.as_deref(),
            "#" => self.hash.as_deref(),
            _ => self.children.get(level),
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Node<K, V>> {
        match level {
            "+" => self.plus.as_deref_mut(),
            "#" => self.hash.as_deref_mut(),
            _ => self.children.get_mut(level),
        }
    }

    fn child_or_default(&mut self, level: &str) -> &mut Node<K, V> {
        match level {
            "+" => self.plus.get_or_insert_with(Default::default),
            "#" => self.hash.get_or_insert_with(Default::default),
            _ => self.children.entry(level.into()).or_default(),
        }
    }

    fn remove_child(&mut self, level: &str) {
        match level {
            "+" => self.plus = None,
            "#" => self.hash = None,
            _ => {
                self.children.remove(level);
            }
        }
    }

    /// Whether the node holds no entry and no child other than `next` (no child
    /// at all for `None`): it goes once `next` goes.
    fn is_empty_but(&self, next: Option<&str>) -> bool {
        let children = self.children.len()
            + usize::from(self.plus.is_some())
            + usize::from(self.hash.is_some());
        self.entries.is_empty()
            && match next {
                None => children == 0,
                Some(level) => children == 1 && self.child(level).is_some(),
            }
    }

    /// Moves the node's children onto `out` (for the iterative drop).
    fn take_children(&mut self, out: &mut Vec<Node<K, V>>) {
        out.extend(self.children.drain().map(|(_, child)| child));
        out.extend(self.plus.take().map(|child| *child));
        out.extend(self.hash.take().map(|child| *child));
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_none()
    }
}

/// A deep branch (a filter of thousands of levels) is dropped level by level
/// from a heap stack: the derived drop would recurse once per level and could
/// overflow the thread's stack.
impl<K, V> Drop for Node<K, V> {
    fn drop(&mut self) {
        if self.children.is_empty() && self.plus.is_none() && self.hash.is_none() {
            return;
        }
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.take_children(&mut stack);
        }
    }
}

impl<K, V> Default for TopicTrie<K, V> {
    fn default() -> Self {
        TopicTrie {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<K: std::hash::Hash + Eq, V> TopicTrie<K, V> {
    /// Inserts (or replaces) the entry `key` at `filter`. Returns the replaced value.
    pub fn insert(&mut self, filter: &str, key: K, value: V) -> Option<V> {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.child_or_default(level);
        }
        let old = node.entries.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the entry `key` at `filter`, pruning empty nodes.
    pub fn remove(&mut self, filter: &str, key: &K) -> Option<V> {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The entries stored at exactly `filter`.
    pub fn get_mut(&mut self, filter: &str) -> Option<&mut Map<K, V>> {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.child_mut(level)?;
        }
        Some(&mut node.entries)
    }

    /// The entries stored at exactly `filter`.
    pub fn get(&self, filter: &str) -> Option<&Map<K, V>> {
        let mut node = &self.root;
        for level in filter.split('/') {
            node = node.child(level)?;
        }
        Some(&node.entries)
    }

    /// Number of entries in the trie.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trie holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with every filter holding entries, and its entries.
    pub fn for_each_entry(&self, mut f: impl FnMut(&str, &Map<K, V>)) {
        each_entry(&self.root, &mut f);
    }

    /// Calls `f` with the entries of every filter matching `topic`. Filters whose
    /// first level is a wildcard do not match topics starting with `$`
    /// [MQTT-4.7.2-1]. Allocates nothing: runs once per publish.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a Map<K, V>)) {
        let dollar = topic.starts_with('$');
        walk(&self.root, topic.split('/'), !dollar, &mut f);
    }

    /// Calls `f` with the entries of every key stored under a topic NAME
    /// (exact levels, no wildcard) that `filter` matches: the reverse of
    /// [`for_each_match`](Self::for_each_match), for retained messages. `+`
    /// follows every child of a level, `#` takes its node and everything below;
    /// a filter starting with a wildcard skips topics starting with `$`
    /// [MQTT-4.7.2-1]. It visits only the branches the filter can match, and
    /// walks iteratively (no recursion on topic depth).
    pub fn for_each_topic_matched_by<'a>(&'a self, filter: &str, mut f: impl FnMut(&'a Map<K, V>)) {
        let levels: Vec<&str> = filter.split('/').collect();
        let mut pending: Vec<(&'a Node<K, V>, usize)> = vec![(&self.root, 0)];
        // The first level's children, seen by a wildcard: no `$` topics.
        let visible = |depth: usize, level: &str| depth > 0 || !level.starts_with('$');
        while let Some((node, depth)) = pending.pop() {
            let Some(&level) = levels.get(depth) else {
                if !node.entries.is_empty() {
                    f(&node.entries);
                }
                continue;
            };
            match level {
                "#" => {
                    // `#` matches the parent level too: "sport/#" matches "sport".
                    if depth > 0 && !node.entries.is_empty() {
                        f(&node.entries);
                    }
                    let mut below: Vec<&'a Node<K, V>> = node
                        .children
                        .iter()
                        .filter(|(l, _)| visible(depth, l))
                        .map(|(_, child)| child)
                        .collect();
                    while let Some(n) = below.pop() {
                        if !n.entries.is_empty() {
                            f(&n.entries);
                        }
                        below.extend(n.children.values());
                    }
                }
                "+" => pending.extend(
                    node.children
                        .iter()
                        .filter(|(l, _)| visible(depth, l))
                        .map(|(_, child)| (child, depth + 1)),
                ),
                exact => {
                    if let Some(child) = node.children.get(exact) {
                        pending.push((child, depth + 1));
                    }
                }
            }
        }
    }
}

/// A branch [`walk`] has yet to follow: a node, the levels left below it, and
/// whether wildcards may match there.
type Pending<'a, 't, K, V> = (&'a Node<K, V>, std::str::Split<'t, char>, bool);

/// Matches `levels` below `node`, iteratively: a topic of any depth costs heap,
/// never stack (no recursion on topic depth anywhere in the trie). Pending `+`
/// branches wait on a small inline stack, so a usual publish allocates nothing.
fn walk<'a, K, V>(
    node: &'a Node<K, V>,
    levels: std::str::Split<'_, char>,
    wildcards: bool,
    f: &mut impl FnMut(&'a Map<K, V>),
) {
    let mut pending: SmallVec<[Pending<'a, '_, K, V>; 8]> = SmallVec::new();
    pending.push((node, levels, wildcards));
    while let Some((mut node, mut levels, mut wildcards)) = pending.pop() {
        loop {
            if wildcards {
                // `#` matches the parent level too: "sport/#" matches "sport".
                if let Some(hash) = &node.hash {
                    if !hash.entries.is_empty() {
                        f(&hash.entries);
                    }
                }
            }
            let Some(level) = levels.next() else {
                if !node.entries.is_empty() {
                    f(&node.entries);
                }
                break;
            };
            if wildcards {
                if let Some(plus) = &node.plus {
                    pending.push((&**plus, levels.clone(), true));
                }
            }
            match node.children.get(level) {
                Some(child) => {
                    node = child;
                    wildcards = true;
                }
                None => break,
            }
        }
    }
}

/// Every node holding entries, depth first, with its filter; iterative.
fn each_entry<K, V>(root: &Node<K, V>, f: &mut impl FnMut(&str, &Map<K, V>)) {
    /// A node's children, exact levels then `+` and `#`.
    fn children<K, V>(node: &Node<K, V>) -> impl Iterator<Item = (&str, &Node<K, V>)> {
        let wildcards = [("+", &node.plus), ("#", &node.hash)];
        node.children
            .iter()
            .map(|(level, child)| (&**level, child))
            .chain(
                wildcards
                    .into_iter()
                    .filter_map(|(level, child)| Some((level, child.as_deref()?))),
            )
    }
    let mut path = String::new();
    // One frame per level on the way down: the children left to visit and the
    // length of `path` before this level was appended.
    let mut stack = vec![(children(root), 0usize)];
    while let Some((iter, _)) = stack.last_mut() {
        let Some((level, child)) = iter.next() else {
            let (_, len) = stack.pop().expect("a frame");
            path.truncate(len);
            continue;
        };
        let depth = stack.len() - 1;
        let len = path.len();
        if depth > 0 {
            path.push('/');
        }
        path.push_str(level);
        if !child.entries.is_empty() {
            f(&path, &child.entries);
        }
        stack.push((children(child), len));
    }
}

/// Removes `key` at `levels` below `root` and prunes the nodes it leaves empty,
/// iteratively: find and remove, then cut the trailing run of nodes left empty
/// (dropped without recursion, see `Drop for Node`).
fn remove_at<K: std::hash::Hash + Eq, V>(
    root: &mut Node<K, V>,
    levels: &[&str],
    key: &K,
) -> Option<V> {
    let removed = {
        let mut node = &mut *root;
        for level in levels {
            node = node.child_mut(level)?;
        }
        node.entries.remove(key)?
    };
    // Prune: find the deepest node left empty, from the top, and cut below its
    // last non-empty ancestor. `cut` is the index of the level whose node goes.
    let mut cut = None;
    {
        let mut node = &*root;
        for (i, level) in levels.iter().enumerate() {
            let Some(child) = node.child(level) else {
                break;
            };
            if child.is_empty_but(levels.get(i + 1).copied()) {
                cut.get_or_insert(i);
            } else {
                cut = None;
            }
            node = child;
        }
    }
    if let Some(i) = cut {
        let mut node = &mut *root;
        for level in &levels[..i] {
            node = node.child_mut(level).expect("walked above");
        }
        node.remove_child(levels[i]);
    }
    Some(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(trie: &TopicTrie<u32, ()>, topic: &str) -> Vec<u32> {
        let mut out = Vec::new();
        trie.for_each_match(topic, |entries| out.extend(entries.keys().copied()));
        out.sort();
        out
    }

    #[test]
    fn wildcards_and_dollar_topics() {
        let mut trie = TopicTrie::default();
        trie.insert("sport/#", 1, ());
        trie.insert("sport/+/player1", 2, ());
        trie.insert("#", 3, ());
        trie.insert("+/tennis/#", 4, ());
        trie.insert("$SYS/#", 5, ());
        trie.insert("sport/tennis/player1", 6, ());
        assert_eq!(matched(&trie, "sport/tennis/player1"), vec![1, 2, 3, 4, 6]);
        assert_eq!(matched(&trie, "sport"), vec![1, 3]);
        // [MQTT-4.7.2-1] wildcards at the first level do not match `$` topics.
        assert_eq!(matched(&trie, "$SYS/uptime"), vec![5]);
        assert_eq!(trie.len(), 6);
        assert!(trie.remove("sport/#", &1).is_some());
        assert_eq!(matched(&trie, "sport"), vec![3]);
        assert!(trie.remove("sport/#", &1).is_none());
        assert_eq!(trie.len(), 5);
    }

    #[test]
    fn every_filter_is_listed() {
        let mut trie = TopicTrie::default();
        for (i, f) in ["a/b", "a", "/x", "#", "a/+/c", "//"].iter().enumerate() {
            trie.insert(f, i, ());
        }
        let mut seen = Vec::new();
        trie.for_each_entry(|f, _| seen.push(f.to_string()));
        seen.sort();
        assert_eq!(seen, vec!["#", "//", "/x", "a", "a/+/c", "a/b"]);
    }

    #[test]
    fn wildcard_slots_are_pruned() {
        let mut trie = TopicTrie::default();
        trie.insert("a/+/#", 1, ());
        trie.insert("+/b", 2, ());
        assert_eq!(trie.get("a/+/#").map(|e| e.len()), Some(1));
        assert_eq!(matched(&trie, "a/b"), vec![1, 2]);
        assert!(trie.remove("a/+/#", &1).is_some());
        assert!(trie.remove("+/b", &2).is_some());
        assert!(trie.root.is_empty(), "every emptied node is removed");
        assert_eq!(matched(&trie, "a/b"), Vec::<u32>::new());
    }

    #[test]
    fn deep_filters_neither_recurse_nor_overflow() {
        // Far deeper than a 2 MB stack could recurse; run on a small stack.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = vec!["a"; 100_000].join("/");
                let plus = vec!["+"; 100_000].join("/");
                let mut trie = TopicTrie::<u32, ()>::default();
                trie.insert(&deep, 1, ());
                trie.insert(&plus, 2, ());
                trie.insert(&format!("{deep}/#"), 3, ());
                assert_eq!(matched(&trie, &deep), vec![1, 2, 3]);
                let mut n = 0;
                trie.for_each_entry(|_, _| n += 1);
                assert_eq!(n, 3);
                assert_eq!(trie.remove(&deep, &1), Some(()));
                assert_eq!(trie.remove(&deep, &1), None);
                assert_eq!(matched(&trie, &deep), vec![2, 3]);
                assert_eq!(trie.remove(&plus, &2), Some(()));
                assert_eq!(trie.len(), 1);
                trie.insert(&plus, 2, ());
                drop(trie);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn removing_prunes_only_the_empty_tail() {
        let mut trie = TopicTrie::<u32, ()>::default();
        trie.insert("a/b/c/d", 1, ());
        trie.insert("a/b", 2, ());
        trie.insert("a/b/x", 3, ());
        assert_eq!(trie.remove("a/b/c/d", &1), Some(()));
        assert!(trie.get("a/b/c").is_none(), "the empty tail is pruned");
        assert!(trie.get("a/b/x").is_some());
        assert_eq!(trie.remove("a/b/x", &3), Some(()));
        assert!(trie.get("a/b").is_some());
        assert_eq!(trie.remove("a/b", &2), Some(()));
        assert!(trie.root.is_empty());
    }

    #[test]
    fn plus_matches_empty_level() {
        let mut trie = TopicTrie::default();
        trie.insert("a/+/c", 1, ());
        trie.insert("+/+", 2, ());
        assert_eq!(matched(&trie, "a//c"), vec![1]);
        assert_eq!(matched(&trie, "/x"), vec![2]);
    }
}
