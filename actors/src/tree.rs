//! The live actor tree, for operators: every supervised actor with its path
//! (`roost/sessions/session:dev-42`), kind, restart count, mailbox depth and
//! start time, read from the supervisors themselves; and kill-by-path, which
//! kills an actor the way a crash would (its supervisor sees an abnormal exit).

use crate::connection::ConnTable;
use crate::gauges::MailboxGauges;
use crate::session::{session_child_id, SessionTable};
use ractor::{ActorCell, ActorRef};
use roost_supervisor::{
    ChildInfo, DynamicSupervisor, DynamicSupervisorMsg, Supervisor, SupervisorMsg,
    DYNAMIC_SUPERVISOR_KIND, SUPERVISOR_KIND,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

pub use roost_core::api::{ActorNode, TreeError};

/// Where the tree starts: the root supervisor, its start time.
pub struct TreeRoot<'a> {
    pub cell: &'a ActorCell,
    pub name: &'a str,
    pub started_at: SystemTime,
    pub gauges: &'a MailboxGauges,
    /// The session table: hibernating sessions have no actor, and are listed
    /// from here under the `sessions` supervisor.
    pub sessions: &'a SessionTable,
    /// The connection table: hibernating connections are listed from here
    /// under their listener's `connections` supervisor.
    pub conns: &'a ConnTable,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

async fn children_of(cell: &ActorCell, kind: &str) -> Result<Vec<ChildInfo>, TreeError> {
    let r = match kind {
        SUPERVISOR_KIND => {
            Supervisor::which_children(&ActorRef::<SupervisorMsg>::from(cell.clone())).await
        }
        DYNAMIC_SUPERVISOR_KIND => {
            DynamicSupervisor::which_children(&ActorRef::<DynamicSupervisorMsg>::from(cell.clone()))
                .await
        }
        _ => return Ok(Vec::new()),
    };
    r.map_err(|e| TreeError::Unreachable(e.to_string()))
}

/// True if the subtree at `path` may contain `prefix` (or is inside it).
fn relevant(path: &str, prefix: &str) -> bool {
    path.starts_with(prefix) || prefix.starts_with(&format!("{path}/"))
}

/// The tree below the root, limited to paths relevant to `prefix` and to
/// `depth` levels below the root (None = all). Children of a dynamic supervisor
/// are listed only when within `depth`, so `?depth=2` stays fast at 100k sessions.
pub async fn actor_tree(
    root: &TreeRoot<'_>,
    prefix: Option<&str>,
    depth: Option<usize>,
) -> Result<ActorNode, TreeError> {
    let prefix = prefix.unwrap_or("").trim_end_matches('/');
    let mut node = ActorNode {
        path: root.name.to_string(),
        kind: SUPERVISOR_KIND.into(),
        restarts: 0,
        mailbox: root.gauges.depth(root.cell.get_id()),
        started_at: rfc3339(root.started_at),
        child_count: 0,
        children: Vec::new(),
        hibernating: false,
    };
    fill(root, &mut node, root.cell.clone(), prefix, depth, 0).await?;
    Ok(node)
}

async fn fill(
    root: &TreeRoot<'_>,
    node: &mut ActorNode,
    cell: ActorCell,
    prefix: &str,
    depth: Option<usize>,
    level: usize,
) -> Result<(), TreeError> {
    let dynamic = node.kind == DYNAMIC_SUPERVISOR_KIND;
    let sessions = node.path.strip_prefix(root.name) == Some("/sessions");
    let connections = dynamic && node.path.ends_with("/connections");
    if depth.is_some_and(|d| level >= d) {
        // Below the requested depth only the count is wanted: a dynamic
        // supervisor counts its 100k children without copying them.
        node.child_count = count_of(&cell, &node.kind).await?;
        if sessions {
            node.child_count += root.sessions.iter().filter(|h| h.is_hibernating()).count();
        }
        if connections {
            node.child_count += hibernating_conns(root, &node.path).count();
        }
        return Ok(());
    }
    let children = match child_id_prefix(&node.path, prefix).filter(|_| dynamic) {
        Some(id_prefix) => {
            let sup = ActorRef::<DynamicSupervisorMsg>::from(cell.clone());
            node.child_count = count_of(&cell, &node.kind).await?;
            DynamicSupervisor::which_children_with_prefix(&sup, id_prefix)
                .await
                .map_err(|e| TreeError::Unreachable(e.to_string()))?
        }
        None => {
            let children = children_of(&cell, &node.kind).await?;
            node.child_count = children.len();
            children
        }
    };
    for c in children {
        let path = format!("{}/{}", node.path, c.id);
        if !prefix.is_empty() && !relevant(&path, prefix) {
            continue;
        }
        let mut child = ActorNode {
            mailbox: root.gauges.depth(c.cell.get_id()),
            path,
            kind: c.kind.to_string(),
            restarts: c.restarts,
            started_at: rfc3339(c.started_at),
            child_count: 0,
            children: Vec::new(),
            hibernating: false,
        };
        // Boxed: the recursion depth is the tree's (a handful of levels).
        Box::pin(fill(root, &mut child, c.cell, prefix, depth, level + 1)).await?;
        node.children.push(child);
    }
    if sessions {
        add_hibernating(root, node, prefix);
    }
    if connections {
        add_hibernating_conns(root, node, prefix);
    }
    Ok(())
}

/// The hibernating connections under the connections supervisor at `path`,
/// with when each fell asleep.
fn hibernating_conns<'a>(
    root: &'a TreeRoot<'_>,
    path: &'a str,
) -> impl Iterator<Item = (Arc<crate::connection::ConnHandle>, SystemTime)> + 'a {
    root.conns.iter().filter_map(move |c| {
        let c = c.upgrade().filter(|c| &*c.supervisor == path)?;
        let slept_at = c.hibernating_since()?;
        Some((c, slept_at))
    })
}

