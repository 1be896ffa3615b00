//! The session actor: one per client id, outliving its connections.
//!
//! It owns the client's subscriptions, the outbound inflight window and bounded
//! queue, the will and the session expiry. Publishers cast [`Delivery`]s to it; it
//! assigns packet ids and hands packets to its connection actor, or queues them
//! while the client is offline. A reconnecting client is re-bound to the same
//! actor (takeover is re-binding, not copying state).

pub mod queue;

use crate::connection::{ConnMsg, Outgoing};
use crate::context::BrokerContext;
use crate::message::Message;
use crate::registry::RegistryMsg;
use crate::router::shard::{shard_name, ShardMsg};
use crate::router::{SharedKey, Subscriber};
use queue::{Enqueued, Inflight, InflightEntry, InflightState, MQueue};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_protocol::topic::parse_subscription_filter;
use roost_protocol::{
    ProtocolVersion, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
    Will,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message on its way to one session through one subscription.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Arc<Message>,
    /// The subscription's maximum QoS.
    pub qos: QoS,
    pub retain_as_published: bool,
    pub subscription_id: Option<u32>,
    /// Set when delivered through a shared subscription (for redispatch).
    pub shared: Option<Arc<SharedKey>>,
    /// Sent because of a new subscription: the RETAIN flag is set [MQTT-3.3.1-8].
    pub from_retained: bool,
}

impl Delivery {
    pub fn new(
        message: Arc<Message>,
        sub: &Subscriber,
        shared: Option<Arc<SharedKey>>,
    ) -> Delivery {
        Delivery {
            message,
            qos: sub.options.qos,
            retain_as_published: sub.options.retain_as_published,
            subscription_id: sub.subscription_id,
            shared,
            from_retained: false,
        }
    }
}

/// The connection a session is bound to, and what it negotiated.
#[derive(Debug, Clone)]
pub struct Binding {
    pub conn: ActorRef<ConnMsg>,
    pub version: ProtocolVersion,
    /// The client's Receive Maximum (65535 if absent).
    pub receive_maximum: u16,
}

/// What a connection asks of the session when it binds.
pub struct BindArgs {
    pub binding: Binding,
    pub clean_start: bool,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry: u32,
    pub will: Option<Will>,
}

/// The session's answer to a bind.
pub struct BindReply {
    pub session_present: bool,
    /// Inbound QoS 2 packet ids still awaiting PUBREL [MQTT-4.3.3-*].
    pub awaiting_rel: Vec<u16>,
}

/// Messages a session handles.
pub enum SessionMsg {
    Deliver(Delivery),
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    PubAck(u16),
    /// PUBREC with its reason code: an error code (>= 0x80) ends the exchange.
    PubRec(u16, ReasonCode),
    PubComp(u16),
    /// The bound connection ended. `publish_will` is false after a normal
    /// DISCONNECT; `expiry` is a new Session Expiry Interval from DISCONNECT.
    Detach {
        conn: ActorId,
        publish_will: bool,
        expiry: Option<u32>,
        awaiting_rel: Vec<u16>,
    },
    /// From the registry: bind a new connection.
    Bind(BindArgs, RpcReplyPort<BindReply>),
    /// From the registry: end the session if it is still unbound at `generation`.
    TryEnd(u64, RpcReplyPort<bool>),
    WillTimer(u64),
    /// Resend inflight messages older than `retry_interval` (3.1.1 clients only:
    /// 5.0 forbids resending except on reconnect [MQTT-4.4.0-1]).
    Retry,
    ExpiryTimer(u64),
    /// Broker shutdown, phase 1: publish the will of a connected client now.
    PublishWillNow(RpcReplyPort<()>),
    /// Broker shutdown, phase 2: close the connection (DISCONNECT 0x8B).
    Shutdown(RpcReplyPort<()>),
}

/// Start-up arguments of a session.
#[derive(Clone)]
pub struct SessionArgs {
    pub ctx: Arc<BrokerContext>,
    pub client_id: Arc<str>,
    pub registry: ActorRef<RegistryMsg>,
}

