//! A session's subscriptions: adding and removing them in the topic index
//! (through the shard that owns the filter), SUBSCRIBE and UNSUBSCRIBE from
//! the client, and the same on the client's behalf through the broker API.

use super::data::SubscriptionRecord;
use super::{Delivery, Outgoing, SessionState};
use crate::router::shard::{shard_name, ShardMsg};
use crate::router::Subscriber;
use ractor::{ActorRef, RpcReplyPort};
use roost_core::hooks::HookPoint;
use roost_protocol::topic::parse_subscription_filter;
use roost_protocol::{
    QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
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
        let subscriber = Subscriber {
            client_id: self.cx.client_id.clone(),
            session: self.handle.clone(),
            options: record.options,
            subscription_id: record.subscription_id,
        };
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

    /// The client's SUBSCRIBE: SUBACK, then the retained messages it asked for.
    pub(super) async fn subscribe(&mut self, s: Subscribe) {
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let (codes, retained) = self.add_filters(s.filters, sub_id).await;
        self.cx.out.outbox.push(Outgoing::SubAck(Box::new(SubAck {
            packet_id: s.packet_id,
            reason_codes: codes,
            ..Default::default()
        })));
        self.deliver_retained(retained);
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

    /// Adds each filter that passes the broker's limits: a reason code per
    /// filter, and the retained messages to send for them [MQTT-3.3.1-9..11].
    async fn add_filters(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        sub_id: Option<u32>,
    ) -> (Vec<ReasonCode>, Vec<Delivery>) {
        let ctx = self.cx.ctx.clone();
        let mqtt = &ctx.config.mqtt;
        let max_qos = QoS::from_u8(mqtt.max_qos_allowed).unwrap_or(QoS::ExactlyOnce);
        let mut codes = Vec::with_capacity(filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        for (raw, mut options) in filters {
            let parsed = match parse_subscription_filter(&raw) {
                Ok(p) => p,
                Err(_) => {
                    codes.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            let levels = parsed.filter.split('/').count();
            let (count, exists) = {
                let d = self.handle.live.lock();
                (
                    d.data.subscriptions.len(),
                    d.data.subscriptions.contains_key(&raw),
                )
            };
            let code = if parsed.group.is_some() && !mqtt.shared_subscription {
                Some(ReasonCode::SharedSubscriptionsNotSupported)
            } else if !mqtt.wildcard_subscription && parsed.filter.contains(['+', '#']) {
                Some(ReasonCode::WildcardSubscriptionsNotSupported)
            } else if mqtt.max_topic_levels != 0 && levels > mqtt.max_topic_levels {
                Some(ReasonCode::TopicFilterInvalid)
            } else if mqtt.max_subscriptions != 0 && count >= mqtt.max_subscriptions && !exists {
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
            let record = SubscriptionRecord {
                filter: filter.clone(),
                group: group.clone(),
                options,
                subscription_id: sub_id,
            };
            let Some(is_new) = self.add_subscription(raw.clone(), record).await else {
                codes.push(ReasonCode::UnspecifiedError);
                continue;
            };
            if let Some(client) = self.handle.client() {
                ctx.hooks.notify(HookPoint::SessionSubscribed, |h| {
                    h.session_subscribed(&client, &raw, &options)
                });
            }
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
                for m in ctx.retained.matching(&filter) {
                    retained.push(Delivery {
                        message: m,
                        qos: options.qos,
                        retain_as_published: true,
                        subscription_ids: sub_id.into(),
                        shared: None,
                        from_retained: true,
                    });
                }
            }
        }
        (codes, retained)
    }

    /// The client's UNSUBSCRIBE.
    pub(super) async fn unsubscribe(&mut self, u: Unsubscribe) {
        let codes = self.remove_filters(u.filters).await;
        self.cx
            .out
            .outbox
            .push(Outgoing::UnsubAck(Box::new(UnsubAck {
                packet_id: u.packet_id,
                reason_codes: codes,
                ..Default::default()
            })));
    }

    /// Removes each filter: a reason code per filter.
    pub(super) async fn remove_filters(&mut self, filters: Vec<String>) -> Vec<ReasonCode> {
        let mut codes = Vec::with_capacity(filters.len());
        for raw in filters {
            if parse_subscription_filter(&raw).is_err() {
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            let record = self
                .handle
                .live
                .lock()
                .data
                .subscriptions
                .get(&raw)
                .cloned();
            match record {
                Some(r) => {
                    self.remove_route(&r.filter, r.group).await;
                    self.handle.live.lock().data.subscriptions.remove(&raw);
                    codes.push(ReasonCode::Success);
                    if let Some(client) = self.handle.client() {
                        let hooks = &self.cx.ctx.hooks;
                        hooks.notify(HookPoint::SessionUnsubscribed, |h| {
                            h.session_unsubscribed(&client, &raw)
                        });
                    }
                }
                None => codes.push(ReasonCode::NoSubscriptionExisted),
            }
        }
        codes
    }
}
