//! `$SYS` topics: the broker's own messages under `$SYS/brokers`, in EMQX's
//! tree. Clients may subscribe to them (with a filter that names `$SYS`
//! explicitly) but may not publish there.
//!
//! ```text
//! $SYS/brokers                                 node names, comma-separated (retained)
//! $SYS/brokers/<node>/version                  (retained)
//! $SYS/brokers/<node>/sysdescr                 (retained)
//! $SYS/brokers/<node>/uptime                   seconds, every sys_heartbeat_interval
//! $SYS/brokers/<node>/datetime                 RFC 3339, every sys_heartbeat_interval
//! $SYS/brokers/<node>/stats/<name>             stats/connections/count..., every sys_msg_interval
//! $SYS/brokers/<node>/metrics/<name>           metrics/messages/received..., every sys_msg_interval
//! $SYS/brokers/<node>/clients/<id>/connected   JSON event (sys_event_messages.client_connected)
//! $SYS/brokers/<node>/clients/<id>/disconnected
//! $SYS/brokers/<node>/clients/<id>/subscribed  (off by default, as EMQX)
//! $SYS/brokers/<node>/clients/<id>/unsubscribed
//! $SYS/brokers/<node>/alarms/activate          JSON alarm, when one is raised
//! $SYS/brokers/<node>/alarms/deactivate        JSON alarm, when one is cleared
//! ```
//!
//! The periodic ones come from the [`SysTopics`] actor, which also runs the
//! alarm checks (`crate::sysmon`); the client events come through the
//! `client.connected` / `client.disconnected` hooks ([`SysEvents`]), so they
//! are published as they happen.

use crate::config::SysEventMessages;
use crate::connection::ConnContext;
use crate::context::BrokerContext;
use crate::protection::PROBE_INTERVAL;
use crate::sysmon::{AlarmChange, Sysmon};
use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::hooks::{DisconnectReason, Hook, HookPoint, HooksBuilder};
use roost_core::{ClientInfo, Message};
use roost_protocol::{Properties, QoS, SubscriptionOptions};
use serde_json::json;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Publishes the periodic `$SYS` messages and runs the alarm checks.
#[derive(Clone, Copy)]
pub struct SysTopics;

/// The timers.
pub enum SysMsg {
    /// `uptime` and `datetime`.
    Heartbeat,
    /// `stats/...` and `metrics/...`.
    Stats,
    /// The connection and queue alarms (`alarm.check_interval`).
    CheckAlarms,
    /// The memory alarms (`sysmon.os.mem_check_interval`).
    CheckMemory,
    /// The scheduler probe's task waited this long to run (`overload_protection`).
    SchedulerDelay(Duration),
}

ractor_message!(SysMsg);

/// What the actor keeps between ticks.
pub struct SysState {
    ctx: Arc<ConnContext>,
    sysmon: Sysmon,
}

impl Actor for SysTopics {
    type Msg = SysMsg;
    type State = SysState;
    type Arguments = Arc<ConnContext>;

    async fn pre_start(
        &self,
        myself: ActorRef<SysMsg>,
        ctx: Arc<ConnContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let sys = &ctx.config.sys_topics;
        if !sys.sys_msg_interval.is_zero() {
            // Constant: retained once so late subscribers see them.
            publish_raw(&ctx, "$SYS/brokers".into(), node_names(&ctx), true);
            publish(&ctx, "version", env!("CARGO_PKG_VERSION").to_string(), true);
            publish(&ctx, "sysdescr", "Roost MQTT broker".to_string(), true);
        }
        let timers: [(std::time::Duration, fn() -> SysMsg); 4] = [
            (sys.sys_heartbeat_interval, || SysMsg::Heartbeat),
            (sys.sys_msg_interval, || SysMsg::Stats),
            (ctx.config.alarm.check_interval, || SysMsg::CheckAlarms),
            (ctx.config.sysmon.os.mem_check_interval, || {
                SysMsg::CheckMemory
            }),
        ];
        for (every, msg) in timers {
            if !every.is_zero() {
                myself.send_interval(every, msg);
            }
        }
        let overload = &ctx.config.overload_protection;
        if overload.enable && !overload.scheduler_delay_watermark.is_zero() {
            start_scheduler_probe(myself.clone());
        }
        let sysmon = Sysmon::new(&ctx);
        Ok(SysState { ctx, sysmon })
    }

