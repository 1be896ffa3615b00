//! A dynamic supervisor: children added and removed at run time (connections,
//! sessions), each restarted one_for_one according to its restart type.

use crate::restart::{
    classify, intensity_exceeded, should_restart, shutdown_all, shutdown_child, shutdown_timeout,
    Backoff, Exit, RestartLog, BACKOFF_BASE,
};
use crate::{call_result, ChildInfo, ChildSpec, Intensity, RestartTimer, SupervisorError};
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use std::collections::HashMap;
use std::time::SystemTime;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// OTP's `simple_one_for_one` / Elixir's `DynamicSupervisor`: the parent of the
/// many short-lived actors (one per connection, one per session), so each can
/// be started on demand and restarted on its own without touching the others.
pub struct DynamicSupervisor;

/// What a [`DynamicSupervisor`] starts with.
pub struct DynamicSupervisorArgs {
    /// How many restarts (of any children) are tolerated before it gives up and fails.
    pub intensity: Intensity,
    /// `None` = unlimited.
    pub max_children: Option<usize>,
}

/// Requests a [`DynamicSupervisor`] serves.
pub enum DynamicSupervisorMsg {
    /// Starts a child; replies with its cell once its `pre_start` has finished.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// Stops the child with this id (normal stop; not restarted). Replies `false`
    /// for an unknown id, `true` once the child has stopped.
    TerminateChild(String, RpcReplyPort<bool>),
    /// The running children, in the order they were first started.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// The running children whose id starts with the prefix (for the actor
    /// tree's `?prefix=` at 100k sessions: only matches are copied).
    WhichChildrenWithPrefix(String, RpcReplyPort<Vec<ChildInfo>>),
    /// The supervised children, including those waiting for a delayed restart.
    CountChildren(RpcReplyPort<usize>),
    /// A restart the supervisor scheduled for itself after a backoff delay.
    Restart(RestartTimer),
}
ractor_message!(DynamicSupervisorMsg);

/// The [`DynamicSupervisor`]'s bookkeeping; public only because it is the actor's
/// state type. Both maps make every event O(1), for 100k children.
pub struct DynamicSupervisorState {
    name: String,
    log: RestartLog,
    max_children: Option<usize>,
    /// Every supervised child by id, including those awaiting restart.
    children: HashMap<String, DynamicChild>,
    /// The running children's actors, to find the child a supervision event is about.
    by_actor: HashMap<ActorId, String>,
    next_seq: u64,
}

struct DynamicChild {
    spec: ChildSpec,
    /// `None` while awaiting a delayed restart.
    cell: Option<ActorCell>,
    restarts: u32,
    started_at: SystemTime,
    backoff: Backoff,
    /// Identifies the latest scheduled restart, so a stale timer does nothing.
    seq: u64,
    /// When it was first started, relative to its siblings, for `WhichChildren`.
    order: u64,
}

