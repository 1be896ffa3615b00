//! The mechanics both supervisors share: how a child's exit is classified, the
//! restart-intensity window, the per-child restart backoff and how children are
//! shut down.

use crate::{Intensity, Restart};
use ractor::{ActorCell, ActorId, SupervisionEvent};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// How long a worker gets to stop gracefully (run its `post_stop`) before it is
/// killed, like OTP's default `shutdown => 5000` for workers.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a child supervisor gets to stop its own children before it is
/// killed. OTP waits forever (`infinity`); a bound keeps a wedged subtree from
/// hanging the broker's shutdown.
pub(crate) const SUPERVISOR_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The graceful-stop budget of a child of this kind.
pub(crate) fn shutdown_timeout(kind: &str) -> Duration {
    if kind == crate::SUPERVISOR_KIND || kind == crate::DYNAMIC_SUPERVISOR_KIND {
        SUPERVISOR_SHUTDOWN_TIMEOUT
    } else {
        SHUTDOWN_TIMEOUT
    }
}

/// The exit reason given to children the supervisor stops itself, OTP's `shutdown`.
pub(crate) const SHUTDOWN_REASON: &str = "shutdown";

/// First non-zero restart delay of a child that keeps failing.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(10);

/// Upper bound of the restart delay, so a flapping child is retried at least once a second.
const BACKOFF_CAP: Duration = Duration::from_secs(1);

/// Why a child stopped, in OTP terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Stopped gracefully (`stop(reason)`), OTP's `normal` / `shutdown`.
    Normal(Option<String>),
    /// Panicked, returned an error, or was killed: OTP's abnormal exits.
    Abnormal(String),
}

impl Exit {
    pub(crate) fn is_abnormal(&self) -> bool {
        matches!(self, Exit::Abnormal(_))
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Normal(None) => write!(f, "normal"),
            Exit::Normal(Some(reason)) => write!(f, "normal ({reason})"),
            Exit::Abnormal(reason) => write!(f, "{reason}"),
        }
    }
}

/// Turns a supervision event into "which actor exited and how", or `None` for
/// events that are not exits (`ActorStarted`, process groups).
///
/// ractor 0.16 reports `kill()` as `ActorTerminated(cell, _, Some("killed"))` (the
/// `Display` of `Signal::Kill`), and an actor task dropped by the runtime as
/// `ActorTerminated(cell, None, Some("actor_task_cancelled"))`. Both are
/// classified abnormal, as OTP treats `exit(Pid, kill)`; every other
/// `ActorTerminated` is a graceful stop and therefore normal, whatever its reason.
pub(crate) fn classify(event: &SupervisionEvent) -> Option<(ActorId, Exit)> {
    match event {
        SupervisionEvent::ActorTerminated(cell, _, reason) => {
            let exit = match reason.as_deref() {
                Some(r @ ("killed" | "actor_task_cancelled")) => Exit::Abnormal(r.to_string()),
                _ => Exit::Normal(reason.clone()),
            };
            Some((cell.get_id(), exit))
        }
        SupervisionEvent::ActorFailed(cell, err) => {
            Some((cell.get_id(), Exit::Abnormal(err.to_string())))
        }
        _ => None,
    }
}

/// OTP's restart decision for one child.
pub(crate) fn should_restart(restart: Restart, exit: &Exit) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => exit.is_abnormal(),
        Restart::Temporary => false,
    }
}

/// The restart timestamps inside the intensity period: more than `max_restarts`
/// of them means the supervisor gives up.
#[derive(Debug)]
pub(crate) struct RestartLog {
    intensity: Intensity,
    times: VecDeque<Instant>,
}

impl RestartLog {
    pub(crate) fn new(intensity: Intensity) -> Self {
        RestartLog {
            intensity,
            times: VecDeque::new(),
        }
    }

