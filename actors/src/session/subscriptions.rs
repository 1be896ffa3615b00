//! A session's subscriptions: adding and removing them in the topic index and
//! in the session's records. The client's SUBSCRIBE and UNSUBSCRIBE are carried
//! out in its connection's context ([`SessionHandle::subscribe`]), which writes
//! the index directly, so a subscription is in force when its SUBACK leaves and
//! no actor is woken; the session's own writes (the broker API, a restore, the
//! removals at its end) go through the filter's shard.

use super::data::SubscriptionRecord;
use super::{Delivery, SessionHandle, SessionState};
use crate::context::BrokerContext;
use crate::router::shard::{shard_name, ShardMsg};
use crate::router::Subscriber;
use ractor::{ActorRef, RpcReplyPort};
use roost_core::hooks::HookPoint;
use roost_protocol::topic::parse_subscription_filter;
use roost_protocol::{
    QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions, Unsubscribe,
};
use std::sync::Arc;
use std::time::Duration;

impl SessionState {
    /// Calls the shard owning `filter`, waiting out a shard restart (the index
    /// partition survives it).
    pub(super) async fn shard_call(
        &self,
        filter: &str,
        make: impl Fn(RpcReplyPort<bool>) -> ShardMsg,
    ) -> Option<bool> {
        let name = shard_name(self.cx.ctx.router.partition_of(filter));
        for attempt in 0..50 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let Some(shard) = ractor::registry::where_is(name.clone()) else {
                continue;
            };
            let shard: ActorRef<ShardMsg> = shard.into();
            if let Ok(ractor::rpc::CallResult::Success(v)) =
                shard.call(&make, Some(Duration::from_secs(5))).await
            {
                return Some(v);
            }
        }
        None
    }

    /// Adds the subscription `raw` (as the client wrote it) to the topic index
    /// and records it. `None` if its shard could not be reached (nothing is
    /// recorded); otherwise whether the subscription is new to the index.
    pub(super) async fn add_subscription(
        &self,
        raw: String,
        record: SubscriptionRecord,
    ) -> Option<bool> {
        let subscriber = self.handle.subscriber(&record);
        let is_new = self
            .shard_call(&record.filter, |reply| ShardMsg::Subscribe {
                filter: record.filter.clone(),
                group: record.group.clone(),
                subscriber: subscriber.clone(),
                reply,
            })
            .await?;
        self.handle
            .live
            .lock()
            .data
            .subscriptions
            .insert(raw, record);
        Some(is_new)
    }

    pub(super) async fn remove_route(&self, filter: &str, group: Option<Arc<str>>) -> bool {
        let client_id = self.cx.client_id.clone();
        self.shard_call(filter, |reply| ShardMsg::Unsubscribe {
            filter: filter.to_string(),
            group: group.clone(),
            client_id: client_id.clone(),
            reply,
        })
        .await
        .unwrap_or(false)
    }

    /// A subscribe on the client's behalf (the broker API): the reason codes
    /// go to the caller, the retained messages to the client.
    pub(super) async fn subscribe_for_api(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        reply: RpcReplyPort<Vec<ReasonCode>>,
    ) {
        let (codes, retained) = self.add_filters(filters, None).await;
        let _ = reply.send(codes);
        self.deliver_retained(retained);
    }

    fn deliver_retained(&mut self, retained: Vec<Delivery>) {
        // After the awaits of the subscribes: the time is read again.
        self.cx.now = None;
        let mut d = self.handle.live.lock();
        for r in retained {
            d.deliver(&mut self.cx, r);
        }
    }

    /// Adds each filter that passes the broker's limits through its shard: a
    /// reason code per filter, and the retained messages to send for them.
    async fn add_filters(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        sub_id: Option<u32>,
    ) -> (Vec<ReasonCode>, Vec<Delivery>) {
        let ctx = self.cx.ctx.clone();
        let mut codes = Vec::with_capacity(filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        for (raw, options) in filters {
            let record = match self.handle.check_filter(&ctx, &raw, options, sub_id) {
                Ok(record) => record,
                Err(code) => {
                    codes.push(code);
                    continue;
                }
            };
            let Some(is_new) = self.add_subscription(raw.clone(), record.clone()).await else {
                codes.push(ReasonCode::UnspecifiedError);
                continue;
            };
            codes.push(
                self.handle
                    .subscribed(&ctx, &raw, &record, is_new, &mut retained),
            );
        }
        (codes, retained)
    }

    /// Removes each filter through its shard: a reason code per filter.
    pub(super) async fn remove_filters(&mut self, filters: Vec<String>) -> Vec<ReasonCode> {
        let mut codes = Vec::with_capacity(filters.len());
        for raw in filters {
            codes.push(match self.handle.subscription_of(&raw) {
                Ok(r) => {
                    self.remove_route(&r.filter, r.group).await;
                    self.handle.unsubscribed(&self.cx.ctx, &raw)
                }
                Err(code) => code,
            });
        }
        codes
    }
}

