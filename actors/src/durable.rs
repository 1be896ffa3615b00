//! The `storage` actor: restores the durable sessions at start-up and wakes
//! the ones that sleep through a deadline.
//!
//! It starts after the router, the registry and the sessions supervisor and
//! before the listeners (see `broker.rs`), so by the time a client can
//! connect, every stored session is back: asleep (no actor, as a hibernated
//! session), in the session table, and *in the topic index*, so a publish
//! that arrives before its client returns is queued for it (rmqtt's PR #477
//! restored sessions without their routes, and such publishes were
//! acknowledged and dropped). A session whose expiry ran out while the broker
//! was down is dropped, its will published (5.0 §3.1.2.5) once every live
//! session is routable again, and its record deleted.
//!
//! A sleeping session has no timers. Each restored one that has a will or an
//! expiry gets a deadline here (its will delay or expiry, whichever comes
//! first); at that deadline it is woken, and its new actor arms its own timers
//! from the time it was detached (publishing a due will at once).

use crate::connection::ConnContext;
use crate::session::durable::restored;
use crate::session::SessionHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::storage::unix_ms;
use roost_core::Message;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often the deadlines are looked at.
const TICK: Duration = Duration::from_millis(500);

/// The actor.
#[derive(Clone, Copy)]
pub struct Storage;

/// Its arguments: the broker, and whether the sessions were restored already
/// (a restarted actor does not restore twice).
#[derive(Clone)]
pub struct StorageArgs {
    pub ctx: Arc<ConnContext>,
    pub restored: Arc<AtomicBool>,
}

pub enum StorageMsg {
    Tick,
}

ractor_message!(StorageMsg);

pub struct StorageState {
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    sessions: Vec<Weak<SessionHandle>>,
    ctx: Arc<ConnContext>,
    ticks: u64,
}

/// Ticks between two looks at the store's size.
const SIZE_EVERY: u64 = 10;

/// The alarm raised when the store passes 90% of `durable_storage.max_size`
/// (cleared below 80%).
pub const SIZE_ALARM: &str = "storage_size_high";

/// Raises or clears [`SIZE_ALARM`].
fn check_size(ctx: &ConnContext) {
    let Some(status) = &ctx.storage_status else {
        return;
    };
    let info = status.info();
    if info.max_size == 0 {
        return;
    }
    let used = info.disk_size as f64 / info.max_size as f64;
    if used >= 0.9 {
        let details = serde_json::json!({
            "disk_size": info.disk_size,
            "max_size": info.max_size,
            "path": info.path,
        });
        let message = format!(
            "the durable store uses {:.0}% of durable_storage.max_size ({} of {} bytes)",
            used * 100.0,
            info.disk_size,
            info.max_size
        );
        if ctx.alarms.activate(SIZE_ALARM, details, message).is_some() {
            tracing::warn!(
                disk_size = info.disk_size,
                max_size = info.max_size,
                "storage_size_high"
            );
        }
    } else if used < 0.8 {
        ctx.alarms.deactivate(SIZE_ALARM);
    }
}

impl Actor for Storage {
    type Msg = StorageMsg;
    type State = StorageState;
    type Arguments = StorageArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<StorageMsg>,
        args: StorageArgs,
    ) -> Result<StorageState, ActorProcessingErr> {
        let mut st = StorageState {
            deadlines: BinaryHeap::new(),
            sessions: Vec::new(),
            ctx: args.ctx.clone(),
            ticks: 0,
        };
        if args.ctx.session_store.is_some() && !args.restored.swap(true, Ordering::Relaxed) {
            restore(&args.ctx, &mut st);
        }
        myself.send_interval(TICK, || StorageMsg::Tick);
        Ok(st)
    }

    async fn handle(
        &self,
        _myself: ActorRef<StorageMsg>,
        msg: StorageMsg,
        st: &mut StorageState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StorageMsg::Tick => {
                if st.ticks.is_multiple_of(SIZE_EVERY) {
                    check_size(&st.ctx);
                }
                st.ticks += 1;
                let now = Instant::now();
                while let Some(Reverse((at, i))) = st.deadlines.peek().copied() {
                    if at > now {
                        break;
                    }
                    st.deadlines.pop();
                    if let Some(h) = st.sessions[i as usize].upgrade() {
                        // Asleep and unbound: a new actor arms its timers.
                        if h.is_hibernating() && !h.is_closed() {
                            h.wake();
                        }
                    }
                }
                if st.deadlines.is_empty() {
                    st.sessions = Vec::new();
                }
            }
        }
        Ok(())
    }
}