    async fn handle(
        &self,
        _myself: ActorRef<SysMsg>,
        msg: SysMsg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let ctx = &st.ctx;
        match msg {
            SysMsg::Heartbeat => {
                publish(
                    ctx,
                    "uptime",
                    ctx.started_at.elapsed().as_secs().to_string(),
                    false,
                );
                publish(ctx, "datetime", rfc3339(SystemTime::now()), false);
            }
            SysMsg::Stats => {
                // The members may have changed.
                publish_raw(ctx, "$SYS/brokers".into(), node_names(ctx), true);
                for (name, value) in crate::stats::collect(ctx).entries() {
                    let path = format!("stats/{}", name.replace('.', "/"));
                    publish(ctx, &path, value.to_string(), false);
                }
                for (name, value) in ctx.metrics.snapshot() {
                    let path = format!("metrics/{}", name.replace('.', "/"));
                    publish(ctx, &path, value.to_string(), false);
                }
            }
            SysMsg::CheckAlarms => {
                let changes = st.sysmon.check_load(ctx);
                for change in changes {
                    alarm_changed(ctx, change);
                }
            }
            SysMsg::CheckMemory => {
                for change in st.sysmon.check_memory(ctx) {
                    alarm_changed(ctx, change);
                }
            }
            SysMsg::SchedulerDelay(late) => {
                for change in st.sysmon.scheduler_probe(ctx, late) {
                    alarm_changed(ctx, change);
                }
            }
        }
        Ok(())
    }
}

