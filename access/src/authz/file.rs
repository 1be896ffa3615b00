//! The ACL file (`authorization.sources: [{type: file, path: ...}]`), in EMQX's
//! `acl.conf` syntax so an EMQX file works unchanged: one Erlang tuple per rule,
//! ended by a dot, `%` comments, first match wins in file order:
//!
//! ```text
//! {allow, {username, "dashboard"}, subscribe, ["$SYS/#"]}.
//! {allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
//! {allow, all, all, ["users/${username}/#", {eq, "broadcast/#"}]}.
//! {deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
//! {allow, all}.
//! ```
//!
//! Who: `all`, `{username, "u"}` (`user`), `{clientid, "c"}` (`client`),
//! `{ipaddr, "10.0.0.0/8"}`, `{ipaddrs, [...]}`, `{'and', [...]}`, `{'or', [...]}`.
//! Action: `publish`, `subscribe`, `all` (`pubsub`). Topics: filters with
//! `${username}` / `${clientid}`, or `{eq, "t/#"}` for a literal.

use super::rule::{ActionSpec, Rule, TopicPattern, Who};
use crate::config::Permission;
use ipnet::IpNet;

/// An Erlang term, as much of the syntax as `acl.conf` uses.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Atom(String),
    Str(String),
    Tuple(Vec<Term>),
    List(Vec<Term>),
}

/// Reads the rules of an `acl.conf` text; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Rule>, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    let mut rules = Vec::new();
    loop {
        p.skip_blank();
        if p.peek().is_none() {
            return Ok(rules);
        }
        let line = p.line;
        let term = p.term()?;
        p.skip_blank();
        if p.next() != Some('.') {
            return Err(format!("line {}: expected `.` after the rule", p.line));
        }
        rules.push(rule(&term).map_err(|e| format!("line {line}: {e}"))?);
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c == '%' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.next();
                }
            } else if c.is_whitespace() {
                self.next();
            } else {
                break;
            }
        }
    }

    fn term(&mut self) -> Result<Term, String> {
        self.skip_blank();
        let line = self.line;
        match self.next() {
            Some('{') => Ok(Term::Tuple(self.seq('}')?)),
            Some('[') => Ok(Term::List(self.seq(']')?)),
            Some('"') => self.quoted('"').map(Term::Str),
            Some('\'') => self.quoted('\'').map(Term::Atom),
            Some(c) if c.is_ascii_lowercase() => {
                let mut atom = c.to_string();
                while let Some(c) = self
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
                {
                    atom.push(c);
                    self.next();
                }
                Ok(Term::Atom(atom))
            }
            Some(c) => Err(format!("line {line}: unexpected {c:?}")),
            None => Err(format!("line {line}: unexpected end of file")),
        }
    }

    fn seq(&mut self, close: char) -> Result<Vec<Term>, String> {
        let mut items = Vec::new();
        self.skip_blank();
        if self.peek() == Some(close) {
            self.next();
            return Ok(items);
        }
        loop {
            items.push(self.term()?);
            self.skip_blank();
            match self.next() {
                Some(',') => continue,
                Some(c) if c == close => return Ok(items),
                _ => return Err(format!("line {}: expected `,` or `{close}`", self.line)),
            }
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, String> {
        let line = self.line;
        let mut s = String::new();
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some(c) => s.push(c),
                    None => break,
                },
                Some(c) if c == quote => return Ok(s),
                Some(c) => s.push(c),
                None => break,
            }
        }
        Err(format!("line {line}: unterminated {quote}...{quote}"))
    }
}

fn rule(t: &Term) -> Result<Rule, String> {
    let Term::Tuple(items) = t else {
        return Err("a rule is a tuple {Permission, Who, Action, Topics}".into());
    };
    let permission = match items.first() {
        Some(Term::Atom(a)) if a == "allow" => Permission::Allow,
        Some(Term::Atom(a)) if a == "deny" => Permission::Deny,
        _ => return Err("a rule starts with allow or deny".into()),
    };
    match items.as_slice() {
        [_, Term::Atom(all)] if all == "all" => Ok(Rule {
            permission,
            who: Who::All,
            action: ActionSpec::All,
            topics: Vec::new(),
        }),
        [_, who_t, action_t, topics_t] => {
            let action = match action_t {
                Term::Atom(a) if a == "publish" => ActionSpec::Publish,
                Term::Atom(a) if a == "subscribe" => ActionSpec::Subscribe,
                Term::Atom(a) if a == "all" || a == "pubsub" => ActionSpec::All,
                other => {
                    return Err(format!(
                        "action must be publish, subscribe or all, got {other:?}"
                    ))
                }
            };
            let topics = match topics_t {
                Term::List(l) => l.iter().map(topic).collect::<Result<_, _>>()?,
                single => vec![topic(single)?],
            };
            Ok(Rule {
                permission,
                who: who(who_t)?,
                action,
                topics,
            })
        }
        _ => Err("a rule is {Permission, Who, Action, Topics} or {Permission, all}".into()),
    }
}

