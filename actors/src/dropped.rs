//! Where every dropped message and delivery is counted and told to the
//! `message.dropped` and `delivery.dropped` hooks: one place maps a drop's
//! reason to its counter, so no drop is counted twice or not at all.

use roost_core::hooks::{DropReason, HookPoint, Hooks};
use roost_core::{Message, Metrics};

/// A published message reached nobody.
pub fn message(metrics: &Metrics, hooks: &Hooks, msg: &Message, reason: DropReason) {
    metrics.message_dropped(&reason);
    if hooks.has(HookPoint::MessageDropped) {
        hooks.notify(HookPoint::MessageDropped, |h| {
            h.message_dropped(msg, &reason)
        });
    }
}

/// One delivery of `msg` to `client_id` was dropped.
pub fn delivery(
    metrics: &Metrics,
    hooks: &Hooks,
    client_id: &str,
    msg: &Message,
    reason: DropReason,
) {
    metrics.delivery_dropped(&reason);
    if hooks.has(HookPoint::DeliveryDropped) {
        hooks.notify(HookPoint::DeliveryDropped, |h| {
            h.delivery_dropped(client_id, msg, &reason)
        });
    }
}
