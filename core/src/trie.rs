//! The topic trie: one node per topic level, subscribers at the node where their
//! filter ends. Matching walks at most three branches per level (exact, `+`,
//! `#`), so its cost grows with the topic's depth, not with the subscriber count.

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

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_none()
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
        let mut path = String::new();
        each_entry(&self.root, &mut path, 0, &mut f);
    }

    /// Calls `f` with the entries of every filter matching `topic`. Filters whose
    /// first level is a wildcard do not match topics starting with `$`
    /// [MQTT-4.7.2-1]. Allocates nothing: runs once per publish.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a Map<K, V>)) {
        let dollar = topic.starts_with('$');
        walk(&self.root, topic.split('/'), !dollar, &mut f);
    }
}

/// Matches the remaining `levels` below `node`.
fn walk<'a, K, V>(
    node: &'a Node<K, V>,
    mut levels: std::str::Split<'_, char>,
    wildcards: bool,
    f: &mut impl FnMut(&'a Map<K, V>),
) {
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
        return;
    };
    if wildcards {
        if let Some(plus) = &node.plus {
            walk(plus, levels.clone(), true, f);
        }
    }
    if let Some(child) = node.children.get(level) {
        walk(child, levels, true, f);
    }
}

fn each_entry<K, V>(
    node: &Node<K, V>,
    path: &mut String,
    depth: usize,
    f: &mut impl FnMut(&str, &Map<K, V>),
) {
    let wildcards = [("+", &node.plus), ("#", &node.hash)];
    let wildcards = wildcards
        .into_iter()
        .filter_map(|(level, child)| Some((level, child.as_deref()?)));
    for (level, child) in node
        .children
        .iter()
        .map(|(level, child)| (&**level, child))
        .chain(wildcards)
    {
        let len = path.len();
        if depth > 0 {
            path.push('/');
        }
        path.push_str(level);
        if !child.entries.is_empty() {
            f(path, &child.entries);
        }
        each_entry(child, path, depth + 1, f);
        path.truncate(len);
    }
}

fn remove_at<K: std::hash::Hash + Eq, V>(
    node: &mut Node<K, V>,
    levels: &[&str],
    key: &K,
) -> Option<V> {
    let Some((level, rest)) = levels.split_first() else {
        return node.entries.remove(key);
    };
    let child = node.child_mut(level)?;
    let removed = remove_at(child, rest, key);
    if child.is_empty() {
        node.remove_child(level);
    }
    removed
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
    fn plus_matches_empty_level() {
        let mut trie = TopicTrie::default();
        trie.insert("a/+/c", 1, ());
        trie.insert("+/+", 2, ());
        assert_eq!(matched(&trie, "a//c"), vec![1]);
        assert_eq!(matched(&trie, "/x"), vec![2]);
    }
}