fn who(t: &Term) -> Result<Who, String> {
    let string = |t: &Term| match t {
        Term::Str(s) => Ok(s.clone()),
        other => Err(format!("expected a string, got {other:?}")),
    };
    match t {
        Term::Atom(a) if a == "all" => Ok(Who::All),
        Term::Tuple(kv) if kv.len() == 2 => {
            let Term::Atom(key) = &kv[0] else {
                return Err(format!("unknown who {t:?}"));
            };
            match key.as_str() {
                "username" | "user" => Ok(Who::Username(string(&kv[1])?)),
                "clientid" | "client" => Ok(Who::Clientid(string(&kv[1])?)),
                "ipaddr" => ip(&string(&kv[1])?).map(Who::Ipaddr),
                "ipaddrs" => match &kv[1] {
                    Term::List(l) => l
                        .iter()
                        .map(|t| string(t).and_then(|s| ip(&s)).map(Who::Ipaddr))
                        .collect::<Result<_, _>>()
                        .map(Who::Or),
                    other => Err(format!("ipaddrs takes a list, got {other:?}")),
                },
                "and" | "or" => match &kv[1] {
                    Term::List(l) => {
                        let all = l.iter().map(who).collect::<Result<_, _>>()?;
                        Ok(if key == "and" {
                            Who::And(all)
                        } else {
                            Who::Or(all)
                        })
                    }
                    other => Err(format!("{key} takes a list, got {other:?}")),
                },
                _ => Err(format!(
                    "unknown who {key:?} (regular expressions are not supported)"
                )),
            }
        }
        other => Err(format!("unknown who {other:?}")),
    }
}

/// An address or a CIDR range.
pub fn ip(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
}

fn topic(t: &Term) -> Result<TopicPattern, String> {
    match t {
        Term::Str(s) => Ok(TopicPattern::Filter(s.clone())),
        Term::Tuple(kv) if kv.len() == 2 && kv[0] == Term::Atom("eq".into()) => match &kv[1] {
            Term::Str(s) => Ok(TopicPattern::Eq(s.clone())),
            other => Err(format!("eq takes a string, got {other:?}")),
        },
        other => Err(format!(
            "a topic is \"filter\" or {{eq, \"topic\"}}, got {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_emqx_default_acl_conf() {
        let text = r##"
%% EMQX's default acl.conf
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
"##;
        assert!(parse(text).unwrap_err().starts_with("line 3: "));
        let text = r##"
%% comments
{allow, {username, "dashboard"}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
{allow, {'and', [{clientid, "c"}, {ipaddrs, ["10.0.0.0/8", "::1"]}]}, pubsub, "t/${clientid}"}.
{allow, all}.
"##;
        let rules = parse(text).unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].who, Who::Username("dashboard".into()));
        assert_eq!(rules[1].who, Who::Ipaddr("127.0.0.1/32".parse().unwrap()));
        assert_eq!(rules[2].topics[1], TopicPattern::Eq("#".into()));
        assert_eq!(rules[4].topics, vec![]);
    }

    #[test]
    fn the_shipped_example_parses() {
        let rules = parse(include_str!("../../../acl.conf")).unwrap();
        assert_eq!(rules.len(), 5);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("{allow, all, all, [\"a\"]}.\n{permit, all}.").unwrap_err(),
            "line 2: a rule starts with allow or deny"
        );
        assert!(parse("{allow, all, all, [\"a\"]}")
            .unwrap_err()
            .contains("expected `.`"));
        assert!(parse("{allow, {ipaddr, \"x\"}, all, [\"a\"]}.")
            .unwrap_err()
            .contains("not an IP address"));
    }
}
