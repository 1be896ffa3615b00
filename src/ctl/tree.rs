//! `roost ctl actors tree|kill`: the live actor tree, drawn.

use super::http::{encode_query, full_path, Client, CtlError};
use crate::cli::ActorsCommand;
use hyper::{Method, StatusCode};
use roost_core::api::ActorNode;
use std::fmt::Write as _;
use std::time::SystemTime;

/// `roost ctl actors tree|kill`.
pub async fn actors(client: &Client, cmd: ActorsCommand) -> Result<(), CtlError> {
    match cmd {
        ActorsCommand::Tree { prefix, depth } => {
            let mut query = Vec::new();
            if let Some(p) = prefix.as_deref().map(full_path) {
                query.push(format!("prefix={}", encode_query(&p)));
            }
            if let Some(d) = depth {
                query.push(format!("depth={d}"));
            }
            let path = if query.is_empty() {
                "/api/v5/actors".to_string()
            } else {
                format!("/api/v5/actors?{}", query.join("&"))
            };
            let body = client.request(Method::GET, &path, None).await?;
            let tree: ActorNode = client.parse(&body)?;
            if let Some(p) = prefix.as_deref().map(full_path) {
                if !contains_prefix(&tree, &p) {
                    return Err(CtlError::Refused {
                        status: StatusCode::NOT_FOUND,
                        message: format!("no actor path starts with {p}"),
                    });
                }
            }
            print!("{}", render_tree(&tree, SystemTime::now(), depth));
        }
        ActorsCommand::Kill { path } => {
            let path = full_path(&path);
            let req = serde_json::json!({ "path": path }).to_string();
            let body = client
                .request(Method::POST, "/api/v5/actors/kill", Some(req))
                .await?;
            let v: serde_json::Value = client.parse(&body)?;
            let killed = v.get("killed").and_then(|k| k.as_str()).unwrap_or(&path);
            println!("killed {killed}");
        }
    }
    Ok(())
}

fn contains_prefix(n: &ActorNode, prefix: &str) -> bool {
    n.path.starts_with(prefix) || n.children.iter().any(|c| contains_prefix(c, prefix))
}

/// The tree as indented text: one line per actor with its last path segment,
/// kind, restarts, mailbox depth and uptime, columns aligned. Where `depth`
/// cut the tree, a line says how many children were left out.
pub fn render_tree(root: &ActorNode, now: SystemTime, depth: Option<usize>) -> String {
    let mut rows: Vec<(String, Option<&ActorNode>)> = Vec::new();
    collect(root, 0, depth, String::new(), String::new(), &mut rows);
    let width = rows
        .iter()
        .filter(|(_, n)| n.is_some())
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let kind_width = rows
        .iter()
        .filter_map(|(_, n)| n.map(|n| n.kind.len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, node) in rows {
        match node {
            Some(n) => {
                let pad = width - name.chars().count();
                let mailbox = n.mailbox.map_or("-".to_string(), |m| m.to_string());
                let _ = writeln!(
                    out,
                    "{name}{:pad$}  {:kind_width$}  restarts {:<3} mailbox {:<5} {} {}",
                    "",
                    n.kind,
                    n.restarts,
                    mailbox,
                    if n.hibernating { "asleep" } else { "up" },
                    uptime(&n.started_at, now),
                );
            }
            None => {
                let _ = writeln!(out, "{name}");
            }
        }
    }
    out
}

/// Flattens the tree into lines: `lead` is the drawing before this node's name,
/// `indent` the drawing its children's lines start with.
fn collect<'a>(
    n: &'a ActorNode,
    level: usize,
    depth: Option<usize>,
    lead: String,
    indent: String,
    rows: &mut Vec<(String, Option<&'a ActorNode>)>,
) {
    let name = n.path.rsplit('/').next().unwrap_or(&n.path);
    rows.push((format!("{lead}{name}"), Some(n)));
    let hidden = n.child_count.saturating_sub(n.children.len());
    let last = n.children.len().saturating_sub(1);
    for (i, c) in n.children.iter().enumerate() {
        let (l, ind) = if i == last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let (lead, indent) = (format!("{indent}{l}"), format!("{indent}{ind}"));
        collect(c, level + 1, depth, lead, indent, rows);
    }
    if hidden > 0 && depth == Some(level) {
        rows.push((format!("{indent}└── … {hidden} more (raise --depth)"), None));
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `7s`.
fn uptime(started_at: &str, now: SystemTime) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(started_at) else {
        return "?".into();
    };
    let s = now.duration_since(t).unwrap_or_default().as_secs();
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, kind: &str, child_count: usize, children: Vec<ActorNode>) -> ActorNode {
        ActorNode {
            path: path.into(),
            kind: kind.into(),
            restarts: 0,
            mailbox: None,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            child_count,
            children,
            hibernating: false,
        }
    }

    #[test]
    fn tree_is_drawn_with_branches_and_cut_subtrees() {
        let tree = node(
            "roost",
            "supervisor",
            2,
            vec![
                node(
                    "roost/router",
                    "supervisor",
                    1,
                    vec![node("roost/router/shard-0", "shard", 0, vec![])],
                ),
                node("roost/sessions", "dynamic_supervisor", 3, vec![]),
            ],
        );
        let now = humantime::parse_rfc3339("2026-01-01T01:02:03Z").unwrap();
        let out = render_tree(&tree, now, Some(1));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("roost "), "{out}");
        assert!(lines[0].ends_with("up 1h 2m"), "{out}");
        assert!(lines[1].starts_with("├── router "), "{out}");
        assert!(lines[2].starts_with("│   └── shard-0 "), "{out}");
        assert!(lines[3].starts_with("└── sessions "), "{out}");
        assert!(lines[4].starts_with("    └── … 3 more"), "{out}");
        // The kind column lines up (box drawing counts one column per char).
        let col = |l: &str, pat: &str| l[..l.rfind(pat).unwrap()].chars().count();
        assert_eq!(
            col(lines[0], "supervisor "),
            col(lines[1], "supervisor "),
            "{out}"
        );
        assert_eq!(
            col(lines[0], "supervisor "),
            col(lines[2], "shard "),
            "{out}"
        );
    }

    #[test]
    fn paths_may_leave_out_the_root() {
        assert_eq!(full_path("router/shard-0"), "roost/router/shard-0");
        assert_eq!(full_path("roost/router"), "roost/router");
        assert_eq!(full_path("roost"), "roost");
        assert_eq!(
            encode_query("roost/sessions/session:a b&c"),
            "roost/sessions/session:a%20b%26c"
        );
    }
}
