//! The connection's access-control hooks (EMQX's `client.authenticate` and
//! `client.authorize`): the SCRAM exchange before CONNACK and re-authentication,
//! and authorization of each PUBLISH, SUBSCRIBE filter and the will. The
//! decisions themselves are in `crate::access`; this is how the connection acts
//! on them (reason codes per version, `deny_action`, counters).

use super::channel::Accepted;
use super::{ConnState, Deferred, Violation};
use crate::access::authn::Started;
use crate::access::authz::rule::Action;
use crate::access::{AuthDecision, PendingAuth};
use roost_protocol::{Auth, Packet, ReasonCode, SubAck, Subscribe};

impl ConnState {
    /// A packet during enhanced authentication: the client's AUTH goes on with
    /// the exchange (returned, to be finished by [`Self::continue_auth`]: the
    /// session is opened then); anything else is a protocol error [MQTT-4.12.0-*].
    pub(super) fn auth_packet(&mut self, packet: Packet) -> Option<Deferred> {
        match packet {
            Packet::Auth(a) => Some(Deferred::ContinueAuth(Box::new(a))),
            _ => {
                let pending = self.access.pending.take().expect("an exchange in progress");
                self.authentication_failed(&pending.accepted, ReasonCode::ProtocolError);
                None
            }
        }
    }

    /// The client-final AUTH of the exchange started on CONNECT.
    pub(super) async fn continue_auth(&mut self, auth: Auth) {
        let pending = self.access.pending.take().expect("an exchange in progress");
        let PendingAuth {
            scram,
            connect,
            accepted,
        } = *pending;
        match self.ctx.access.chain.scram_final(*scram, &auth) {
            Ok((identity, server_final)) => {
                self.open(connect, accepted, identity, Some(server_final))
                    .await
            }
            Err(reason) => self.authentication_failed(&accepted, reason),
        }
    }

    /// Re-authentication [MQTT-4.12.1]: AUTH 0x19 with a new client-first message
    /// starts it (same method), AUTH 0x18 finishes it; success is AUTH 0x00 with
    /// the server-final message, failure DISCONNECT 0x87. Packets flow meanwhile.
    pub(super) fn reauthenticate(&mut self, a: roost_protocol::Auth) {
        if a.properties.authentication_method != self.access.method {
            return self.violation(Violation {
                reason: ReasonCode::ProtocolError,
                why: "re-authentication with another method",
            });
        }
        let data = a
            .properties
            .authentication_data
            .as_deref()
            .unwrap_or_default();
        let access = self.ctx.access.clone();
        let outcome = match (a.reason_code, self.access.reauth.take()) {
            (ReasonCode::ReAuthenticate, None) => match access.chain.scram_first(data) {
                Started::Continue(auth, scram) => {
                    self.access.reauth = Some(scram);
                    self.write(Packet::Auth(*auth));
                    return;
                }
                Started::Done(r) => r.map(|_| Vec::new()),
            },
            (ReasonCode::ContinueAuthentication, Some(scram)) => access
                .chain
                .scram_final(*scram, &a)
                .map(|(_, server_final)| server_final),
            _ => {
                return self.violation(Violation {
                    reason: ReasonCode::ProtocolError,
                    why: "AUTH out of sequence",
                })
            }
        };
        match outcome {
            Ok(server_final) => self.write(Packet::Auth(roost_protocol::Auth {
                reason_code: ReasonCode::Success,
                properties: roost_protocol::PropertyValues {
                    authentication_method: self.access.method.clone(),
                    authentication_data: Some(server_final.into()),
                    ..Default::default()
                }
                .into(),
            })),
            Err(_) => {
                self.ctx.metrics.inc_authentication_failure();
                tracing::info!(client_id = %self.channel.client_id, "reauthentication_failed");
                self.close(Some(ReasonCode::NotAuthorized));
            }
        }
    }

    pub(super) fn authentication_failed(&mut self, accepted: &Accepted, reason: ReasonCode) {
        self.ctx.metrics.inc_authentication_failure();
        tracing::info!(peer = %self.peer, client_id = %accepted.client_id, ?reason, "authentication_failed");
        self.refuse(reason);
    }

    /// client.authorize for one publish or filter when no await is needed
    /// (see [`crate::access::ClientAccess::authorize_now`]), counted; `None`
    /// when an HTTP authorizer must be asked: then [`Self::authorize`].
    pub(super) fn authorize_now(&mut self, action: Action, topic: &str) -> Option<bool> {
        match self.access.authorize_now(&self.ctx.access, action, topic) {
            Ok(d) => Some(self.decided(d, action, topic)),
            Err(_) => None,
        }
    }

    /// client.authorize for one publish or filter, counted; a denial is logged.
    pub(super) async fn authorize(&mut self, action: Action, topic: &str) -> bool {
        let d = match self.access.authorize_now(&self.ctx.access, action, topic) {
            Ok(d) => d,
            Err(at) => {
                self.access
                    .authorize_from(&self.ctx.access, at, action, topic)
                    .await
            }
        };
        self.decided(d, action, topic)
    }

    fn decided(&self, d: AuthDecision, action: Action, topic: &str) -> bool {
        let m = &self.ctx.metrics;
        match d {
            AuthDecision::Skipped => true,
            AuthDecision::Checked { allowed, cached } => {
                if cached {
                    m.inc_authorization_cache_hit();
                }
                if allowed {
                    m.inc_authorization_allow();
                } else {
                    m.inc_authorization_deny();
                    tracing::info!(client_id = %self.channel.client_id, action = action.as_str(), topic, "not_authorized");
                }
                allowed
            }
        }
    }

