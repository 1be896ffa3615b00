//! Durable sessions (`durable_sessions.enable`): a session with a non-zero
//! expiry is written to the broker's [`SessionStore`] whenever it changes, as
//! its [`SessionRecord`] (subscriptions, inflight window, queue, inbound QoS 2
//! ids awaiting PUBREL, will, expiry, how long ago it was detached) stamped
//! with the wall-clock time it was made. The store group-commits these
//! writes: a session's successive records still queued are coalesced, and
//! each batch is synced once.
//!
//! At start-up ([`crate::durable`]) the records come back through
//! [`restored`], their times moved on by the wall-clock time that passed.

use super::data::{SessionData, SessionRecord};
use super::live::LiveSession;
use super::SessionHandle;
use crate::context::BrokerContext;
use parking_lot::Mutex;
use roost_core::storage::{unix_ms, Done, StoredSession};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

impl SessionHandle {
    /// Writes the session's state to the durable store, if there is one: its
    /// record while it has a non-zero expiry and has not ended, its removal
    /// otherwise (if it was stored). Called with the state lock held (`d`), so
    /// the store receives a session's records in the order they were made.
    /// `done` is called once the write is durable (at once if nothing is
    /// written).
    pub(crate) fn persist(&self, ctx: &BrokerContext, d: &LiveSession, done: Option<Done>) {
        let Some(store) = &ctx.session_store else {
            if let Some(done) = done {
                done(Ok(()));
            }
            return;
        };
        if self.is_closed() || d.data.expiry == 0 {
            if self.stored.swap(false, Ordering::Relaxed) {
                store.delete(&self.client_id, done);
            } else if let Some(done) = done {
                done(Ok(()));
            }
            return;
        }
        let record = SessionRecord::of(&d.data, Instant::now());
        match postcard::to_stdvec(&record) {
            Ok(record) => {
                self.stored.store(true, Ordering::Relaxed);
                store.save(
                    StoredSession {
                        client_id: self.client_id.to_string(),
                        made_at_ms: unix_ms(),
                        record,
                    },
                    done,
                );
            }
            Err(error) => {
                tracing::warn!(client_id = %self.client_id, %error, "session_not_stored");
                if let Some(done) = done {
                    done(Ok(()));
                }
            }
        }
    }
}

/// A stored session as it comes back at start-up.
pub struct Restored {
    pub data: SessionData,
    /// Milliseconds since its connection went away (counted from the restart
    /// if it was connected when the broker stopped: that connection ended
    /// with the broker).
    pub detached_ms: u64,
    /// Its expiry ran out while the broker was down: it is over (its will, if
    /// any, is due).
    pub expired: bool,
}

/// Decodes a stored session, its times moved on by the wall-clock time since
/// its record was made (`now_ms`, ms since the Unix epoch).
pub fn restored(stored: &StoredSession, now_ms: u64) -> Result<Restored, String> {
    let mut record: SessionRecord =
        postcard::from_bytes(&stored.record).map_err(|e| e.to_string())?;
    let elapsed = now_ms.saturating_sub(stored.made_at_ms);
    let detached_ms = record
        .detached_ms_ago
        .map_or(0, |ms| ms.saturating_add(elapsed));
    record.detached_ms_ago = Some(detached_ms);
    for e in &mut record.inflight {
        e.sent_ms_ago = e.sent_ms_ago.saturating_add(elapsed);
        age(&mut e.delivery.message.expires_in_ms, elapsed);
    }
    for d in &mut record.mqueue {
        age(&mut d.message.expires_in_ms, elapsed);
    }
    let expired =
        record.expiry != u32::MAX && detached_ms >= u64::from(record.expiry).saturating_mul(1000);
    let data = record
        .into_data(Instant::now())
        .map_err(|e| e.to_string())?;
    Ok(Restored {
        data,
        detached_ms,
        expired,
    })
}

/// A message's life left, `elapsed` ms later.
fn age(left: &mut Option<u64>, elapsed: u64) {
    if let Some(ms) = left {
        *ms = ms.saturating_sub(elapsed);
    }
}

/// The acknowledgement of one client PUBLISH that reached durable sessions:
/// its PUBACK (PUBREC) leaves only once every one of them has written the
/// message to the store under the sync policy. Held once by the publisher's
/// connection while it routes, and once per durable session that queued the
/// message; released by each session when the store says its write is
/// durable. The last release calls `on_done` (which tells the connection).
pub struct AckGate {
    pending: AtomicUsize,
    on_done: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl AckGate {
    /// Whether every durable session holding it has released it.
    pub fn is_done(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// Sets what is called once every holder has released the gate.
    pub fn on_done(&self, f: impl FnOnce() + Send + 'static) {
        *self.on_done.lock() = Some(Box::new(f));
    }

    pub fn release(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(f) = self.on_done.lock().take() {
                f();
            }
        }
    }
}

impl std::fmt::Debug for AckGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AckGate({})", self.pending.load(Ordering::Relaxed))
    }
}

thread_local! {
    /// Set while a connection routes a QoS 1/2 PUBLISH it must acknowledge.
    static GATING: Cell<bool> = const { Cell::new(false) };
    /// The gate of that PUBLISH, made when the first durable session takes it.
    static GATE: RefCell<Option<Arc<AckGate>>> = const { RefCell::new(None) };
}

/// Runs `route` (which delivers in this thread, without awaiting) and
/// returns the gate the durable sessions it reached took, if any: `None`
/// means the acknowledgement need not wait. The gate is still held once by
/// the caller, who sets its `on_done` and then releases it.
pub fn gated<R>(route: impl FnOnce() -> R) -> (R, Option<Arc<AckGate>>) {
    GATING.set(true);
    let r = route();
    GATING.set(false);
    (r, GATE.take())
}

/// For a durable session taking a QoS 1/2 delivery: the gate of the PUBLISH
/// being routed in this thread (one more holder), if its acknowledgement is
/// gated.
pub(crate) fn join_gate() -> Option<Arc<AckGate>> {
    if !GATING.get() {
        return None;
    }
    GATE.with(|g| {
        let mut g = g.borrow_mut();
        let gate = g.get_or_insert_with(|| {
            Arc::new(AckGate {
                // The router's hold, released by the connection.
                pending: AtomicUsize::new(1),
                on_done: Mutex::new(None),
            })
        });
        gate.pending.fetch_add(1, Ordering::AcqRel);
        Some(gate.clone())
    })
}
