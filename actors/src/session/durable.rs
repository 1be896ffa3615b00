//! Durable sessions (`durable_sessions.enable`): a session with a non-zero
//! expiry writes what changed in it to the broker's [`SessionStore`] whenever
//! it changes: its record ([`SessionRecord::meta`]: subscriptions, inbound
//! QoS 2 ids awaiting PUBREL, will, expiry, when it was detached) when that
//! changed, and an entry per message it holds (queue and inflight window),
//! the message itself stored once in the store's shared log however many
//! sessions hold it (see [`super::durable_entries`]). The store
//! group-commits these writes, each batch synced once.
//!
//! At start-up ([`crate::durable`]) the sessions come back through
//! [`restored`], their times moved on by the wall-clock time that passed.

use super::data::{SessionData, SessionRecord};
use super::durable_entries::Mirror;
use super::live::LiveSession;
use super::queue::InflightEntry;
use super::SessionHandle;
use crate::context::BrokerContext;
use parking_lot::Mutex;
use roost_core::storage::{unix_ms, Done, SessionChanges, StoredSession};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

impl SessionHandle {
    /// Writes what changed in the session to the durable store, if there is
    /// one: while it has a non-zero expiry and has not ended, its record (if
    /// changed) and its entries put and removed; its removal otherwise (if
    /// it was stored). Called with the state lock held (`d`), so the store
    /// receives a session's changes in the order they were made. `done` is
    /// called once the write is durable (once what came before is, if
    /// nothing changed).
    pub(crate) fn persist(&self, ctx: &BrokerContext, d: &LiveSession, done: Option<Done>) {
        let Some(store) = &ctx.session_store else {
            if let Some(done) = done {
                done(Ok(()));
            }
            return;
        };
        let mut mirror = self.mirror.lock();
        if self.is_closed() || d.data.expiry == 0 {
            if self.stored.swap(false, Ordering::Relaxed) {
                store.delete(&self.client_id, mirror.take_all(), done);
            } else if let Some(done) = done {
                done(Ok(()));
            }
            return;
        }
        let now_ms = unix_ms();
        let mut changes = SessionChanges::default();
        if let Some(record) = mirror.record_change(&d.data, Instant::now(), now_ms) {
            match postcard::to_stdvec(&record) {
                Ok(record) => changes.record = Some((now_ms, record)),
                Err(error) => {
                    tracing::warn!(client_id = %self.client_id, %error, "session_not_stored")
                }
            }
        }
        let slots = mirror.diff(&d.data, &mut changes);
        self.stored.store(true, Ordering::Relaxed);
        let ids = store.write(&self.client_id, changes, done);
        mirror.assign(slots, ids);
    }
}

impl SessionHandle {
    /// The bound connection accepted an inbound QoS 2 PUBLISH (`waiting`) or
    /// released its packet id (PUBREL, or an error PUBREC): a durable session
    /// stores its ids awaiting PUBREL, so that after a crash a resent PUBLISH
    /// is not delivered twice and a PUBREL is answered [MQTT-4.3.3-*]. Inside
    /// [`gated`], the acknowledgement (PUBREC, PUBCOMP) waits for the write.
    pub(crate) fn note_awaiting_rel(&self, ctx: &BrokerContext, packet_id: u16, waiting: bool) {
        if ctx.session_store.is_none() {
            return;
        }
        let mut d = self.live.lock();
        if d.data.expiry == 0 || self.is_closed() {
            return;
        }
        let ids = &mut d.data.awaiting_rel;
        if waiting {
            if ids.contains(&packet_id) {
                return;
            }
            ids.push(packet_id);
        } else {
            let before = ids.len();
            ids.retain(|&id| id != packet_id);
            if ids.len() == before {
                return;
            }
        }
        let done = join_gate().map(|g| {
            Box::new(move |_: Result<(), roost_core::storage::StorageError>| g.release()) as Done
        });
        self.persist(ctx, &d, done);
    }
}

/// A stored session as it comes back at start-up.
pub struct Restored {
    pub data: SessionData,
    /// What it has in the store (its handle keeps it).
    pub mirror: Mirror,
    /// Milliseconds since its connection went away (counted from the restart
    /// if it was connected when the broker stopped: that connection ended
    /// with the broker).
    pub detached_ms: u64,
    /// Its expiry ran out while the broker was down: it is over (its will, if
    /// any, is due).
    pub expired: bool,
}

/// Decodes a stored session and its entries, its times moved on by the
/// wall-clock time since its record was made (`now_ms`, ms since the Unix
/// epoch; the store counted down its messages' expiry).
pub fn restored(stored: &StoredSession, now_ms: u64) -> Result<Restored, String> {
    let mut record: SessionRecord =
        postcard::from_bytes(&stored.record).map_err(|e| e.to_string())?;
    let elapsed = now_ms.saturating_sub(stored.made_at_ms);
    let detached_ms = record
        .detached_ms_ago
        .map_or(0, |ms| ms.saturating_add(elapsed));
    record.detached_ms_ago = Some(detached_ms);
    // A record of before the shared log held its messages itself.
    for e in &mut record.inflight {
        e.sent_ms_ago = e.sent_ms_ago.saturating_add(elapsed);
        age(&mut e.delivery.message.expires_in_ms, elapsed);
    }
    for d in &mut record.mqueue {
        age(&mut d.message.expires_in_ms, elapsed);
    }
    let expired =
        record.expiry != u32::MAX && detached_ms >= u64::from(record.expiry).saturating_mul(1000);
    let now = Instant::now();
    let mut data = record.into_data(now).map_err(|e| e.to_string())?;
    let (mirror, deliveries) = Mirror::restored(&stored.entries);
    for (delivery, inflight) in deliveries {
        match inflight {
            Some((packet_id, state)) => data.inflight.push(InflightEntry {
                packet_id,
                delivery,
                state,
                sent_at: now,
            }),
            None => {
                data.mqueue.push(delivery);
            }
        }
    }
    if data.next_packet_id == 0 {
        // The id after the last one in flight (ids in flight are skipped).
        data.next_packet_id = data
            .inflight
            .iter()
            .last()
            .map_or(1, |e| e.packet_id.checked_add(1).unwrap_or(1));
    }
    Ok(Restored {
        data,
        mirror,
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