    /// Records one restart (or failed restart attempt); `false` when this restart
    /// exceeds the intensity and the supervisor must give up.
    pub(crate) fn add(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.times.front() {
            if now.duration_since(oldest) >= self.intensity.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() <= self.intensity.max_restarts as usize
    }

    pub(crate) fn intensity(&self) -> Intensity {
        self.intensity
    }
}

/// The restart delay of one child: none for a child whose last restart is older
/// than the intensity period, then 10 ms doubling up to 1 s for a child that
/// keeps failing within it. The delay is a message the supervisor sends itself,
/// so its mailbox keeps flowing meanwhile.
#[derive(Debug, Default, Clone)]
pub(crate) struct Backoff {
    step: u32,
    last: Option<Instant>,
}

impl Backoff {
    pub(crate) fn next_delay(&mut self, now: Instant, period: Duration) -> Duration {
        let recent = self
            .last
            .is_some_and(|last| now.duration_since(last) < period);
        self.step = if recent {
            self.step.saturating_add(1)
        } else {
            0
        };
        self.last = Some(now);
        match self.step {
            0 => Duration::ZERO,
            n => BACKOFF_BASE
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(BACKOFF_CAP),
        }
    }
}

/// Stops one child gracefully and waits for it, killing it if it has not
/// stopped within `timeout` (OTP's `shutdown` then `kill`).
/// Logs that a supervisor gives up (restart intensity exceeded) and builds the
/// error it fails with, so its own supervisor sees the escalation.
pub(crate) fn intensity_exceeded(
    supervisor: &str,
    child: &str,
    intensity: Intensity,
) -> ractor::ActorProcessingErr {
    tracing::error!(
        supervisor = %supervisor,
        child = %child,
        max_restarts = intensity.max_restarts,
        period_ms = intensity.period.as_millis() as u64,
        "supervisor_intensity_exceeded"
    );
    format!(
        "supervisor {supervisor}: more than {} restarts in {:?} (last: {child})",
        intensity.max_restarts, intensity.period
    )
    .into()
}

pub(crate) async fn shutdown_child(cell: &ActorCell, timeout: Duration) {
    let stopped = cell
        .stop_and_wait(Some(SHUTDOWN_REASON.to_string()), Some(timeout))
        .await;
    if stopped.is_err() {
        let _ = cell.kill_and_wait(Some(SHUTDOWN_TIMEOUT)).await;
    }
}

/// Stops many children at once and waits for all of them, killing each one
/// still running after its own timeout; used where no order is owed (dynamic
/// supervisors, like OTP's simple_one_for_one), so 100k children do not stop
/// one after another and the whole takes at most the longest timeout (plus the
/// kills).
pub(crate) async fn shutdown_all(children: Vec<(ActorCell, Duration)>) {
    for (cell, _) in &children {
        cell.stop(Some(SHUTDOWN_REASON.to_string()));
    }
    let start = Instant::now();
    let mut killed = Vec::new();
    for (cell, timeout) in children {
        let left = (start + timeout).saturating_duration_since(Instant::now());
        if cell.wait(Some(left)).await.is_err() {
            cell.kill();
            killed.push(cell);
        }
    }
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    for cell in killed {
        let _ = cell
            .wait(Some(deadline.saturating_duration_since(Instant::now())))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_allows_max_restarts_within_period() {
        let mut log = RestartLog::new(Intensity {
            max_restarts: 2,
            period: Duration::from_secs(5),
        });
        let t0 = Instant::now();
        assert!(log.add(t0));
        assert!(log.add(t0 + Duration::from_secs(1)));
        assert!(!log.add(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn intensity_forgets_restarts_older_than_period() {
        let mut log = RestartLog::new(Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        });
        let t0 = Instant::now();
        assert!(log.add(t0));
        assert!(log.add(t0 + Duration::from_secs(6)));
        assert!(!log.add(t0 + Duration::from_secs(7)));
    }

    #[test]
    fn zero_intensity_never_restarts() {
        let mut log = RestartLog::new(Intensity {
            max_restarts: 0,
            period: Duration::from_secs(5),
        });
        assert!(!log.add(Instant::now()));
    }

    #[test]
    fn backoff_grows_and_is_capped_and_resets() {
        let period = Duration::from_secs(5);
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.next_delay(t0, period), Duration::ZERO);
        assert_eq!(b.next_delay(t0, period), Duration::from_millis(10));
        assert_eq!(b.next_delay(t0, period), Duration::from_millis(20));
        for _ in 0..20 {
            b.next_delay(t0, period);
        }
        assert_eq!(b.next_delay(t0, period), Duration::from_secs(1));
        assert_eq!(
            b.next_delay(t0 + Duration::from_secs(10), period),
            Duration::ZERO
        );
    }

    #[test]
    fn kill_and_failure_are_abnormal_stop_is_normal() {
        assert!(should_restart(
            Restart::Transient,
            &Exit::Abnormal("killed".into())
        ));
        assert!(!should_restart(Restart::Transient, &Exit::Normal(None)));
        assert!(should_restart(Restart::Permanent, &Exit::Normal(None)));
        assert!(!should_restart(
            Restart::Temporary,
            &Exit::Abnormal("panic".into())
        ));
    }
}