/// One recorded subscription (keyed by the filter as the client wrote it).
#[derive(Debug, Clone)]
struct SubscriptionRecord {
    filter: String,
    group: Option<Arc<str>>,
}

pub struct SessionState {
    ctx: Arc<BrokerContext>,
    client_id: Arc<str>,
    registry: ActorRef<RegistryMsg>,
    binding: Option<Binding>,
    /// Bumped on every bind, so timers armed for an earlier connection are void.
    generation: u64,
    bound_before: bool,
    subscriptions: HashMap<String, SubscriptionRecord>,
    inflight: Inflight,
    mqueue: MQueue,
    next_packet_id: u16,
    awaiting_rel: Vec<u16>,
    will: Option<Will>,
    expiry: u32,
    /// Outbound packets gathered during one message, sent to the connection in one cast.
    outbox: Vec<Outgoing>,
    myself: ActorRef<SessionMsg>,
    retry_armed: bool,
}

/// The session actor.
#[derive(Clone, Copy)]
pub struct Session;

impl Actor for Session {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let mqtt = &args.ctx.config.mqtt;
        Ok(SessionState {
            mqueue: MQueue::new(mqtt.max_mqueue_len),
            ctx: args.ctx.clone(),
            client_id: args.client_id,
            registry: args.registry,
            binding: None,
            generation: 0,
            bound_before: false,
            subscriptions: HashMap::new(),
            inflight: Inflight::default(),
            next_packet_id: 1,
            awaiting_rel: Vec::new(),
            will: None,
            expiry: 0,
            outbox: Vec::new(),
            myself,
            retry_armed: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Deliver(d) => st.deliver(d),
            SessionMsg::Subscribe(s) => st.subscribe(&myself, s).await,
            SessionMsg::Unsubscribe(u) => st.unsubscribe(u).await,
            SessionMsg::PubAck(id) => {
                if st.inflight.remove(id, InflightState::AwaitAck).is_some() {
                    st.drain_mqueue();
                }
            }
            SessionMsg::PubRec(id, reason) => {
                if reason.is_error() {
                    // [MQTT-4.3.3-4] no PUBREL after an error PUBREC; the slot is
                    // free again (spec 4.9).
                    if st.inflight.remove(id, InflightState::AwaitAck).is_some() {
                        st.drain_mqueue();
                    }
                } else if st.inflight.released(id) {
                    st.outbox.push(Outgoing::PubRel(id, ReasonCode::Success));
                } else {
                    st.outbox
                        .push(Outgoing::PubRel(id, ReasonCode::PacketIdentifierNotFound));
                }
            }
            SessionMsg::PubComp(id) => {
                if st.inflight.remove(id, InflightState::AwaitComp).is_some() {
                    st.drain_mqueue();
                }
            }
            SessionMsg::Detach {
                conn,
                publish_will,
                expiry,
                awaiting_rel,
            } => {
                st.detach(&myself, conn, publish_will, expiry, awaiting_rel);
            }
            SessionMsg::Bind(args, reply) => {
                let r = st.bind(args).await;
                let _ = reply.send(r);
            }
            SessionMsg::TryEnd(generation, reply) => {
                let end = generation == st.generation && st.binding.is_none();
                if end {
                    st.end().await;
                }
                let _ = reply.send(end);
                if end {
                    myself.stop(Some("session_expired".into()));
                }
            }
            SessionMsg::Retry => st.retry(),
            SessionMsg::WillTimer(generation) => {
                if generation == st.generation && st.binding.is_none() {
                    st.publish_will();
                }
            }
            SessionMsg::ExpiryTimer(generation) => {
                if generation == st.generation && st.binding.is_none() {
                    let _ = st.registry.cast(RegistryMsg::Expire {
                        client_id: st.client_id.clone(),
                        session: myself.get_id(),
                        generation,
                    });
                }
            }
            SessionMsg::PublishWillNow(reply) => {
                if st.binding.is_some() {
                    st.publish_will();
                }
                let _ = reply.send(());
            }
            SessionMsg::Shutdown(reply) => {
                if let Some(b) = &st.binding {
                    let _ = b.conn.cast(ConnMsg::Kick {
                        reason: ReasonCode::ServerShuttingDown,
                        reply: None,
                    });
                }
                let _ = reply.send(());
            }
        }
        st.flush();
        Ok(())
    }
}

