//! The ACL file parser (EMQX's acl.conf syntax, roost-access). What parses
//! parses the same with a comment and blank lines around it, and its rules
//! can be checked against a client for topics taken from the rules themselves
//! without panicking.
//!
//! Called by the fuzz target `acl_file` and by the corpus replay in
//! access/tests/fuzz_corpus.rs.

use roost_access::authz::file::parse;
use roost_access::authz::rule::{check_rules, TopicPattern};
use roost_core::authz::Action;
use roost_core::{ClientInfo, PeerInfo};
use roost_protocol::ProtocolVersion;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = parse(text) else {
        return;
    };
    let padded = format!("% leading comment\n\n{text}\n% trailing comment\n");
    assert_eq!(
        parse(&padded).as_ref(),
        Ok(&rules),
        "comments changed the rules"
    );

    let mut client = ClientInfo::new(
        "c1".into(),
        PeerInfo::tcp("tcp", "10.1.2.3:1234".parse().expect("an address")),
        ProtocolVersion::V5,
    );
    client.username = Some("u1".into());
    for rule in &rules {
        for t in &rule.topics {
            let (TopicPattern::Filter(topic) | TopicPattern::Eq(topic)) = t;
            for action in [Action::Publish, Action::Subscribe] {
                let _ = check_rules(&rules, &client, action, topic);
            }
        }
    }
    let _ = check_rules(&rules, &client, Action::Publish, "users/u1/x");
}
