//! Built-in ACL rules (`authorization.sources: [{type: built_in_database}]`),
//! managed with the REST API like EMQX's: rules per user name, per client id,
//! and for all clients, checked in that order (first match wins).

use super::rule::{check_rules, Action, ActionSpec, Rule, TopicPattern, Who};
use crate::config::Permission;
use roost_core::ClientInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One rule as the API takes and gives it (EMQX's shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiRule {
    /// A filter with `${username}` / `${clientid}`, or `eq <topic>` for a literal.
    pub topic: String,
    pub permission: Permission,
    pub action: ActionSpec,
}

impl ApiRule {
    fn rule(&self) -> Rule {
        Rule {
            permission: self.permission,
            who: Who::All,
            action: self.action,
            topics: vec![match self.topic.strip_prefix("eq ") {
                Some(t) => TopicPattern::Eq(t.to_string()),
                None => TopicPattern::Filter(self.topic.clone()),
            }],
        }
    }
}

/// The stored table (`<data_dir>/acl.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuiltInRules {
    #[serde(default)]
    pub users: BTreeMap<String, Vec<ApiRule>>,
    #[serde(default)]
    pub clients: BTreeMap<String, Vec<ApiRule>>,
    #[serde(default)]
    pub all: Vec<ApiRule>,
}

impl BuiltInRules {
    /// The first matching rule: the user's, then the client's, then everyone's.
    pub fn check(&self, client: &ClientInfo, action: Action, topic: &str) -> Option<Permission> {
        let lists = [
            client.username.as_ref().and_then(|u| self.users.get(&**u)),
            self.clients.get(&*client.client_id),
            Some(&self.all),
        ];
        lists.into_iter().flatten().find_map(|rules| {
            let rules: Vec<Rule> = rules.iter().map(ApiRule::rule).collect();
            check_rules(&rules, client, action, topic)
        })
    }
}