/// The scheduler probe of `overload_protection`: a thread of its own that,
/// every [`PROBE_INTERVAL`], spawns a task onto the broker's runtime from
/// outside it and waits until the task runs. A task spawned from outside
/// joins the back of the runtime's shared run queue (where ready tasks go that
/// the workers' own queues cannot hold), so the wait is the run queue's: next
/// to nothing while the workers keep up, growing with the backlog when more
/// work is ready than they can run (or when the process is not given a CPU).
/// Reports each wait to the `$SYS` actor; ends with it (or the runtime).
fn start_scheduler_probe(sys: ActorRef<SysMsg>) {
    let runtime = tokio::runtime::Handle::current();
    let probe = move || loop {
        std::thread::sleep(PROBE_INTERVAL);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let sent = Instant::now();
        runtime.spawn(async move {
            let _ = tx.send(sent.elapsed());
        });
        // Dropped unrun: the runtime is shutting down.
        let Ok(waited) = rx.recv() else { return };
        if sys.cast(SysMsg::SchedulerDelay(waited)).is_err() {
            return;
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("roost-scheduler-probe".into())
        .spawn(probe)
    {
        tracing::error!(error = %e, "scheduler_probe_not_started");
    }
}

/// Publishes an alarm's activation or deactivation and logs it.
fn alarm_changed(ctx: &BrokerContext, (raised, alarm): AlarmChange) {
    let (path, event) = match raised {
        true => ("alarms/activate", "alarm_activated"),
        false => ("alarms/deactivate", "alarm_deactivated"),
    };
    tracing::warn!(name = %alarm.name, message = %alarm.message, event);
    let payload = serde_json::to_string(&alarm).unwrap_or_default();
    publish(ctx, path, payload, false);
}

/// This node and the cluster members that are not down, comma-separated.
fn node_names(ctx: &BrokerContext) -> String {
    let mut names = vec![ctx.config.node.name.clone()];
    if let Some(cluster) = ctx.router.cluster() {
        names.extend(
            cluster
                .status()
                .members
                .into_iter()
                .filter(|m| m.state != "self" && m.state != "down")
                .map(|m| m.node),
        );
    }
    names.join(",")
}

/// RFC 3339 in UTC, to the second.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Milliseconds since the Unix epoch (EMQX's `ts`).
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn publish(ctx: &BrokerContext, path: &str, value: String, retain: bool) {
    let topic = format!("$SYS/brokers/{}/{}", ctx.config.node.name, path);
    publish_raw(ctx, topic, value, retain);
}

fn publish_raw(ctx: &BrokerContext, topic: String, value: String, retain: bool) {
    let msg = Message::new(
        topic.into(),
        Bytes::from(value),
        QoS::AtMostOnce,
        retain,
        "".into(),
        &Properties::default(),
    );
    ctx.publish(Arc::new(msg));
}

/// Publishes the client events of `sys_topics.sys_event_messages` from the
/// hook points, as they happen. Registered by the runtime at start-up; it
/// reaches the broker it publishes through once the broker is built.
pub struct SysEvents {
    broker: OnceLock<Weak<BrokerContext>>,
}

impl SysEvents {
    /// Registers the events `which` turns on (nothing if none is).
    pub fn register(which: &SysEventMessages, hooks: &mut HooksBuilder) -> Arc<SysEvents> {
        let events = Arc::new(SysEvents {
            broker: OnceLock::new(),
        });
        let points = [
            (which.client_connected, HookPoint::ClientConnected),
            (which.client_disconnected, HookPoint::ClientDisconnected),
            (which.client_subscribed, HookPoint::SessionSubscribed),
            (which.client_unsubscribed, HookPoint::SessionUnsubscribed),
        ];
        for (on, point) in points {
            if on {
                // After every other hook: an event tells what has happened.
                hooks.add(point, i32::MIN, events.clone());
            }
        }
        events
    }

    /// The broker to publish through.
    pub fn attach(&self, broker: &Arc<BrokerContext>) {
        let _ = self.broker.set(Arc::downgrade(broker));
    }

    fn publish(&self, client_id: &str, event: &str, payload: serde_json::Value) {
        let Some(ctx) = self.broker.get().and_then(Weak::upgrade) else {
            return;
        };
        publish(
            &ctx,
            &format!("clients/{client_id}/{event}"),
            payload.to_string(),
            false,
        );
    }
}

fn proto(c: &ClientInfo) -> (&'static str, u8) {
    match c.proto_ver {
        roost_protocol::ProtocolVersion::V3_1 => ("MQIsdp", 3),
        roost_protocol::ProtocolVersion::V3_1_1 => ("MQTT", 4),
        roost_protocol::ProtocolVersion::V5 => ("MQTT", 5),
    }
}

impl Hook for SysEvents {
    fn client_connected(&self, c: &Arc<ClientInfo>) {
        let (proto_name, proto_ver) = proto(c);
        self.publish(
            &c.client_id,
            "connected",
            json!({
                "clientid": &*c.client_id,
                "username": c.username.as_deref(),
                "ipaddress": c.peer.addr.ip().to_string(),
                "sockport": c.peer.addr.port(),
                "proto_name": proto_name,
                "proto_ver": proto_ver,
                "keepalive": c.keepalive,
                "clean_start": c.clean_start,
                "expiry_interval": c.expiry_interval,
                "connected_at": millis(c.connected_at),
                "connack": 0,
                "ts": millis(SystemTime::now()),
            }),
        );
    }

    fn client_disconnected(&self, c: &Arc<ClientInfo>, reason: DisconnectReason) {
        let (proto_name, proto_ver) = proto(c);
        self.publish(
            &c.client_id,
            "disconnected",
            json!({
                "clientid": &*c.client_id,
                "username": c.username.as_deref(),
                "ipaddress": c.peer.addr.ip().to_string(),
                "sockport": c.peer.addr.port(),
                "proto_name": proto_name,
                "proto_ver": proto_ver,
                "reason": reason.as_str(),
                "connected_at": millis(c.connected_at),
                "disconnected_at": millis(SystemTime::now()),
                "ts": millis(SystemTime::now()),
            }),
        );
    }

    fn session_subscribed(&self, c: &Arc<ClientInfo>, filter: &str, options: &SubscriptionOptions) {
        self.publish(
            &c.client_id,
            "subscribed",
            json!({
                "clientid": &*c.client_id,
                "username": c.username.as_deref(),
                "topic": filter,
                "subopts": {"qos": options.qos as u8},
                "ts": millis(SystemTime::now()),
            }),
        );
    }

    fn session_unsubscribed(&self, c: &Arc<ClientInfo>, filter: &str) {
        self.publish(
            &c.client_id,
            "unsubscribed",
            json!({
                "clientid": &*c.client_id,
                "username": c.username.as_deref(),
                "topic": filter,
                "ts": millis(SystemTime::now()),
            }),
        );
    }
}