impl SessionHandle {
    /// The client's SUBSCRIBE, carried out in its connection's context: each
    /// filter that passes the broker's limits is written into the topic index
    /// at once and recorded. A reason code per filter, and the retained
    /// messages to deliver for them [MQTT-3.3.1-9..11] (after the SUBACK).
    pub fn subscribe(
        self: &Arc<Self>,
        ctx: &BrokerContext,
        s: Subscribe,
    ) -> (Vec<ReasonCode>, Vec<Delivery>) {
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        for (raw, options) in s.filters {
            let record = match self.check_filter(ctx, &raw, options, sub_id) {
                Ok(record) => record,
                Err(code) => {
                    codes.push(code);
                    continue;
                }
            };
            let subscriber = self.subscriber(&record);
            let is_new = ctx
                .router
                .subscribe(&record.filter, record.group.clone(), subscriber);
            self.live
                .lock()
                .data
                .subscriptions
                .insert(raw.clone(), record.clone());
            codes.push(self.subscribed(ctx, &raw, &record, is_new, &mut retained));
        }
        self.persist(ctx, &self.live.lock(), None);
        (codes, retained)
    }

    /// The client's UNSUBSCRIBE, carried out in its connection's context (see
    /// [`Self::subscribe`]): a reason code per filter.
    pub fn unsubscribe(&self, ctx: &BrokerContext, u: Unsubscribe) -> Vec<ReasonCode> {
        let mut codes = Vec::with_capacity(u.filters.len());
        for raw in u.filters {
            codes.push(match self.subscription_of(&raw) {
                Ok(r) => {
                    ctx.router.unsubscribe(&r.filter, r.group, &self.client_id);
                    self.unsubscribed(ctx, &raw)
                }
                Err(code) => code,
            });
        }
        self.persist(ctx, &self.live.lock(), None);
        codes
    }

    /// How the topic index holds this session's subscription `record`.
    pub(crate) fn subscriber(self: &Arc<Self>, record: &SubscriptionRecord) -> Subscriber {
        Subscriber {
            client_id: self.client_id.clone(),
            session: self.clone(),
            options: record.options,
            subscription_id: record.subscription_id,
        }
    }

    /// The subscription the filter `raw` (as the client wrote it) comes to
    /// under the broker's limits (its QoS capped by `mqtt.max_qos_allowed`),
    /// or the reason code that refuses it.
    fn check_filter(
        &self,
        ctx: &BrokerContext,
        raw: &str,
        mut options: SubscriptionOptions,
        sub_id: Option<u32>,
    ) -> Result<SubscriptionRecord, ReasonCode> {
        let mqtt = &ctx.config.mqtt;
        let parsed = parse_subscription_filter(raw).map_err(|_| ReasonCode::TopicFilterInvalid)?;
        let levels = parsed.filter.split('/').count();
        let (count, exists) = {
            let d = self.live.lock();
            (
                d.data.subscriptions.len(),
                d.data.subscriptions.contains_key(raw),
            )
        };
        if parsed.group.is_some() && !mqtt.shared_subscription {
            return Err(ReasonCode::SharedSubscriptionsNotSupported);
        }
        if !mqtt.wildcard_subscription && parsed.filter.contains(['+', '#']) {
            return Err(ReasonCode::WildcardSubscriptionsNotSupported);
        }
        if mqtt.max_topic_levels != 0 && levels > mqtt.max_topic_levels {
            return Err(ReasonCode::TopicFilterInvalid);
        }
        if mqtt.max_subscriptions != 0 && count >= mqtt.max_subscriptions && !exists {
            return Err(ReasonCode::QuotaExceeded);
        }
        let max_qos = QoS::from_u8(mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce);
        options.qos = options.qos.min(max_qos);
        Ok(SubscriptionRecord {
            filter: parsed.filter.to_string(),
            group: parsed.group.map(Into::into),
            options,
            subscription_id: sub_id,
        })
    }

    /// After `record` went into the index (`is_new`: it was not there):
    /// `session.subscribed`, the retained messages it asks for pushed onto
    /// `retained` [MQTT-3.3.1-9..11], and the granted QoS's reason code.
    fn subscribed(
        &self,
        ctx: &BrokerContext,
        raw: &str,
        record: &SubscriptionRecord,
        is_new: bool,
        retained: &mut Vec<Delivery>,
    ) -> ReasonCode {
        let options = record.options;
        if let Some(client) = self.client() {
            ctx.hooks.notify(HookPoint::SessionSubscribed, |h| {
                h.session_subscribed(&client, raw, &options)
            });
        }
        // Never for shared subscriptions (as EMQX).
        let send_retained = record.group.is_none()
            && match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNew => is_new,
                RetainHandling::DoNotSend => false,
            };
        if send_retained {
            for m in ctx.retained.matching(&record.filter) {
                retained.push(Delivery {
                    message: m,
                    qos: options.qos,
                    retain_as_published: true,
                    subscription_ids: record.subscription_id.into(),
                    shared: None,
                    from_retained: true,
                });
            }
        }
        match options.qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
        }
    }

    /// The recorded subscription an UNSUBSCRIBE's filter `raw` names, or the
    /// reason code of its UNSUBACK entry if there is none.
    fn subscription_of(&self, raw: &str) -> Result<SubscriptionRecord, ReasonCode> {
        if parse_subscription_filter(raw).is_err() {
            return Err(ReasonCode::TopicFilterInvalid);
        }
        let record = self.live.lock().data.subscriptions.get(raw).cloned();
        record.ok_or(ReasonCode::NoSubscriptionExisted)
    }

    /// After the route of `raw` left the index: the record goes, and
    /// `session.unsubscribed`. Returns the UNSUBACK entry for it (success).
    fn unsubscribed(&self, ctx: &BrokerContext, raw: &str) -> ReasonCode {
        self.live.lock().data.subscriptions.remove(raw);
        if let Some(client) = self.client() {
            ctx.hooks.notify(HookPoint::SessionUnsubscribed, |h| {
                h.session_unsubscribed(&client, raw)
            });
        }
        ReasonCode::Success
    }
}
