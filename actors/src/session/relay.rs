//! Lossless cross-node takeover (issue 18): the relay between the node a
//! session leaves (A) and the node it moves to (B).
//!
//! 1. B asks A for the session. A closes the connection (0x8E) and answers with
//!    the subscriptions and every message not yet acknowledged (in flight and
//!    queued). A's session stays, unbound, as a relay ([`Relay::To`]): its
//!    subscriptions and routes stay too, so what is still on its way to A for
//!    the client reaches it, and it keeps that, in arrival order.
//! 2. B restores the session (its subscriptions make routes to B known to
//!    every node), marks it [`Relay::From`] A, and tells A it is ready; only
//!    then does the new connection get its CONNACK. A relays what it kept and
//!    whatever else comes, in order.
//! 3. After `cluster.takeover_linger` (every node has B's routes by then), A
//!    removes its routes, relays the rest and says so (`RelayEnd`); its session
//!    is gone. B then delivers the messages that reached it directly during
//!    the relay, which it held back: after the relayed ones, so the order
//!    holds, and without those it got both ways (a publisher's node that knew
//!    both routes for a while sent to both). A publisher's messages arrive in
//!    its order both ways, so the doubles are the held messages of a publisher
//!    that repeat the end of what was relayed from it; they are recognised by
//!    their content (topic, payload, QoS). If B never hears the end (A died),
//!    it stops holding after the linger and [`HOLD_MARGIN`].

use super::live::{Cx, LiveSession, Relay};
use super::{Delivery, SessionMsg, SessionState};
use roost_core::hooks::DropReason;
use roost_core::Message;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// How much longer than the linger B holds direct messages if A never ends
/// the relay, and how much longer A waits for B's ready. A takeover of a
/// session still receiving a relay waits for its end: with the default
/// linger, within the 5 s a takeover waits for its answer.
pub(crate) const HOLD_MARGIN: Duration = Duration::from_secs(2);

/// A message's content, for recognising the two copies of one message.
fn key(m: &Message) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&*m.topic, &m.payload[..], m.qos as u8).hash(&mut h);
    h.finish()
}

/// The largest `k` such that the last `k` of `relayed` are the first `k` of
/// `held`: the messages of one publisher that arrived both ways.
fn overlap(relayed: &[u64], held: &[u64]) -> usize {
    let max = relayed.len().min(held.len());
    (1..=max)
        .rev()
        .find(|&k| relayed[relayed.len() - k..] == held[..k])
        .unwrap_or(0)
}

impl LiveSession {
    /// Takes `d` into the relay, if there is one (see [`Relay`]).
    pub(crate) fn relay_takes(&mut self, d: Delivery) -> Option<Delivery> {
        match self.relay.as_deref_mut() {
            Some(Relay::To { out, .. }) => out.push(d),
            Some(Relay::From { held, .. }) => held.push(d),
            None => return Some(d),
        }
        None
    }

    /// Delivers what the old node relayed, now (never held). A session that
    /// moved on again meanwhile relays it on, in order.
    fn take_relayed(&mut self, cx: &mut Cx, deliveries: Vec<Delivery>) {
        match self.relay.as_deref_mut() {
            Some(Relay::From { relayed, .. }) => {
                for d in &deliveries {
                    relayed
                        .entry(d.message.from.clone())
                        .or_default()
                        .push(key(&d.message));
                }
                for d in deliveries {
                    self.deliver_now(cx, d);
                }
            }
            _ => {
                for d in deliveries {
                    self.deliver(cx, d);
                }
            }
        }
    }

    /// The session moves on before the relay into it ended: what it held
    /// is delivered now (into what it hands over), the doubles left out.
    pub(crate) fn release_held(&mut self, cx: &mut Cx) {
        let from = match self.relay.as_deref() {
            Some(Relay::From { node, .. }) => node.clone(),
            _ => return,
        };
        self.end_relay_from(cx, &from);
    }

    /// The relay from `from` is over: delivers the held messages that did not
    /// also come relayed, in their order.
    fn end_relay_from(&mut self, cx: &mut Cx, from: &str) {
        let ends =
            matches!(self.relay.as_deref(), Some(Relay::From { node, .. }) if &**node == from);
        if !ends {
            return;
        }
        let Some(Relay::From { held, relayed, .. }) = self.relay.take().map(|r| *r) else {
            return;
        };
        let mut held_keys: HashMap<Arc<str>, Vec<u64>> = HashMap::new();
        for d in &held {
            held_keys
                .entry(d.message.from.clone())
                .or_default()
                .push(key(&d.message));
        }
        let mut skip: HashMap<Arc<str>, usize> = held_keys
            .iter()
            .map(|(p, h)| {
                let r = relayed.get(p).map(Vec::as_slice).unwrap_or(&[]);
                (p.clone(), overlap(r, h))
            })
            .collect();
        let doubles: usize = skip.values().sum();
        tracing::debug!(client_id = %cx.client_id, held = held.len(), doubles, "takeover_relay_ended");
        for d in held {
            if let Some(n) = skip.get_mut(&d.message.from).filter(|n| **n > 0) {
                *n -= 1;
                continue;
            }
            self.deliver_now(cx, d);
        }
    }
}

impl SessionState {
    /// Sends what the relay to the new node gathered, once that node is ready.
    pub(super) fn relay_out(&mut self) {
        let (node, out) = {
            let mut d = self.handle.live.lock();
            match d.relay.as_deref_mut() {
                Some(Relay::To {
                    node,
                    ready: true,
                    out,
                }) if !out.is_empty() => (node.clone(), std::mem::take(out)),
                _ => return,
            }
        };
        match self.cx.ctx.router.cluster() {
            Some(cluster) => cluster.relay(&node, &self.cx.client_id, out),
            None => {
                for d in out {
                    self.cx.dropped(&d.message, DropReason::NoSession);
                }
            }
        }
    }

