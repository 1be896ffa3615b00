//! One ACL rule, EMQX's `{Permission, Who, Action, Topics}`, and how it matches a
//! client's publish or subscribe. Shared by the ACL file, the built-in rules
//! and the `acl` claim of a JWT. A rule reads the client as every hook sees it
//! ([`roost_core::ClientInfo`]): who it is, where it came from.

use crate::config::Permission;
use ipnet::IpNet;
use roost_core::ClientInfo;
use serde::{Deserialize, Serialize};

pub use roost_core::authz::Action;

/// Which actions a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSpec {
    Publish,
    Subscribe,
    All,
}

impl ActionSpec {
    fn covers(self, a: Action) -> bool {
        matches!(
            (self, a),
            (ActionSpec::All, _)
                | (ActionSpec::Publish, Action::Publish)
                | (ActionSpec::Subscribe, Action::Subscribe)
        )
    }
}

/// Which clients a rule is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Who {
    All,
    Username(String),
    Clientid(String),
    /// The client's address is in this range (a single address is a /32 or /128).
    Ipaddr(IpNet),
    And(Vec<Who>),
    Or(Vec<Who>),
}

impl Who {
    fn matches(&self, c: &ClientInfo) -> bool {
        match self {
            Who::All => true,
            Who::Username(u) => c.username.as_deref() == Some(u.as_str()),
            Who::Clientid(id) => &*c.client_id == id.as_str(),
            Who::Ipaddr(net) => net.contains(&c.peer.addr.ip().to_canonical()),
            Who::And(all) => all.iter().all(|w| w.matches(c)),
            Who::Or(any) => any.iter().any(|w| w.matches(c)),
        }
    }
}

/// A topic of a rule: a filter (wildcards match, placeholders are filled) or,
/// with `eq`, a literal that only the very same string matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopicPattern {
    Filter(String),
    Eq(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub permission: Permission,
    pub who: Who,
    pub action: ActionSpec,
    /// Empty = every topic, `$` topics included (EMQX's `{allow, all}.`).
    pub topics: Vec<TopicPattern>,
}

impl Rule {
    /// The rule's permission if it applies to `client` doing `action` on `topic`
    /// (a topic name for publish, a filter for subscribe).
    pub fn check(&self, client: &ClientInfo, action: Action, topic: &str) -> Option<Permission> {
        if !self.action.covers(action) || !self.who.matches(client) {
            return None;
        }
        let any_topic = self.topics.is_empty();
        (any_topic
            || self.topics.iter().any(|t| match t {
                TopicPattern::Eq(literal) => literal == topic,
                TopicPattern::Filter(f) => filter_matches(topic, f, client),
            }))
        .then_some(self.permission)
    }
}

/// First match wins; `None` if no rule applies.
pub fn check_rules(
    rules: &[Rule],
    client: &ClientInfo,
    action: Action,
    topic: &str,
) -> Option<Permission> {
    rules.iter().find_map(|r| r.check(client, action, topic))
}

/// The placeholders a rule topic may hold (EMQX's names); each fills one
/// whole level or part of one.
const PLACEHOLDERS: [&str; 2] = ["${clientid}", "${username}"];

/// Whether `subject` is covered by the rule filter `filter` once its
/// `${clientid}` / `${username}` are filled in for `client`. A placeholder's value
/// is matched *literally*: a client id of `#` or `+` (or one holding `/`) never
/// widens `${clientid}/#`; a level filled from a placeholder equals only the same
/// text, never a wildcard of the subject, and never a `$` topic's first level.
/// No match when the client has no user name and the topic needs one (EMQX).
pub fn filter_matches(subject: &str, filter: &str, client: &ClientInfo) -> bool {
    if !filter.contains("${") {
        return topic_matches(subject, filter);
    }
    let mut s = subject.split('/');
    let mut first = true;
    for fl in filter.split('/') {
        if PLACEHOLDERS.iter().any(|p| fl.contains(p)) {
            let mut filled = fl.replace("${clientid}", &client.client_id);
            if filled.contains("${username}") {
                let Some(user) = client.username.as_deref() else {
                    return false;
                };
                filled = filled.replace("${username}", user);
            }
            // The value may hold `/`: it then spans as many subject levels, each
            // compared as text.
            for part in filled.split('/') {
                match s.next() {
                    Some(sl) if sl == part && sl != "+" && sl != "#" => {
                        if first && sl.starts_with('$') {
                            return false;
                        }
                    }
                    _ => return false,
                }
                first = false;
            }
            continue;
        }
        match (fl, s.next()) {
            ("#", Some(_)) if first && subject.starts_with('$') => return false,
            ("#", _) => return true,
            ("+", Some(sl)) => {
                if sl == "#" || (first && sl.starts_with('$')) {
                    return false;
                }
            }
            (fl, Some(sl)) => {
                if fl != sl {
                    return false;
                }
            }
            (_, None) => return false,
        }
        first = false;
    }
    s.next().is_none()
}

