//! Running a rule on an event ([`run`]: the columns, the SQL, the actions),
//! and the rule workers: `rules.worker_pool_size` tokio tasks, each behind a
//! bounded queue of `rules.max_queue_len` jobs. Message rules run where the
//! message is published (the hook calls [`run`]); the workers take the
//! `$events/...` rules' events, and the messages a rule's own republish
//! raises beyond the nesting depth the hook allows (a republish loop
//! between rules then goes through the queues, with counted drops, rather
//! than an endless recursion).
//!
//! The workers belong to the actor `roost/rules` under the root supervisor:
//! it starts them (with fresh queues) in `pre_start`, so a restart of the
//! actor gives new workers, and stopping it (or killing it) ends them.

use super::actions;
use super::events::{columns, Timed};
use super::registry::Rule;
use super::RuleEngine;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use roost_supervisor::{ChildSpec, Restart};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One rule to run on one event.
pub struct Job {
    pub rule: Arc<Rule>,
    pub event: Arc<Timed>,
}

/// The ractor name of the workers' owner.
pub const RULES_NAME: &str = "roost/rules";

/// How often the match rates are sampled.
const RATE_INTERVAL: Duration = Duration::from_secs(5);

/// Owns the worker tasks.
pub struct RuleWorkers;

/// The tasks, ended when the state is dropped (however the actor ends).
pub struct WorkersState {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for WorkersState {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Actor for RuleWorkers {
    type Msg = ();
    type State = WorkersState;
    type Arguments = Arc<RuleEngine>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        engine: Arc<RuleEngine>,
    ) -> Result<WorkersState, ActorProcessingErr> {
        let mut tasks = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..engine.config.worker_pool_size {
            let (tx, mut rx) = mpsc::channel::<Job>(engine.config.max_queue_len);
            senders.push(tx);
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(job) = rx.recv().await {
                    run(&engine, &job.rule, &job.event);
                }
            }));
        }
        engine.set_senders(senders.into());
        let ticker = engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(RATE_INTERVAL);
            loop {
                every.tick().await;
                ticker.sample_rates(Instant::now());
            }
        }));
        Ok(WorkersState { tasks })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<()>,
        _state: &mut WorkersState,
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// The `rules` child of the root supervisor, permanent.
pub fn child_spec(engine: Arc<RuleEngine>) -> ChildSpec {
    ChildSpec::new(
        "rules",
        "rules",
        Restart::Permanent,
        move |sup: ActorCell| {
            let engine = engine.clone();
            async move {
                Actor::spawn_linked(Some(RULES_NAME.into()), RuleWorkers, engine, sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        },
    )
}

/// Runs one job: the SQL, then every action on every output (EMQX's
/// `emqx_rule_runtime:apply_rule`).
pub fn run(engine: &RuleEngine, rule: &Rule, event: &Timed) {
    let c = &rule.counters;
    let m = &engine.metrics;
    let cols = columns(event, &engine.node());
    let outputs = match rule.sql.run(&cols) {
        Ok(outputs) => outputs,
        Err(e) => {
            c.failed_exception.fetch_add(1, Relaxed);
            m.rules_failed.inc();
            tracing::debug!(rule_id = %rule.id, error = %e, "rule_failed_exception");
            return;
        }
    };
    if outputs.is_empty() {
        c.failed_no_result.fetch_add(1, Relaxed);
        m.rules_failed.inc();
        return;
    }
    c.passed.fetch_add(1, Relaxed);
    m.rules_passed.inc();
    let api = engine.api();
    let n = rule.actions.len();
    for out in outputs {
        let mut out = Some(out);
        for (i, action) in rule.actions.iter().enumerate() {
            let provider = |kind: &str| engine.provider(kind);
            let result = if i + 1 == n {
                let out = out.take().expect("the last action takes it");
                actions::run_last(action, &rule.id, out, &cols, api.as_ref(), provider)
            } else {
                let out = out.as_ref().expect("kept for the last action");
                actions::run(action, &rule.id, out, &cols, api.as_ref(), provider)
            };
            match result {
                Ok(()) => {
                    c.actions_success.fetch_add(1, Relaxed);
                    m.rules_actions_success.inc();
                }
                Err(why) => {
                    c.actions_failed.fetch_add(1, Relaxed);
                    m.rules_actions_failed.inc();
                    tracing::warn!(rule_id = %rule.id, error = %why, "rule_action_failed");
                }
            }
        }
    }
}
