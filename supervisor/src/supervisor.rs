//! A static supervisor: a fixed list of children started in order, restarted
//! one_for_one, one_for_all or rest_for_one.

use crate::restart::{
    classify, intensity_exceeded, should_restart, shutdown_child, shutdown_timeout, Backoff, Exit,
    RestartLog, BACKOFF_BASE,
};
use crate::SupervisorError;
use crate::{call_result, ChildInfo, ChildSpec, Intensity, Restart, RestartTimer, Strategy};
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use std::time::SystemTime;
use tokio::time::Instant;
use tracing::{error, info, warn};

/// The OTP supervisor for a fixed set of children (the broker's top levels:
/// store, router, registry, listeners...), so a crash restarts what it must and
/// repeated crashes escalate instead of looping.
pub struct Supervisor;

/// What a [`Supervisor`] starts with.
pub struct SupervisorArgs {
    /// Which siblings are restarted with a terminated child.
    pub strategy: Strategy,
    /// How many restarts are tolerated before the supervisor gives up and fails.
    pub intensity: Intensity,
    /// Started in order at start-up; a child that fails to start fails the supervisor.
    pub children: Vec<ChildSpec>,
}

/// Requests a [`Supervisor`] serves.
pub enum SupervisorMsg {
    /// The running children, in start order.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// A restart the supervisor scheduled for itself after a backoff delay.
    Restart(RestartTimer),
}
ractor_message!(SupervisorMsg);

/// The [`Supervisor`]'s bookkeeping; public only because it is the actor's state type.
pub struct SupervisorState {
    name: String,
    strategy: Strategy,
    log: RestartLog,
    /// In start order. Few children, so lookups scan the list.
    children: Vec<StaticChild>,
    next_seq: u64,
}

struct StaticChild {
    spec: ChildSpec,
    /// `None` while the child is not running (awaiting restart, or a transient
    /// child that finished normally).
    cell: Option<ActorCell>,
    /// Due to be restarted (by its own failure or by its strategy).
    pending: bool,
    restarts: u32,
    started_at: SystemTime,
    backoff: Backoff,
    /// Identifies the latest scheduled restart, so a stale timer does nothing.
    seq: u64,
}

impl Supervisor {
    /// The running children of `sup`, in start order (for the actor tree and tests).
    pub async fn which_children(
        sup: &ActorRef<SupervisorMsg>,
    ) -> Result<Vec<ChildInfo>, SupervisorError> {
        call_result(sup.call(SupervisorMsg::WhichChildren, None).await)
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = SupervisorState {
            name: myself
                .get_name()
                .unwrap_or_else(|| myself.get_id().to_string()),
            strategy: args.strategy,
            log: RestartLog::new(args.intensity),
            children: Vec::with_capacity(args.children.len()),
            next_seq: 0,
        };
        for spec in args.children {
            if state.children.iter().any(|c| c.spec.id == spec.id) {
                state.shutdown_children().await;
                return Err(SupervisorError::AlreadyStarted(spec.id).into());
            }
            match (spec.spawn)(myself.get_cell()).await {
                Ok(cell) => state.children.push(StaticChild {
                    spec,
                    cell: Some(cell),
                    pending: false,
                    restarts: 0,
                    started_at: SystemTime::now(),
                    backoff: Backoff::default(),
                    seq: 0,
                }),
                Err(err) => {
                    error!(supervisor = %state.name, child = %spec.id, %err, "child_start_failed");
                    state.shutdown_children().await;
                    return Err(SupervisorError::Spawn(format!("{}: {err}", spec.id)).into());
                }
            }
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // ractor would kill linked children once we are gone (no post_stop for
        // them); stopping them first, in reverse start order, lets them clean up.
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
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children());
            }
            SupervisorMsg::Restart(timer) => state.restart_pending(&myself, timer).await?,
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
        // Unknown ids are children we stopped ourselves (strategy or shutdown):
        // their exit is expected and must not trigger another restart.
        match state.position_of(actor) {
            Some(pos) => state.on_exit(&myself, pos, exit).await,
            None => Ok(()),
        }
    }
}