    /// A denied PUBLISH: 5.0 gets PUBACK/PUBREC 0x87, 3.1.1 an ordinary ack (it
    /// has no way to say no; EMQX does the same), QoS 0 nothing; the message is
    /// dropped. With `deny_action: disconnect` the connection is closed instead
    /// (DISCONNECT 0x87 for 5.0).
    pub(super) fn publish_denied(&mut self, ack: Option<Packet>) {
        use crate::access::config::DenyAction;
        let v5 = self.channel.version.is_v5();
        if let Some(Packet::PubRec(r)) = &ack {
            let disconnect =
                self.ctx.access.authorizer.config.deny_action == DenyAction::Disconnect;
            if v5 || disconnect {
                // No PUBREL follows an error PUBREC: forget the packet id.
                let _ = self.channel.pubrel(r.packet_id);
            }
        }
        if self.ctx.access.authorizer.config.deny_action == DenyAction::Disconnect {
            self.close(Some(ReasonCode::NotAuthorized));
            return;
        }
        match ack {
            Some(Packet::PubAck(mut a)) if v5 => {
                a.reason_code = ReasonCode::NotAuthorized;
                self.write(Packet::PubAck(a));
            }
            Some(Packet::PubRec(mut a)) if v5 => {
                a.reason_code = ReasonCode::NotAuthorized;
                self.write(Packet::PubRec(a));
            }
            Some(ack) => self.write(ack),
            None => {}
        }
    }

    /// Checks each filter of a SUBSCRIBE: denied ones are taken out (SUBACK 0x87,
    /// 0x80 for 3.x, is spliced in when the session answers). `Err` with the
    /// check so far when a filter needs an await (an HTTP authorizer): finish
    /// it with [`Self::authorize_subscribe`]. `Ok(None)` when nothing is left
    /// for the session (SUBACK already written) or the connection closes.
    pub(super) fn authorize_subscribe_now(
        &mut self,
        s: Subscribe,
    ) -> Result<Option<Subscribe>, Box<SubscribeCheck>> {
        let mut denied = Vec::new();
        for (i, (filter, _)) in s.filters.iter().enumerate() {
            match self.authorize_now(Action::Subscribe, filter) {
                Some(true) => {}
                Some(false) => denied.push(i),
                None => {
                    return Err(Box::new(SubscribeCheck {
                        subscribe: s,
                        denied,
                        next: i,
                    }))
                }
            }
        }
        Ok(self.subscribe_checked(s, denied))
    }

    /// Finishes a [`SubscribeCheck`] (awaiting the authorizer) and hands what is
    /// allowed to the session.
    pub(super) async fn authorize_subscribe(&mut self, check: SubscribeCheck) {
        let SubscribeCheck {
            subscribe: s,
            mut denied,
            next,
        } = check;
        for (i, (filter, _)) in s.filters.iter().enumerate().skip(next) {
            if !self.authorize(Action::Subscribe, filter).await {
                denied.push(i);
            }
        }
        if let Some(s) = self.subscribe_checked(s, denied) {
            self.subscribe(s);
        }
    }

    fn subscribe_checked(&mut self, mut s: Subscribe, denied: Vec<usize>) -> Option<Subscribe> {
        use crate::access::config::DenyAction;
        if denied.is_empty() {
            return Some(s);
        }
        if self.ctx.access.authorizer.config.deny_action == DenyAction::Disconnect {
            self.close(Some(ReasonCode::NotAuthorized));
            return None;
        }
        if denied.len() == s.filters.len() {
            self.write(Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                reason_codes: vec![ReasonCode::NotAuthorized; denied.len()],
                ..Default::default()
            }));
            return None;
        }
        for &i in denied.iter().rev() {
            s.filters.remove(i);
        }
        self.access.denied_filters = denied;
        Some(s)
    }

    /// The will is authorized when it becomes due, as EMQX checks it at publish
    /// time: when the connection ends without DISCONNECT (a delayed will is
    /// checked then too). A denied will is dropped. Returns the topic when the
    /// check needs an await: then [`Self::authorize_will`].
    pub(super) fn authorize_will_now(&mut self) -> Option<String> {
        let topic = self.access.will_topic.take()?;
        let (publish_will, _) = self.channel.disconnect.unwrap_or((true, None));
        if self.session.is_none() || !publish_will {
            return None;
        }
        match self.authorize_now(Action::Publish, &topic) {
            Some(allowed) => {
                self.will_checked(allowed);
                None
            }
            None => Some(topic),
        }
    }

    pub(super) async fn authorize_will(&mut self, topic: String) {
        let allowed = self.authorize(Action::Publish, &topic).await;
        self.will_checked(allowed);
    }

    fn will_checked(&mut self, allowed: bool) {
        if !allowed {
            let (_, expiry) = self.channel.disconnect.unwrap_or((true, None));
            self.channel.disconnect = Some((false, expiry));
        }
    }
}

/// A SUBSCRIBE whose filters are being authorized: `denied` so far, `next`
/// the first filter not checked yet.
pub(super) struct SubscribeCheck {
    subscribe: Subscribe,
    denied: Vec<usize>,
    next: usize,
}
