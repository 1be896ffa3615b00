//! Backpressure on the publishing side: a PUBLISH that met congested
//! sessions (local ones at their high watermark, or a peer node out of
//! credit) pauses this connection's reading until they drain or
//! `mqtt.backpressure_timeout` passes.

use super::{ConnMsg, ConnState};
use std::sync::Arc;

impl ConnState {
    /// Whether the next packet must wait (for congested sessions to drain)
    /// or not be handled at all (closing).
    pub(super) fn held(&self) -> bool {
        self.paused || self.closing
    }

    /// After a PUBLISH met congested sessions: registers with them to be woken
    /// when they drain and arms the pause's timeout. If they all drained in the
    /// meantime, the held packets are handled at once (which may pause again).
    pub(super) async fn wait_for_congested(&mut self) {
        while !self.congested.is_empty() {
            if !self.paused || self.closing {
                // Closing, or met while a timed-out pause was waived.
                self.congested.clear();
                return;
            }
            let mut waiting = false;
            let me: Arc<dyn crate::router::Waiter> = self.handle.clone();
            for s in self.congested.drain(..) {
                waiting |= s.wait_for_drain(&me);
            }
            if waiting {
                self.pause_epoch = self.pause_epoch.wrapping_add(1);
                let epoch = self.pause_epoch;
                self.ctx.metrics.publishers_paused.inc();
                let handle = self.handle.clone();
                let timeout = self.ctx.mqtt.backpressure_timeout;
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    handle.cast_if_awake(ConnMsg::PauseTimeout(epoch));
                });
                return;
            }
            self.paused = false;
            self.process_pending().await;
        }
    }
}