/// Lists the hibernating connections under their listener's connections
/// supervisor (they have no actor, so the supervisor does not know them).
fn add_hibernating_conns(root: &TreeRoot<'_>, node: &mut ActorNode, prefix: &str) {
    let found: Vec<_> = hibernating_conns(root, &node.path).collect();
    for (c, slept_at) in found {
        add_asleep(node, prefix, &c.child_id(), "connection", 0, slept_at);
    }
}

/// Lists the hibernating sessions under the `sessions` supervisor (they have
/// no actor, so the supervisor does not know them).
fn add_hibernating(root: &TreeRoot<'_>, node: &mut ActorNode, prefix: &str) {
    for h in root.sessions.iter() {
        if let Some(slept_at) = h.hibernating_since() {
            let id = session_child_id(&h.client_id);
            let depth = h.depth.load(Ordering::Relaxed);
            add_asleep(node, prefix, &id, "session", depth, slept_at);
        }
    }
}

/// Counts a hibernating child `id` of `node`, and lists it if within `prefix`.
fn add_asleep(
    node: &mut ActorNode,
    prefix: &str,
    id: &str,
    kind: &str,
    mailbox: usize,
    slept_at: SystemTime,
) {
    let path = format!("{}/{}", node.path, id);
    node.child_count += 1;
    if !prefix.is_empty() && !relevant(&path, prefix) {
        return;
    }
    node.children.push(ActorNode {
        path,
        kind: kind.into(),
        restarts: 0,
        mailbox: Some(mailbox),
        started_at: rfc3339(slept_at),
        child_count: 0,
        children: Vec::new(),
        hibernating: true,
    });
}

/// The number of children of a supervisor (0 for other actors).
async fn count_of(cell: &ActorCell, kind: &str) -> Result<usize, TreeError> {
    match kind {
        DYNAMIC_SUPERVISOR_KIND => {
            DynamicSupervisor::count_children(&ActorRef::<DynamicSupervisorMsg>::from(cell.clone()))
                .await
                .map_err(|e| TreeError::Unreachable(e.to_string()))
        }
        _ => Ok(children_of(cell, kind).await?.len()),
    }
}

/// The part of `prefix` that names children of the node at `path`: for path
/// `roost/sessions` and prefix `roost/sessions/session:dev-4`, `session:dev-4`.
fn child_id_prefix<'a>(path: &str, prefix: &'a str) -> Option<&'a str> {
    let rest = prefix.strip_prefix(path)?.strip_prefix('/')?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// Finds the actor at `path` (e.g. `roost/router/shard-3`).
pub async fn find(root: &TreeRoot<'_>, path: &str) -> Result<ActorCell, TreeError> {
    let path = path.trim_end_matches('/');
    let rest = path
        .strip_prefix(root.name)
        .ok_or_else(|| TreeError::NotFound(path.to_string()))?;
    let mut cell = root.cell.clone();
    let mut kind: &str = SUPERVISOR_KIND;
    for id in rest.split('/').filter(|s| !s.is_empty()) {
        let children = if kind == DYNAMIC_SUPERVISOR_KIND {
            let sup = ActorRef::<DynamicSupervisorMsg>::from(cell.clone());
            DynamicSupervisor::which_children_with_prefix(&sup, id)
                .await
                .map_err(|e| TreeError::Unreachable(e.to_string()))?
        } else {
            children_of(&cell, kind).await?
        };
        let c = children
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| TreeError::NotFound(path.to_string()))?;
        cell = c.cell;
        kind = c.kind;
    }
    Ok(cell)
}

/// Kills the actor at `path` the way a crash would: ractor's kill, reported to
/// its supervisor as an abnormal exit, so the restart policy applies.
pub async fn kill(root: &TreeRoot<'_>, path: &str) -> Result<(), TreeError> {
    let cell = find(root, path).await?;
    tracing::warn!(path, "actor_killed_by_operator");
    cell.kill();
    Ok(())
}
