//! The engine on the hook points. `message.publish` always answers Pass (the
//! engine never rewrites or drops): it looks the topic up in the index of
//! the rules' FROM filters and, only on a match, captures the event and runs
//! the matching rules there, on the publisher's side (see
//! [`RuleEngine::dispatch`]). The event points hand theirs to the rule
//! workers for the rules selecting `$events/...`; a point no rule selects
//! costs one relaxed load.
//! `client.connected`/`disconnected` also keep the table of connected
//! clients (client id -> ClientInfo) that gives a message its publisher's
//! `username` and `peerhost`.

use super::events::{Event, EventKind, Timed};
use super::workers::Job;
use super::RuleEngine;
use roost_core::authz::Action;
use roost_core::hooks::{
    AuthnComplete, ConnectInfo, DisconnectReason, DropReason, Hook, HookPoint, PublishAction,
};
use roost_core::{ClientInfo, Message};
use roost_protocol::{ReasonCode, SubscriptionOptions};
use smallvec::SmallVec;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The points the engine registers on.
pub const POINTS: [HookPoint; 12] = [
    HookPoint::MessagePublish,
    HookPoint::ClientConnected,
    HookPoint::ClientDisconnected,
    HookPoint::ClientConnack,
    HookPoint::SessionSubscribed,
    HookPoint::SessionUnsubscribed,
    HookPoint::MessageDelivered,
    HookPoint::MessageAcked,
    HookPoint::MessageDropped,
    HookPoint::DeliveryDropped,
    HookPoint::ClientCheckAuthnComplete,
    HookPoint::ClientCheckAuthzComplete,
];

/// After every other hook: rules see the message as the other hooks left it.
pub const PRIORITY: i32 = -1000;

/// The engine as a hook.
pub struct RulesHook(pub Arc<RuleEngine>);