impl SupervisorState {
    fn position_of(&self, actor: ActorId) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|cell| cell.get_id() == actor))
    }

    fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .filter_map(|c| {
                c.cell.as_ref().map(|cell| ChildInfo {
                    id: c.spec.id.clone(),
                    kind: c.spec.kind,
                    cell: cell.clone(),
                    restarts: c.restarts,
                    started_at: c.started_at,
                })
            })
            .collect()
    }

    async fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        pos: usize,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        let child = &mut self.children[pos];
        child.cell = None;
        let id = child.spec.id.clone();
        if !should_restart(child.spec.restart, &exit) {
            info!(supervisor = %self.name, child = %id, %exit, "child_exited");
            if child.spec.restart == Restart::Temporary {
                self.children.remove(pos);
            }
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

        let group: Vec<usize> = match self.strategy {
            Strategy::OneForOne => vec![pos],
            Strategy::OneForAll => (0..self.children.len()).collect(),
            Strategy::RestForOne => (pos..self.children.len()).collect(),
        };
        for &i in group.iter().rev() {
            let sibling = &mut self.children[i];
            sibling.pending = true;
            if let Some(cell) = sibling.cell.take() {
                shutdown_child(&cell, shutdown_timeout(sibling.spec.kind)).await;
            }
        }
        // Temporary siblings stopped by the strategy are not restarted (OTP).
        self.children
            .retain(|c| c.spec.restart != Restart::Temporary || c.cell.is_some());
        self.schedule(myself, &id).await
    }

    /// Restarts the child `id` (and, for the group strategies, every child
    /// awaiting restart) now or after its backoff delay.
    async fn schedule(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        id: &str,
    ) -> Result<(), ActorProcessingErr> {
        let period = self.log.intensity().period;
        self.next_seq += 1;
        let seq = self.next_seq;
        let Some(child) = self.children.iter_mut().find(|c| c.spec.id == id) else {
            return Ok(());
        };
        child.seq = seq;
        let delay = child.backoff.next_delay(Instant::now(), period);
        let timer = RestartTimer {
            id: id.to_string(),
            seq,
        };
        if delay.is_zero() {
            self.restart_pending(myself, timer).await
        } else {
            myself.send_after(delay, move || SupervisorMsg::Restart(timer));
            Ok(())
        }
    }

    async fn restart_pending(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        timer: RestartTimer,
    ) -> Result<(), ActorProcessingErr> {
        let targets: Vec<usize> = match self.strategy {
            Strategy::OneForOne => self
                .children
                .iter()
                .position(|c| c.spec.id == timer.id && c.pending && c.seq == timer.seq)
                .into_iter()
                .collect(),
            // A group is restarted in start order, whichever timer fires first.
            Strategy::OneForAll | Strategy::RestForOne => (0..self.children.len())
                .filter(|&i| self.children[i].pending)
                .collect(),
        };
        for pos in targets {
            let spawn = self.children[pos].spec.spawn.clone();
            match spawn(myself.get_cell()).await {
                Ok(cell) => {
                    let child = &mut self.children[pos];
                    child.cell = Some(cell);
                    child.pending = false;
                    child.restarts += 1;
                    child.started_at = SystemTime::now();
                    info!(supervisor = %self.name, child = %child.spec.id, restarts = child.restarts, "child_restarted");
                }
                Err(err) => {
                    let id = self.children[pos].spec.id.clone();
                    warn!(supervisor = %self.name, child = %id, %err, "child_restart_failed");
                    if !self.log.add(Instant::now()) {
                        return Err(self.give_up(&id).await);
                    }
                    self.retry_later(myself, pos);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Schedules another attempt after a failed restart, always through the
    /// mailbox so a child that cannot start does not spin the supervisor.
    fn retry_later(&mut self, myself: &ActorRef<SupervisorMsg>, pos: usize) {
        let period = self.log.intensity().period;
        self.next_seq += 1;
        let seq = self.next_seq;
        let child = &mut self.children[pos];
        child.seq = seq;
        let delay = child
            .backoff
            .next_delay(Instant::now(), period)
            .max(BACKOFF_BASE);
        let timer = RestartTimer {
            id: child.spec.id.clone(),
            seq,
        };
        myself.send_after(delay, move || SupervisorMsg::Restart(timer));
    }

    /// Too many restarts: stop everything and fail, so the parent decides.
    async fn give_up(&mut self, id: &str) -> ActorProcessingErr {
        let intensity = self.log.intensity();
        let err = intensity_exceeded(&self.name, id, intensity);
        self.shutdown_children().await;
        err
    }

    /// Stops the running children in reverse start order (OTP's shutdown order).
    async fn shutdown_children(&mut self) {
        for child in self.children.iter_mut().rev() {
            child.pending = false;
            if let Some(cell) = child.cell.take() {
                shutdown_child(&cell, shutdown_timeout(child.spec.kind)).await;
            }
        }
    }
}