    /// The session moved to `node` (see [`Relay::To`]): it stays, unbound
    /// and with its routes, relaying; stored nowhere any more (the new node
    /// has it).
    pub(super) fn start_relay_to(&mut self, node: Arc<str>, linger: Duration) {
        self.cx
            .ctx
            .relaying
            .insert(self.cx.client_id.clone(), self.handle.clone());
        let mut d = self.handle.live.lock();
        d.data.expiry = 0;
        d.relay = Some(Box::new(Relay::To {
            node,
            ready: false,
            out: Vec::new(),
        }));
        // If the new node never says it is ready, the relay still ends.
        self.cx
            .myself
            .send_after(linger + HOLD_MARGIN, || SessionMsg::RelayDone);
    }

    /// The new node restored the session: relay from now on, for the linger.
    pub(super) fn relay_ready(&mut self, node: &str) {
        let ready = {
            let mut d = self.handle.live.lock();
            match d.relay.as_deref_mut() {
                Some(Relay::To {
                    node: to, ready, ..
                }) if &**to == node => {
                    *ready = true;
                    true
                }
                _ => false,
            }
        };
        if ready {
            let linger = self.linger();
            self.cx.myself.send_after(linger, || SessionMsg::RelayDone);
            self.relay_out();
        }
    }

    /// The linger is over: routes removed, the rest relayed, the end told,
    /// and the session ends here. True if it ended (the actor stops).
    pub(super) async fn relay_done(&mut self) -> bool {
        let node = {
            let mut d = self.handle.live.lock();
            match d.relay.as_deref_mut() {
                Some(Relay::To { node, ready, .. }) => {
                    *ready = true;
                    node.clone()
                }
                _ => return false,
            }
        };
        let subs = self.take_subscriptions();
        // The client came back to this node meanwhile: its new session's
        // subscriptions replaced these in the index (routes are per client
        // id), so they are its own now and stay.
        if !self.cx.ctx.sessions.contains_key(&self.cx.client_id) {
            for r in &subs {
                self.remove_route(&r.filter, r.group.clone()).await;
            }
        }
        self.drain_inbox();
        let left = self.handle.close();
        {
            let mut d = self.handle.live.lock();
            if let Some(Relay::To { out, .. }) = d.relay.as_deref_mut() {
                out.extend(left);
            }
        }
        self.relay_out();
        self.handle.live.lock().relay = None;
        self.cx
            .ctx
            .relaying
            .remove_if(&self.cx.client_id, |_, h| Arc::ptr_eq(h, &self.handle));
        if let Some(cluster) = self.cx.ctx.router.cluster() {
            cluster.relay_end(&node, &self.cx.client_id);
        }
        tracing::debug!(client_id = %self.cx.client_id, to = %node, "takeover_relay_done");
        true
    }

    /// The session arrived from `node`, which relays (see [`Relay::From`]):
    /// set before its subscriptions are made, so everything that reaches it
    /// directly is held until the relay ends.
    pub(super) fn start_relay_from(&mut self, node: Arc<str>) {
        self.handle.live.lock().relay = Some(Box::new(Relay::From {
            node: node.clone(),
            held: Vec::new(),
            relayed: HashMap::new(),
        }));
        let hold = self.linger() + HOLD_MARGIN;
        self.cx
            .myself
            .send_after(hold, move || SessionMsg::RelayEnd(node.clone()));
    }

    /// A new actor on a session in a relay (its predecessor crashed): the
    /// timers that end the relay are armed again, in full.
    pub(super) fn rearm_relay(&mut self) {
        let linger = self.linger();
        let node = match self.handle.live.lock().relay.as_deref() {
            Some(Relay::To { .. }) => None,
            Some(Relay::From { node, .. }) => Some(node.clone()),
            None => return,
        };
        match node {
            None => self
                .cx
                .myself
                .send_after(linger + HOLD_MARGIN, || SessionMsg::RelayDone),
            Some(node) => self.cx.myself.send_after(linger + HOLD_MARGIN, move || {
                SessionMsg::RelayEnd(node.clone())
            }),
        };
    }

    /// The relay into this session (it moved here moments ago) is on.
    pub(super) fn relaying_in(&self) -> bool {
        matches!(
            self.handle.live.lock().relay.as_deref(),
            Some(Relay::From { .. })
        )
    }

    /// Restored: the old node may relay now.
    pub(super) fn tell_ready(&self, node: &str) {
        if let Some(cluster) = self.cx.ctx.router.cluster() {
            cluster.relay_ready(node, &self.cx.client_id);
        }
    }

    pub(super) fn take_relayed(&mut self, deliveries: Vec<Delivery>) {
        self.handle
            .live
            .lock()
            .take_relayed(&mut self.cx, deliveries);
    }

    pub(super) fn end_relay_from(&mut self, node: &str) {
        self.handle.live.lock().end_relay_from(&mut self.cx, node);
    }

    fn linger(&self) -> Duration {
        self.cx
            .ctx
            .router
            .cluster()
            .map_or(Duration::ZERO, |c| c.takeover_linger())
    }
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn the_overlap_is_the_relayed_tail_that_starts_the_held() {
        assert_eq!(overlap(&[1, 2, 3, 4], &[3, 4, 5]), 2);
        assert_eq!(overlap(&[1, 2], &[3, 4]), 0);
        assert_eq!(overlap(&[], &[3]), 0);
        assert_eq!(overlap(&[1, 2, 3], &[1, 2, 3]), 3);
        // Repeated contents: the longest match (the two copies of "7, 7").
        assert_eq!(overlap(&[7, 7], &[7, 7, 8]), 2);
    }
}