impl DynamicSupervisor {
    /// Starts a child under `sup` and returns its cell once it has started.
    pub async fn start_child(
        sup: &ActorRef<DynamicSupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<ActorCell, SupervisorError> {
        call_result(
            sup.call(|reply| DynamicSupervisorMsg::StartChild(spec, reply), None)
                .await,
        )?
    }

    /// Stops the child `id` for good; `Ok(false)` if there was no such child.
    pub async fn terminate_child(
        sup: &ActorRef<DynamicSupervisorMsg>,
        id: impl Into<String>,
    ) -> Result<bool, SupervisorError> {
        let id = id.into();
        call_result(
            sup.call(
                |reply| DynamicSupervisorMsg::TerminateChild(id, reply),
                None,
            )
            .await,
        )
    }

    /// The running children of `sup` (for the actor tree and tests).
    pub async fn which_children(
        sup: &ActorRef<DynamicSupervisorMsg>,
    ) -> Result<Vec<ChildInfo>, SupervisorError> {
        call_result(sup.call(DynamicSupervisorMsg::WhichChildren, None).await)
    }

    /// The running children of `sup` whose id starts with `prefix`.
    pub async fn which_children_with_prefix(
        sup: &ActorRef<DynamicSupervisorMsg>,
        prefix: impl Into<String>,
    ) -> Result<Vec<ChildInfo>, SupervisorError> {
        let prefix = prefix.into();
        call_result(
            sup.call(
                |r| DynamicSupervisorMsg::WhichChildrenWithPrefix(prefix, r),
                None,
            )
            .await,
        )
    }

    /// How many children `sup` supervises.
    pub async fn count_children(
        sup: &ActorRef<DynamicSupervisorMsg>,
    ) -> Result<usize, SupervisorError> {
        call_result(sup.call(DynamicSupervisorMsg::CountChildren, None).await)
    }
}

impl Actor for DynamicSupervisor {
    type Msg = DynamicSupervisorMsg;
    type State = DynamicSupervisorState;
    type Arguments = DynamicSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: DynamicSupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(DynamicSupervisorState {
            name: myself
                .get_name()
                .unwrap_or_else(|| myself.get_id().to_string()),
            log: RestartLog::new(args.intensity),
            max_children: args.max_children,
            children: HashMap::new(),
            by_actor: HashMap::new(),
            next_seq: 0,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // ractor would kill linked children once we are gone (no post_stop for
        // them); stopping them first lets them clean up.
        state.shutdown_children().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DynamicSupervisorMsg::StartChild(spec, reply) => {
                let _ = reply.send(state.start_child(&myself, spec).await);
            }
            DynamicSupervisorMsg::TerminateChild(id, reply) => state.terminate_child(&id, reply),
            DynamicSupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children(""));
            }
            DynamicSupervisorMsg::WhichChildrenWithPrefix(prefix, reply) => {
                let _ = reply.send(state.which_children(&prefix));
            }
            DynamicSupervisorMsg::CountChildren(reply) => {
                let _ = reply.send(state.children.len());
            }
            DynamicSupervisorMsg::Restart(timer) => state.restart_child(&myself, timer).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some((actor, exit)) = classify(&event) else {
            return Ok(());
        };
        // Unknown actors are children we stopped ourselves (TerminateChild):
        // their exit is expected.
        match state.by_actor.remove(&actor) {
            Some(id) => state.on_exit(&myself, id, exit).await,
            None => Ok(()),
        }
    }
}