/// Whether `subject` (a topic name, or a subscription's filter) is covered by the
/// rule filter `filter`: `+`/`#` in the rule match any level(s), and a wildcard
/// in the subject only matches the same or a wider wildcard in the rule (rule
/// `a/#` covers subscription `a/+`, rule `a/b` does not). Rule wildcards in the
/// first level do not match `$` topics [MQTT-4.7.2-1].
pub fn topic_matches(subject: &str, filter: &str) -> bool {
    if subject.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut s = subject.split('/');
    let mut f = filter.split('/');
    loop {
        match (f.next(), s.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(level)) => {
                if level == "#" {
                    return false;
                }
            }
            (Some(fl), Some(sl)) => {
                if fl != sl {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_core::PeerInfo;
    use roost_protocol::ProtocolVersion;

    pub fn client(id: &str, user: Option<&str>, ip: &str) -> ClientInfo {
        let mut c = ClientInfo::new(
            id.into(),
            PeerInfo::tcp("tcp", format!("{ip}:1234").parse().unwrap()),
            ProtocolVersion::V5,
        );
        c.username = user.map(Into::into);
        c
    }

    #[test]
    fn topic_matching_covers_filters_with_filters() {
        assert!(topic_matches("a/b", "a/+"));
        assert!(topic_matches("a/b/c", "a/#"));
        assert!(topic_matches("a", "a/#"));
        assert!(topic_matches("a/+", "a/#"));
        assert!(topic_matches("a/+", "a/+"));
        assert!(!topic_matches("a/#", "a/+"));
        assert!(!topic_matches("a/+", "a/b"));
        assert!(!topic_matches("a/b/c", "a/+"));
        assert!(!topic_matches("$SYS/x", "#"));
        assert!(!topic_matches("$SYS/x", "+/x"));
        assert!(topic_matches("$SYS/x", "$SYS/#"));
    }

    #[test]
    fn placeholder_values_match_literally() {
        let own = "${clientid}/#";
        // A wildcard client id does not widen the rule.
        for id in ["#", "+"] {
            let c = client(id, Some(id), "10.0.0.1");
            assert!(!filter_matches("other/x", own, &c), "{id}");
            assert!(!filter_matches("#", own, &c), "{id}");
            assert!(!filter_matches("+/#", own, &c), "{id}");
            assert!(!filter_matches("+/x", own, &c), "{id}");
            assert!(!filter_matches("x", "${username}", &c), "{id}");
            assert!(!filter_matches("a/x", "a/${username}", &c), "{id}");
        }
        let c = client("c1", Some("u1"), "10.0.0.1");
        assert!(filter_matches("c1/x/y", own, &c));
        assert!(filter_matches("c1", own, &c));
        assert!(filter_matches("c1/+", own, &c));
        assert!(!filter_matches("c2/x", own, &c));
        assert!(!filter_matches("+/x", own, &c));
        assert!(filter_matches(
            "u/u1-c1/t",
            "u/${username}-${clientid}/+",
            &c
        ));
        assert!(!filter_matches(
            "u/u1-c1/t/z",
            "u/${username}-${clientid}/+",
            &c
        ));
        // A client id holding `/` spans levels, compared as text.
        let slash = client("a/b", None, "10.0.0.1");
        assert!(filter_matches("a/b/x", own, &slash));
        assert!(!filter_matches("a/+/x", own, &slash));
        assert!(!filter_matches("a/#", own, &slash));
        // No `$` topics through a placeholder.
        let sys = client("$SYS", None, "10.0.0.1");
        assert!(!filter_matches("$SYS/brokers", own, &sys));
        assert!(!filter_matches(
            "$SYS/x",
            "+/${clientid}",
            &client("x", None, "10.0.0.1")
        ));
        assert!(filter_matches(
            "t/x",
            "+/${clientid}",
            &client("x", None, "10.0.0.1")
        ));
    }

    #[test]
    fn placeholders_eq_and_who() {
        let c = client("c1", Some("u1"), "10.1.2.3");
        let rule = Rule {
            permission: Permission::Allow,
            who: Who::Ipaddr("10.0.0.0/8".parse().unwrap()),
            action: ActionSpec::Publish,
            topics: vec![
                TopicPattern::Filter("users/${username}/#".into()),
                TopicPattern::Eq("lit/#".into()),
            ],
        };
        assert_eq!(
            rule.check(&c, Action::Publish, "users/u1/x"),
            Some(Permission::Allow)
        );
        assert_eq!(rule.check(&c, Action::Publish, "users/u2/x"), None);
        assert_eq!(rule.check(&c, Action::Subscribe, "users/u1/x"), None);
        assert_eq!(
            rule.check(&c, Action::Publish, "lit/#"),
            Some(Permission::Allow)
        );
        assert_eq!(rule.check(&c, Action::Publish, "lit/a"), None);
        let anon = client("c1", None, "10.1.2.3");
        assert_eq!(rule.check(&anon, Action::Publish, "users//x"), None);
        let outside = client("c1", Some("u1"), "192.168.0.1");
        assert_eq!(rule.check(&outside, Action::Publish, "users/u1/x"), None);
    }
}