/// FNV-1a: spreads publishers over the workers (one publisher, one worker, so
/// its messages reach each rule in order).
fn spread(client_id: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in client_id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// How many rule evaluations may be nested on one thread (a rule's
/// republish raising `message.publish`, which runs another rule, ...)
/// before events go to the rule workers' queues instead: two rules
/// republishing to each other would otherwise recurse without end.
const INLINE_DEPTH: u8 = 4;

thread_local! {
    /// Rule evaluations running on this thread now.
    static DEPTH: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// Leaves one level of [`DEPTH`] however the evaluation ends.
struct Nested;

impl Nested {
    fn enter() -> Option<Nested> {
        DEPTH.with(|d| {
            let n = d.get();
            (n < INLINE_DEPTH).then(|| {
                d.set(n + 1);
                Nested
            })
        })
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

impl RuleEngine {
    /// Runs each rule in `rules` on a message, where it was published (the
    /// publisher's connection, a source's task), as EMQX evaluates rules in
    /// the publishing process: the SQL, then the actions, which never wait
    /// (a data-integration action queues into its own buffer, which spills
    /// to disk). So no rule output is lost while the sink's buffer has room,
    /// and a heavy rule slows its own publisher a little, never the sink.
    /// The client and delivery events (`$events/...`, far fewer) go to the
    /// rule workers: some are raised inside a session, where a rule's
    /// republish must not run. So does an event raised by a rule's own
    /// action beyond [`INLINE_DEPTH`] nested evaluations. A worker's queue
    /// is bounded: when full, the event is dropped for that rule (counted,
    /// `dropped.queue_full`). `matched` counts each.
    pub(crate) fn dispatch(&self, rules: &[Arc<super::registry::Rule>], event: Event) {
        let inline = matches!(event, Event::Publish { .. } | Event::Source { .. });
        let event = Timed::now(event);
        if let Some(_nested) = inline.then(Nested::enter).flatten() {
            for rule in rules {
                rule.counters.matched.fetch_add(1, Relaxed);
                self.metrics.rules_matched.inc();
                super::workers::run(self, rule, &event);
            }
            return;
        }
        let worker = spread(event.event.client_id());
        self.index.with(|index| {
            for rule in rules {
                rule.counters.matched.fetch_add(1, Relaxed);
                self.metrics.rules_matched.inc();
                let sent = match index.senders.len() {
                    0 => false,
                    n => index.senders[(worker % n as u64) as usize]
                        .try_send(Job {
                            rule: rule.clone(),
                            event: event.clone(),
                        })
                        .is_ok(),
                };
                if !sent {
                    rule.counters.dropped_queue_full.fetch_add(1, Relaxed);
                    self.metrics.rules_dropped_queue_full.inc();
                }
            }
        });
    }

    /// The rules on a message event (`message_dropped`...) of `msg`: none for
    /// `$SYS/...` (with `ignore_sys_message`), and never the rule that
    /// republished `msg` (a rule on `message_dropped` republishing to a topic
    /// nobody reads would otherwise feed itself forever).
    fn rules_on_message(
        &self,
        kind: EventKind,
        msg: &Message,
    ) -> Option<SmallVec<[Arc<super::registry::Rule>; 4]>> {
        if self.config.ignore_sys_message && msg.topic.starts_with("$SYS/") {
            return None;
        }
        let mut rules = self.rules_on(kind)?;
        rules.retain(|r| *r.id != *msg.from);
        (!rules.is_empty()).then_some(rules)
    }

    /// The rules on event `kind` (cloned out of the snapshot: an event with
    /// rules is worth it), or none.
    fn rules_on(&self, kind: EventKind) -> Option<SmallVec<[Arc<super::registry::Rule>; 4]>> {
        if !self.index.has(kind) {
            return None;
        }
        let rules: SmallVec<[_; 4]> = self.index.with(|i| i.on(kind).iter().cloned().collect());
        (!rules.is_empty()).then_some(rules)
    }

    fn publisher(&self, client_id: &str) -> Option<Arc<ClientInfo>> {
        self.clients.get(client_id).map(|c| c.value().clone())
    }
}

impl Hook for RulesHook {
    fn message_publish(&self, msg: &Arc<Message>) -> PublishAction {
        let e = &self.0;
        if !e.index.has(EventKind::MessagePublish)
            || (e.config.ignore_sys_message && msg.topic.starts_with("$SYS/"))
        {
            return PublishAction::Pass;
        }
        let matched: SmallVec<[Arc<super::registry::Rule>; 4]> = e.index.with(|index| {
            let mut found: SmallVec<[Arc<super::registry::Rule>; 4]> = SmallVec::new();
            index.topics.for_each_match(&msg.topic, |rules| {
                for rule in rules.values() {
                    // A rule never runs on what it republished itself (no loop).
                    if *rule.id == *msg.from || found.iter().any(|r| Arc::ptr_eq(r, rule)) {
                        continue;
                    }
                    found.push(rule.clone());
                }
            });
            found
        });
        if !matched.is_empty() {
            let from = e.publisher(&msg.from);
            e.dispatch(
                &matched,
                Event::Publish {
                    msg: msg.clone(),
                    from,
                },
            );
        }
        PublishAction::Pass
    }

    fn client_connected(&self, client: &Arc<ClientInfo>) {
        self.0
            .clients
            .insert(client.client_id.clone(), client.clone());
        if let Some(rules) = self.0.rules_on(EventKind::ClientConnected) {
            self.0.dispatch(&rules, Event::Connected(client.clone()));
        }
    }

    fn client_disconnected(&self, client: &Arc<ClientInfo>, reason: DisconnectReason) {
        // Only this connection's entry: a takeover's new one may be there already.
        self.0
            .clients
            .remove_if(&client.client_id, |_, c| Arc::ptr_eq(c, client));
        if let Some(rules) = self.0.rules_on(EventKind::ClientDisconnected) {
            self.0
                .dispatch(&rules, Event::Disconnected(client.clone(), reason.as_str()));
        }
    }

    fn client_connack(&self, conn: &ConnectInfo, reason: ReasonCode) {
        if let Some(rules) = self.0.rules_on(EventKind::ClientConnack) {
            self.0
                .dispatch(&rules, Event::Connack(Box::new(conn.clone()), reason));
        }
    }

    fn session_subscribed(
        &self,
        client: &Arc<ClientInfo>,
        filter: &str,
        options: &SubscriptionOptions,
    ) {
        if let Some(rules) = self.0.rules_on(EventKind::SessionSubscribed) {
            self.0.dispatch(
                &rules,
                Event::Subscribed {
                    client: client.clone(),
                    filter: filter.to_string(),
                    qos: options.qos as u8,
                },
            );
        }
    }

    fn session_unsubscribed(&self, client: &Arc<ClientInfo>, filter: &str) {
        if let Some(rules) = self.0.rules_on(EventKind::SessionUnsubscribed) {
            self.0.dispatch(
                &rules,
                Event::Unsubscribed {
                    client: client.clone(),
                    filter: filter.to_string(),
                },
            );
        }
    }

    fn message_delivered(&self, client: &Arc<ClientInfo>, msg: &Message) {
        if let Some(rules) = self.0.rules_on_message(EventKind::MessageDelivered, msg) {
            self.0.dispatch(
                &rules,
                Event::Delivery {
                    kind: EventKind::MessageDelivered,
                    msg: msg.clone(),
                    from: self.0.publisher(&msg.from),
                    to_id: client.client_id.clone(),
                    to: Some(client.clone()),
                },
            );
        }
    }

    fn message_acked(&self, client_id: &str, msg: &Message) {
        if let Some(rules) = self.0.rules_on_message(EventKind::MessageAcked, msg) {
            self.0.dispatch(
                &rules,
                Event::Delivery {
                    kind: EventKind::MessageAcked,
                    msg: msg.clone(),
                    from: self.0.publisher(&msg.from),
                    to_id: client_id.into(),
                    to: self.0.publisher(client_id),
                },
            );
        }
    }

    fn message_dropped(&self, msg: &Message, reason: &DropReason) {
        if let Some(rules) = self.0.rules_on_message(EventKind::MessageDropped, msg) {
            self.0.dispatch(
                &rules,
                Event::MessageDropped {
                    msg: msg.clone(),
                    from: self.0.publisher(&msg.from),
                    reason: reason.as_str().to_string(),
                },
            );
        }
    }

    fn delivery_dropped(&self, client_id: &str, msg: &Message, reason: &DropReason) {
        if let Some(rules) = self.0.rules_on_message(EventKind::DeliveryDropped, msg) {
            self.0.dispatch(
                &rules,
                Event::DeliveryDropped {
                    msg: msg.clone(),
                    from: self.0.publisher(&msg.from),
                    to_id: client_id.into(),
                    to: self.0.publisher(client_id),
                    reason: reason.as_str().to_string(),
                },
            );
        }
    }

    fn client_check_authn_complete(&self, result: &AuthnComplete) {
        if let Some(rules) = self.0.rules_on(EventKind::ClientCheckAuthnComplete) {
            self.0.dispatch(
                &rules,
                Event::AuthnComplete {
                    client_id: result.client_id.clone(),
                    username: result.username.clone(),
                    peer: result.peer.clone(),
                    reason: result.reason,
                    is_superuser: result.is_superuser,
                    is_anonymous: result.is_anonymous,
                },
            );
        }
    }

    fn client_check_authz_complete(
        &self,
        client: &Arc<ClientInfo>,
        action: Action,
        topic: &str,
        allowed: bool,
        cached: bool,
    ) {
        if let Some(rules) = self.0.rules_on(EventKind::ClientCheckAuthzComplete) {
            self.0.dispatch(
                &rules,
                Event::AuthzComplete {
                    client: client.clone(),
                    topic: topic.to_string(),
                    action: action.as_str(),
                    allowed,
                    cached,
                },
            );
        }
    }
}