/// Loads every stored session: the live ones go back asleep and routable, the
/// expired ones are dropped with their wills published. Logs what it did.
fn restore(ctx: &Arc<ConnContext>, st: &mut StorageState) {
    let Some(store) = ctx.session_store.clone() else {
        return;
    };
    let started = Instant::now();
    let stored = match store.load_all() {
        Ok(s) => s,
        Err(error) => {
            tracing::error!(%error, "sessions_not_restored");
            return;
        }
    };
    let now_ms = unix_ms();
    let now = Instant::now();
    let (mut live, mut expired_wills, mut expired, mut bad) = (0usize, Vec::new(), 0usize, 0usize);
    let mut subscriptions = 0usize;
    let mut messages = 0usize;
    for s in &stored {
        let r = match restored(s, now_ms) {
            Ok(r) => r,
            Err(error) => {
                tracing::warn!(client_id = %s.client_id, %error, "stored_session_undecodable");
                store.delete(&s.client_id, entry_ids(s), None);
                bad += 1;
                continue;
            }
        };
        let client_id: Arc<str> = s.client_id.as_str().into();
        if r.expired {
            expired += 1;
            if let Some(w) = r.data.will {
                expired_wills.push((client_id.clone(), w));
            }
            store.delete(&s.client_id, entry_ids(s), None);
            continue;
        }
        let deadline = first_deadline(&r.data, r.detached_ms);
        messages += r.data.inflight.len() + r.data.mqueue.len();
        let subs: Vec<_> = r.data.subscriptions.values().cloned().collect();
        let data = r.data.with_mqueue_bytes(ctx.config.mqtt.mqueue_bytes());
        let handle = SessionHandle::new(client_id.clone(), data, ctx.config.mqtt.max_inflight);
        *handle.mirror.lock() = r.mirror;
        for record in &subs {
            let subscriber = handle.subscriber(record);
            ctx.router
                .subscribe(&record.filter, record.group.clone(), subscriber);
            subscriptions += 1;
        }
        handle.restore_asleep(ctx.sessions());
        ctx.sessions.insert(client_id, handle.clone());
        if let Some(ms) = deadline {
            let i = st.sessions.len() as u64;
            st.sessions.push(Arc::downgrade(&handle));
            st.deadlines
                .push(Reverse((now + Duration::from_millis(ms), i)));
        }
        live += 1;
    }
    // Every live session is routable: the wills of the expired ones go out.
    for (client_id, will) in expired_wills {
        let msg = Message::new(
            will.topic.as_str().into(),
            will.payload.clone(),
            will.qos,
            will.retain,
            client_id.clone(),
            &will.properties,
        );
        let n = ctx.publish(Arc::new(msg));
        tracing::info!(%client_id, topic = %will.topic, deliveries = n, "will_published_session_expired");
    }
    tracing::info!(
        sessions = live,
        subscriptions,
        messages,
        expired,
        undecodable = bad,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "sessions_restored"
    );
}

/// A stored session's entries, as its removal names them.
fn entry_ids(s: &roost_core::storage::StoredSession) -> Vec<(u64, u64)> {
    s.entries.iter().map(|e| (e.seq, e.message_id)).collect()
}

/// Milliseconds from now until a restored session must be woken: its will's
/// delay or its expiry, whichever ends first; `None` if neither will.
fn first_deadline(d: &crate::session::data::SessionData, detached_ms: u64) -> Option<u64> {
    let expiry = (d.expiry != u32::MAX).then(|| u64::from(d.expiry) * 1000);
    let will = d
        .will
        .as_deref()
        .map(|w| u64::from(crate::session::data::will_delay(w)) * 1000);
    let at = match (will, expiry) {
        (Some(w), Some(e)) => Some(w.min(e)),
        (w, e) => w.or(e),
    }?;
    Some(at.saturating_sub(detached_ms))
}
