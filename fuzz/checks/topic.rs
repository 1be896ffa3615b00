//! Topic names and filters: validation, shared-subscription parsing, the
//! matcher of roost-protocol and the topic trie of roost-core. The input is
//! a filter and a topic separated by the first newline (or one string used
//! as both). Properties checked:
//! - a valid topic name is also a valid filter, and matches itself;
//! - for a valid filter and a valid name, `topic::matches` and the trie agree;
//! - a filter inserted in the trie is found at exactly itself, and removing it
//!   leaves the trie empty.
//!
//! Called by the fuzz target `topic` and by the corpus replay in
//! core/tests/fuzz_corpus.rs.

use roost_core::trie::TopicTrie;
use roost_protocol::topic::{
    matches, parse_subscription_filter, validate_topic_filter, validate_topic_name,
};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (filter, topic) = text.split_once('\n').unwrap_or((text, text));
    let name_ok = validate_topic_name(topic).is_ok();
    if name_ok {
        assert!(
            validate_topic_filter(topic).is_ok(),
            "valid name {topic:?} is not a valid filter"
        );
        assert!(matches(topic, topic), "{topic:?} does not match itself");
    }
    // The filter a subscription is matched with, once any $share/$queue prefix is off.
    let Ok(sub) = parse_subscription_filter(filter) else {
        return;
    };
    let filter = sub.filter;
    assert!(
        validate_topic_filter(filter).is_ok(),
        "{filter:?} parsed but is invalid"
    );

    let mut trie: TopicTrie<u8, ()> = TopicTrie::default();
    trie.insert(filter, 1, ());
    assert!(
        trie.get(filter).is_some_and(|m| m.contains_key(&1)),
        "{filter:?} not found at itself"
    );
    if name_ok {
        let mut found = false;
        trie.for_each_match(topic, |m| found |= m.contains_key(&1));
        assert_eq!(
            found,
            matches(filter, topic),
            "trie and matches() disagree on filter {filter:?}, topic {topic:?}"
        );
    }
    assert_eq!(trie.remove(filter, &1), Some(()));
    assert!(trie.is_empty(), "removing {filter:?} left entries");
}
