//! Live counters of a run, and the progress line that shows them.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters updated by every client task, read by the progress line and by the
/// caller (the comparison waits on `connected` before sampling broker memory).
#[derive(Debug, Default)]
pub struct Progress {
    /// Connections that got a successful CONNACK (and SUBACK for subscribers).
    pub connected: AtomicU64,
    /// Connections that failed to connect, be accepted or subscribe.
    pub connect_failed: AtomicU64,
    /// Connections the broker closed or broke after they were established.
    pub dropped: AtomicU64,
    /// PUBLISHes written.
    pub sent: AtomicU64,
    /// QoS 1/2 PUBLISHes acknowledged (PUBACK / PUBCOMP).
    pub acked: AtomicU64,
    /// PUBLISHes received by subscribers (duplicates included).
    pub received: AtomicU64,
}

impl Progress {
    /// Connections that finished their attempt, either way.
    pub fn attempted(&self) -> u64 {
        self.connected.load(Relaxed) + self.connect_failed.load(Relaxed)
    }
}

/// Draws the counters on stderr every 250 ms until dropped. Hidden when stderr is
/// not a terminal or when `quiet`.
pub(crate) struct ProgressLine {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressLine {
    pub(crate) fn start(progress: Arc<Progress>, label: &str, quiet: bool) -> ProgressLine {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_string());
        let task = if bar.is_hidden() {
            None
        } else {
            let bar = bar.clone();
            Some(tokio::spawn(async move {
                let start = Instant::now();
                let (mut last_sent, mut last_recv, mut last_t) = (0u64, 0u64, start);
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let now = Instant::now();
                    let dt = now.duration_since(last_t).as_secs_f64().max(1e-3);
                    let sent = progress.sent.load(Relaxed);
                    let recv = progress.received.load(Relaxed);
                    bar.set_message(format!(
                        "conn {} fail {} | sent {} ({:.0}/s) recv {} ({:.0}/s)",
                        progress.connected.load(Relaxed),
                        progress.connect_failed.load(Relaxed),
                        sent,
                        (sent - last_sent) as f64 / dt,
                        recv,
                        (recv - last_recv) as f64 / dt,
                    ));
                    bar.tick();
                    (last_sent, last_recv, last_t) = (sent, recv, now);
                }
            }))
        };
        ProgressLine { bar, task }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
