//! `$SYS` topics: the broker's own periodic messages under
//! `$SYS/brokers/<node>/...`, as EMQX publishes them. Clients may subscribe to
//! them (with a filter that names `$SYS` explicitly) but may not publish there.

use crate::context::BrokerContext;
use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use roost_core::Message;
use roost_protocol::{Properties, QoS};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Publishes `$SYS` messages every `sys_topics.sys_msg_interval`.
#[derive(Clone, Copy)]
pub struct SysTopics;

/// The timer tick.
pub enum SysMsg {
    Tick,
}

ractor_message!(SysMsg);

impl Actor for SysTopics {
    type Msg = SysMsg;
    type State = Arc<BrokerContext>;
    type Arguments = Arc<BrokerContext>;

    async fn pre_start(
        &self,
        myself: ActorRef<SysMsg>,
        ctx: Arc<BrokerContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let every = ctx.config.sys_topics.sys_msg_interval;
        if !every.is_zero() {
            // Version is constant: retained once so late subscribers see it.
            publish(&ctx, "version", env!("CARGO_PKG_VERSION").to_string(), true);
            myself.send_interval(every, || SysMsg::Tick);
        }
        Ok(ctx)
    }

    async fn handle(
        &self,
        _myself: ActorRef<SysMsg>,
        msg: SysMsg,
        ctx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SysMsg::Tick => {
                publish(
                    ctx,
                    "uptime",
                    ctx.started_at.elapsed().as_secs().to_string(),
                    false,
                );
                publish(
                    ctx,
                    "clients/connected",
                    ctx.connections.load(Ordering::Relaxed).to_string(),
                    false,
                );
                publish(
                    ctx,
                    "clients/hibernating",
                    ctx.conns_hibernating.load(Ordering::Relaxed).to_string(),
                    false,
                );
                publish(
                    ctx,
                    "sessions/hibernating",
                    ctx.sessions_hibernating.load(Ordering::Relaxed).to_string(),
                    false,
                );
                publish(
                    ctx,
                    "routes/count",
                    ctx.router.route_count().to_string(),
                    false,
                );
                publish(ctx, "retained/count", ctx.retained.len().to_string(), false);
                for (name, value) in ctx.metrics.snapshot() {
                    publish(
                        ctx,
                        &format!("metrics/{}", name.replace('_', ".")),
                        value.to_string(),
                        false,
                    );
                }
            }
        }
        Ok(())
    }
}

fn publish(ctx: &BrokerContext, path: &str, value: String, retain: bool) {
    let topic = format!("$SYS/brokers/{}/{}", ctx.config.node.name, path);
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