impl DynamicSupervisorState {
    async fn start_child(
        &mut self,
        myself: &ActorRef<DynamicSupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<ActorCell, SupervisorError> {
        if self.children.contains_key(&spec.id) {
            return Err(SupervisorError::AlreadyStarted(spec.id));
        }
        if let Some(max) = self.max_children {
            if self.children.len() >= max {
                return Err(SupervisorError::MaxChildren(max));
            }
        }
        let cell = (spec.spawn)(myself.get_cell())
            .await
            .map_err(|err| SupervisorError::Spawn(format!("{}: {err}", spec.id)))?;
        self.next_seq += 1;
        self.by_actor.insert(cell.get_id(), spec.id.clone());
        self.children.insert(
            spec.id.clone(),
            DynamicChild {
                spec,
                cell: Some(cell.clone()),
                restarts: 0,
                started_at: SystemTime::now(),
                backoff: Backoff::default(),
                seq: 0,
                order: self.next_seq,
            },
        );
        Ok(cell)
    }

    /// Forgets the child at once (so its exit is not a restart and its id is
    /// free) and waits for it to stop off the mailbox, so stopping a slow child
    /// does not hold up the other 100k.
    fn terminate_child(&mut self, id: &str, reply: RpcReplyPort<bool>) {
        let Some(child) = self.children.remove(id) else {
            let _ = reply.send(false);
            return;
        };
        debug!(supervisor = %self.name, child = %id, "child_terminate");
        match child.cell {
            Some(cell) => {
                self.by_actor.remove(&cell.get_id());
                let timeout = shutdown_timeout(child.spec.kind);
                tokio::spawn(async move {
                    shutdown_child(&cell, timeout).await;
                    let _ = reply.send(true);
                });
            }
            None => {
                let _ = reply.send(true);
            }
        }
    }

    fn which_children(&self, prefix: &str) -> Vec<ChildInfo> {
        let mut running: Vec<(u64, ChildInfo)> = self
            .children
            .values()
            .filter(|c| c.spec.id.starts_with(prefix))
            .filter_map(|c| {
                c.cell.as_ref().map(|cell| {
                    let info = ChildInfo {
                        id: c.spec.id.clone(),
                        kind: c.spec.kind,
                        cell: cell.clone(),
                        restarts: c.restarts,
                        started_at: c.started_at,
                    };
                    (c.order, info)
                })
            })
            .collect();
        running.sort_unstable_by_key(|(order, _)| *order);
        running.into_iter().map(|(_, info)| info).collect()
    }

    async fn on_exit(
        &mut self,
        myself: &ActorRef<DynamicSupervisorMsg>,
        id: String,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        let Some(child) = self.children.get_mut(&id) else {
            return Ok(());
        };
        child.cell = None;
        if !should_restart(child.spec.restart, &exit) {
            // Connections and sessions end all the time: only abnormal ends are news.
            if exit.is_abnormal() {
                warn!(supervisor = %self.name, child = %id, %exit, "child_exited");
            } else {
                debug!(supervisor = %self.name, child = %id, %exit, "child_exited");
            }
            self.children.remove(&id);
            return Ok(());
        }
        if exit.is_abnormal() {
            warn!(supervisor = %self.name, child = %id, %exit, "child_terminated");
        } else {
            info!(supervisor = %self.name, child = %id, %exit, "child_terminated");
        }
        if !self.log.add(Instant::now()) {
            return Err(self.give_up(&id).await);
        }
        let period = self.log.intensity().period;
        self.next_seq += 1;
        let seq = self.next_seq;
        child.seq = seq;
        let delay = child.backoff.next_delay(Instant::now(), period);
        let timer = RestartTimer { id, seq };
        if delay.is_zero() {
            self.restart_child(myself, timer).await
        } else {
            myself.send_after(delay, move || DynamicSupervisorMsg::Restart(timer));
            Ok(())
        }
    }

    async fn restart_child(
        &mut self,
        myself: &ActorRef<DynamicSupervisorMsg>,
        timer: RestartTimer,
    ) -> Result<(), ActorProcessingErr> {
        // A child terminated (or replaced under the same id) since the timer
        // was set is not restarted.
        let spawn = match self.children.get(&timer.id) {
            Some(c) if c.cell.is_none() && c.seq == timer.seq => c.spec.spawn.clone(),
            _ => return Ok(()),
        };
        let result = spawn(myself.get_cell()).await;
        let period = self.log.intensity().period;
        let Some(child) = self.children.get_mut(&timer.id) else {
            return Ok(());
        };
        match result {
            Ok(cell) => {
                self.by_actor.insert(cell.get_id(), timer.id.clone());
                child.cell = Some(cell);
                child.restarts += 1;
                child.started_at = SystemTime::now();
                info!(supervisor = %self.name, child = %timer.id, restarts = child.restarts, "child_restarted");
                Ok(())
            }
            Err(err) => {
                warn!(supervisor = %self.name, child = %timer.id, %err, "child_restart_failed");
                if !self.log.add(Instant::now()) {
                    return Err(self.give_up(&timer.id).await);
                }
                // Retried through the mailbox so a child that cannot start does
                // not spin the supervisor.
                self.next_seq += 1;
                let seq = self.next_seq;
                child.seq = seq;
                let delay = child
                    .backoff
                    .next_delay(Instant::now(), period)
                    .max(BACKOFF_BASE);
                let timer = RestartTimer { id: timer.id, seq };
                myself.send_after(delay, move || DynamicSupervisorMsg::Restart(timer));
                Ok(())
            }
        }
    }

    /// Too many restarts: stop everything and fail, so the parent decides.
    async fn give_up(&mut self, id: &str) -> ActorProcessingErr {
        let intensity = self.log.intensity();
        let err = intensity_exceeded(&self.name, id, intensity);
        self.shutdown_children().await;
        err
    }

    /// Stops all running children at once; no order is owed among them.
    async fn shutdown_children(&mut self) {
        self.by_actor.clear();
        let cells = self
            .children
            .drain()
            .filter_map(|(_, c)| c.cell.map(|cell| (cell, shutdown_timeout(c.spec.kind))))
            .collect();
        shutdown_all(cells).await;
    }
}