impl SessionState {
    fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.outbox);
        if let Some(b) = &self.binding {
            // A stopped connection is noticed through its Detach; the inflight
            // messages are resent on the next bind.
            let _ = b.conn.cast(ConnMsg::Send(batch));
        }
    }

    /// The inflight window: the client's Receive Maximum capped by max_inflight.
    fn window(&self) -> usize {
        let max = self.ctx.config.mqtt.max_inflight.max(1) as usize;
        self.binding
            .as_ref()
            .map_or(0, |b| (b.receive_maximum as usize).min(max))
    }

    fn effective_qos(&self, d: &Delivery) -> QoS {
        let max = QoS::from_u8(self.ctx.config.mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce);
        let q = if self.ctx.config.mqtt.upgrade_qos {
            d.qos
        } else {
            d.qos.min(d.message.qos)
        };
        q.min(max)
    }

    /// Accepts one delivery: send now, put in the window, or queue.
    fn deliver(&mut self, d: Delivery) {
        if d.message.is_expired(Instant::now()) {
            self.ctx.metrics.inc_dropped_expired();
            return;
        }
        let qos = self.effective_qos(&d);
        if self.binding.is_none() {
            if qos == QoS::AtMostOnce && !self.ctx.config.mqtt.mqueue_store_qos0 {
                self.ctx.metrics.inc_dropped_qos0_offline();
                return;
            }
            self.enqueue(d);
            return;
        }
        if qos == QoS::AtMostOnce {
            // QoS 0 takes no send quota and goes out at once (as EMQX); order is
            // only owed among messages of the same QoS [MQTT-4.6.0-6].
            self.send_publish(d, QoS::AtMostOnce, 0, false);
        } else if !self.mqueue.is_empty() {
            // Nothing overtakes queued QoS 1/2 messages [MQTT-4.6.0-6].
            self.enqueue(d);
            self.drain_mqueue();
        } else if self.inflight.len() < self.window() {
            self.send_inflight(d, qos);
        } else {
            self.enqueue(d);
        }
    }

    fn enqueue(&mut self, d: Delivery) {
        if let Enqueued::DroppedOldest(old) = self.mqueue.push(d) {
            self.ctx.metrics.inc_dropped_queue_full();
            tracing::debug!(client_id = %self.client_id, topic = %old.message.topic, "message_dropped_queue_full");
        }
    }

    /// Moves queued messages into the window while it has room.
    fn drain_mqueue(&mut self) {
        if self.binding.is_none() {
            return;
        }
        let now = Instant::now();
        while let Some(front) = self.mqueue.front() {
            let qos = self.effective_qos(front);
            if qos != QoS::AtMostOnce && self.inflight.len() >= self.window() {
                break;
            }
            let d = self.mqueue.pop().expect("front exists");
            if d.message.is_expired(now) {
                self.ctx.metrics.inc_dropped_expired();
                continue;
            }
            if qos == QoS::AtMostOnce {
                self.send_publish(d, qos, 0, false);
            } else {
                self.send_inflight(d, qos);
            }
        }
    }

    fn next_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.inflight.contains(id) {
                return id;
            }
        }
    }

    fn send_inflight(&mut self, d: Delivery, qos: QoS) {
        let packet_id = self.next_packet_id();
        self.inflight.push(InflightEntry {
            packet_id,
            delivery: d.clone(),
            state: InflightState::AwaitAck,
            sent_at: Instant::now(),
        });
        self.arm_retry();
        self.send_publish(d, qos, packet_id, false);
    }

    fn send_publish(&mut self, d: Delivery, qos: QoS, packet_id: u16, dup: bool) {
        let retain = d.from_retained || (d.retain_as_published && d.message.retain);
        self.outbox.push(Outgoing::Publish {
            message: d.message,
            qos,
            packet_id,
            dup,
            retain,
            subscription_id: d.subscription_id,
        });
    }

    async fn bind(&mut self, args: BindArgs) -> BindReply {
        if let Some(old) = self.binding.take() {
            // Takeover [MQTT-3.1.4-3]: close the old connection (0x8E) and take
            // back its inbound QoS 2 state.
            let kicked = old
                .conn
                .call(
                    |reply| ConnMsg::Kick {
                        reason: ReasonCode::SessionTakenOver,
                        reply: Some(reply),
                    },
                    Some(Duration::from_secs(5)),
                )
                .await;
            match kicked {
                Ok(ractor::rpc::CallResult::Success(ids)) => self.merge_awaiting_rel(ids),
                _ => old.conn.stop(Some("takeover".into())),
            }
            // The old connection closed without DISCONNECT: its will goes out now
            // unless it has a delay, which the new connection cancels [MQTT-3.1.3-9].
            if self.will.as_ref().is_some_and(|w| will_delay(w) == 0) {
                self.publish_will();
            }
        }
        if args.clean_start {
            // Clean start ends the old session, and a session's end releases a
            // will still waiting for its delay (5.0 §3.1.2.5; EMQX: discarded).
            self.publish_will();
        }
        // Otherwise a will still waiting for its delay is cancelled by the new
        // connection [MQTT-3.1.3-9].
        self.will = None;
        self.generation += 1;
        let session_present = self.bound_before && !args.clean_start;
        if args.clean_start {
            self.reset().await;
        }
        self.bound_before = true;
        self.binding = Some(args.binding);
        self.will = args.will;
        self.expiry = args.expiry;
        // Resend what is unacknowledged, in order, PUBLISH with DUP [MQTT-4.4.0-1].
        let resend: Vec<(u16, InflightState, Delivery)> = self
            .inflight
            .iter()
            .map(|e| (e.packet_id, e.state, e.delivery.clone()))
            .collect();
        for (id, state, d) in resend {
            match state {
                InflightState::AwaitAck => {
                    let qos = self.effective_qos(&d);
                    self.send_publish(d, qos, id, true);
                }
                InflightState::AwaitComp => {
                    self.outbox.push(Outgoing::PubRel(id, ReasonCode::Success))
                }
            }
        }
        self.drain_mqueue();
        BindReply {
            session_present,
            awaiting_rel: std::mem::take(&mut self.awaiting_rel),
        }
    }

    fn arm_retry(&mut self) {
        let every = self.ctx.config.mqtt.retry_interval;
        let v3 = self.binding.as_ref().is_some_and(|b| !b.version.is_v5());
        if self.retry_armed || every.is_zero() || !v3 {
            return;
        }
        self.retry_armed = true;
        self.myself.send_after(every, || SessionMsg::Retry);
    }

    fn retry(&mut self) {
        self.retry_armed = false;
        let Some(b) = &self.binding else { return };
        if b.version.is_v5() {
            return;
        }
        let now = Instant::now();
        let every = self.ctx.config.mqtt.retry_interval;
        let mut resend = Vec::new();
        for e in self.inflight.iter_mut() {
            if now.duration_since(e.sent_at) >= every {
                e.sent_at = now;
                resend.push((e.packet_id, e.state, e.delivery.clone()));
            }
        }
        self.resend(resend);
        if !self.inflight.is_empty() {
            self.arm_retry();
        }
    }

    /// Sends inflight entries again: PUBLISH with DUP, or PUBREL.
    fn resend(&mut self, entries: Vec<(u16, InflightState, Delivery)>) {
        for (id, state, d) in entries {
            match state {
                InflightState::AwaitAck => {
                    let qos = self.effective_qos(&d);
                    self.send_publish(d, qos, id, true);
                }
                InflightState::AwaitComp => {
                    self.outbox.push(Outgoing::PubRel(id, ReasonCode::Success))
                }
            }
        }
    }

    fn merge_awaiting_rel(&mut self, ids: Vec<u16>) {
        for id in ids {
            if !self.awaiting_rel.contains(&id) {
                self.awaiting_rel.push(id);
            }
        }
    }

    fn detach(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        conn: ActorId,
        publish_will: bool,
        expiry: Option<u32>,
        ids: Vec<u16>,
    ) {
        let current = self
            .binding
            .as_ref()
            .is_some_and(|b| b.conn.get_id() == conn);
        if !current {
            return;
        }
        self.binding = None;
        self.merge_awaiting_rel(ids);
        if let Some(e) = expiry {
            self.expiry = e;
        }
        if !publish_will {
            self.will = None;
        }
        let generation = self.generation;
        if let Some(w) = &self.will {
            let delay = will_delay(w);
            if delay == 0 {
                self.publish_will();
            } else if delay < self.expiry {
                myself.send_after(Duration::from_secs(delay as u64), move || {
                    SessionMsg::WillTimer(generation)
                });
            }
            // Otherwise the session ends first and publishes the will then.
        }
        if self.expiry == 0 {
            let _ = self.registry.cast(RegistryMsg::Expire {
                client_id: self.client_id.clone(),
                session: myself.get_id(),
                generation,
            });
        } else if self.expiry != u32::MAX {
            myself.send_after(Duration::from_secs(self.expiry as u64), move || {
                SessionMsg::ExpiryTimer(generation)
            });
        }
    }

    /// Publishes the will (if any) and forgets it.
    fn publish_will(&mut self) {
        let Some(will) = self.will.take() else { return };
        let msg = Message::new(
            will.topic.as_str().into(),
            will.payload.clone(),
            will.qos,
            will.retain,
            self.client_id.clone(),
            &will.properties,
        );
        let n = self.ctx.publish(Arc::new(msg));
        tracing::debug!(client_id = %self.client_id, topic = %will.topic, deliveries = n, "will_published");
    }

    /// Ends the session: its will goes out, its routes are removed and its
    /// shared-subscription messages go to other members.
    async fn end(&mut self) {
        self.publish_will();
        self.reset().await;
    }

    /// Drops every subscription and message (clean start, or end of session).
    async fn reset(&mut self) {
        let subs: Vec<SubscriptionRecord> = self.subscriptions.drain().map(|(_, r)| r).collect();
        for r in subs {
            self.remove_route(&r.filter, r.group.clone()).await;
        }
        // A QoS 2 message already sent to this member stays its own: the spec
        // owes its completion to this client only [MQTT-4.8.2-5]. QoS 1 in flight
        // and everything still queued go to another member (EMQX's redispatch).
        let inflight: Vec<InflightEntry> = self.inflight.drain().collect();
        let mut pending: Vec<Delivery> = inflight
            .into_iter()
            .filter(|e| self.effective_qos(&e.delivery) != QoS::ExactlyOnce)
            .map(|e| e.delivery)
            .collect();
        pending.extend(self.mqueue.drain());
        for d in pending {
            if let Some(key) = d.shared.clone() {
                if !self.ctx.router.redispatch(&key, d, &self.client_id) {
                    self.ctx.metrics.inc_dropped_no_group_member();
                }
            }
        }
        self.awaiting_rel.clear();
        self.next_packet_id = 1;
    }

    async fn shard_call(
        &self,
        filter: &str,
        make: impl FnOnce(RpcReplyPort<bool>) -> ShardMsg,
    ) -> Option<bool> {
        let name = shard_name(self.ctx.router.partition_of(filter));
        let shard: ActorRef<ShardMsg> = ractor::registry::where_is(name)?.into();
        match shard.call(make, Some(Duration::from_secs(5))).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Some(v),
            _ => None,
        }
    }

    async fn remove_route(&self, filter: &str, group: Option<Arc<str>>) -> bool {
        let client_id = self.client_id.clone();
        let f = filter.to_string();
        self.shard_call(filter, move |reply| ShardMsg::Unsubscribe {
            filter: f,
            group,
            client_id,
            reply,
        })
        .await
        .unwrap_or(false)
    }

    async fn subscribe(&mut self, myself: &ActorRef<SessionMsg>, s: Subscribe) {
        let mqtt = &self.ctx.config.mqtt;
        let max_qos = QoS::from_u8(mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce);
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        for (raw, mut options) in s.filters {
            let parsed = match parse_subscription_filter(&raw) {
                Ok(p) => p,
                Err(_) => {
                    codes.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            let levels = parsed.filter.split('/').count();
            let code = if parsed.group.is_some() && !mqtt.shared_subscription {
                Some(ReasonCode::SharedSubscriptionsNotSupported)
            } else if !mqtt.wildcard_subscription && parsed.filter.contains(['+', '#']) {
                Some(ReasonCode::WildcardSubscriptionsNotSupported)
            } else if mqtt.max_topic_levels != 0 && levels > mqtt.max_topic_levels {
                Some(ReasonCode::TopicFilterInvalid)
            } else if mqtt.max_subscriptions != 0
                && self.subscriptions.len() >= mqtt.max_subscriptions
                && !self.subscriptions.contains_key(&raw)
            {
                Some(ReasonCode::QuotaExceeded)
            } else {
                None
            };
            if let Some(code) = code {
                codes.push(code);
                continue;
            }
            options.qos = options.qos.min(max_qos);
            let group: Option<Arc<str>> = parsed.group.map(Into::into);
            let filter = parsed.filter.to_string();
            let subscriber = Subscriber {
                client_id: self.client_id.clone(),
                session: myself.clone(),
                options,
                subscription_id: sub_id,
            };
            let (f, g) = (filter.clone(), group.clone());
            let added = self
                .shard_call(&filter, move |reply| ShardMsg::Subscribe {
                    filter: f,
                    group: g,
                    subscriber: subscriber.clone(),
                    reply,
                })
                .await;
            let Some(is_new) = added else {
                codes.push(ReasonCode::UnspecifiedError);
                continue;
            };
            self.subscriptions.insert(
                raw.clone(),
                SubscriptionRecord {
                    filter: filter.clone(),
                    group: group.clone(),
                },
            );
            codes.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
            // Retained messages at subscribe time [MQTT-3.3.1-9..11]; never for
            // shared subscriptions (as EMQX).
            let send_retained = group.is_none()
                && match options.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNew => is_new,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained {
                for m in self.ctx.retained.matching(&filter) {
                    retained.push(Delivery {
                        message: m,
                        qos: options.qos,
                        retain_as_published: true,
                        subscription_id: sub_id,
                        shared: None,
                        from_retained: true,
                    });
                }
            }
        }
        self.outbox.push(Outgoing::SubAck(SubAck {
            packet_id: s.packet_id,
            reason_codes: codes,
            ..Default::default()
        }));
        for d in retained {
            self.deliver(d);
        }
    }

    async fn unsubscribe(&mut self, u: Unsubscribe) {
        let mut codes = Vec::with_capacity(u.filters.len());
        for raw in u.filters {
            if parse_subscription_filter(&raw).is_err() {
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            match self.subscriptions.remove(&raw) {
                Some(r) => {
                    self.remove_route(&r.filter, r.group).await;
                    codes.push(ReasonCode::Success);
                }
                None => codes.push(ReasonCode::NoSubscriptionExisted),
            }
        }
        self.outbox.push(Outgoing::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            reason_codes: codes,
            ..Default::default()
        }));
    }
}

/// The will's Will Delay Interval in seconds (0 if absent or 3.1.1).
fn will_delay(w: &Will) -> u32 {
    w.properties.will_delay_interval.unwrap_or(0)
}
