//! The connection at the access-control hook points (EMQX's
//! `client.authenticate` and `client.authorize`): who judges is whoever
//! registered there (crate roost-access, typically); this is how the
//! connection asks and acts on the answers: the enhanced-authentication
//! exchange before CONNACK and re-authentication, the per-client decision
//! cache, reason codes per version, `deny_action`, and the counters.

use super::channel::Accepted;
use super::{ConnState, Deferred, Violation};
use roost_core::authz::{AclCache, Action, DenyAction, Permission};
use roost_core::hooks::{
    AuthRequest, AuthState, Authn, AuthnComplete, Authz, ConnectInfo, HookPoint, Hooks, Identity,
};
use roost_core::{ClientInfo, Metrics};
use roost_protocol::{Auth, Connect, Packet, PropertyValues, ReasonCode, SubAck, Subscribe};
use std::sync::Arc;

/// A connection's access state: who the client is once authenticated, its
/// decision cache, and an enhanced authentication in progress.
#[derive(Default)]
pub(super) struct ClientAccess {
    pub info: Option<Arc<ClientInfo>>,
    /// The accepted CONNECT as `client.connect` saw it, until its CONNACK.
    pub connect_info: Option<Box<ConnectInfo>>,
    cache: AclCache,
    /// An exchange between the server's AUTH 0x18 and the client's answer.
    pub pending: Option<Box<PendingAuth>>,
    /// A re-authentication between the server's AUTH 0x18 and the client's answer.
    pub reauth: Option<Box<(usize, AuthState)>>,
    /// The will's topic, authorized when the will becomes due.
    pub will_topic: Option<String>,
    /// The CONNECT was let in without any authenticator judging it
    /// (`client.check_authn_complete`'s `is_anonymous`).
    pub anonymous: bool,
}

/// A CONNECT waiting for the client's next AUTH: which hook continues, with what.
pub(super) struct PendingAuth {
    hook: usize,
    state: AuthState,
    connect: Connect,
    accepted: Accepted,
}

/// How `client.authenticate` ended for one request.
enum Outcome {
    Allow(Identity),
    Deny(ReasonCode),
    /// Send AUTH 0x18 with this data; hook `.0` continues with the state.
    Continue(usize, Vec<u8>, AuthState),
}

/// Asks the `client.authenticate` hooks in order: the first that does not
/// ignore decides. Nobody deciding lets a plain CONNECT in, and refuses one
/// with an Authentication Method nobody knows (0x8C).
async fn authenticate(
    hooks: &Hooks,
    metrics: &Metrics,
    req: &AuthRequest,
    anonymous: &mut bool,
) -> Outcome {
    for (i, h) in hooks.at(HookPoint::ClientAuthenticate).iter().enumerate() {
        match h.client_authenticate(req).resolve().await {
            Authn::Ignore => {}
            Authn::Allow(identity) => return Outcome::Allow(identity),
            Authn::Deny(code) => return Outcome::Deny(code),
            Authn::Continue { data, state } => return Outcome::Continue(i, data, state),
        }
    }
    if req.method.is_some() {
        return Outcome::Deny(ReasonCode::BadAuthenticationMethod);
    }
    metrics.client_auth_anonymous.inc();
    metrics.authentication_success_anonymous.inc();
    *anonymous = true;
    Outcome::Allow(Identity::default())
}

/// The next step of an exchange hook `hook` continues.
fn continue_with(hooks: &Hooks, hook: usize, state: AuthState, data: &[u8]) -> Outcome {
    let Some(h) = hooks.at(HookPoint::ClientAuthenticate).get(hook) else {
        return Outcome::Deny(ReasonCode::NotAuthorized);
    };
    match h.client_authenticate_continue(state, data) {
        Authn::Allow(identity) => Outcome::Allow(identity),
        Authn::Deny(code) => Outcome::Deny(code),
        Authn::Continue { data, state } => Outcome::Continue(hook, data, state),
        Authn::Ignore => Outcome::Deny(ReasonCode::NotAuthorized),
    }
}

/// The outcome of an authorization check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Nobody judges (nothing registered, or every hook ignored): allowed,
    /// and not counted as a check.
    Skipped,
    Checked {
        allowed: bool,
        cached: bool,
    },
}

impl ClientAccess {
    /// `client.authorize` when no await is needed: nothing to check, a cached
    /// decision, or a hook that answers at once. `None` when a hook has to
    /// wait: then [`Self::authorize`].
    fn authorize_now(
        &mut self,
        hooks: &Hooks,
        cache: &roost_core::authz::AuthzCacheConfig,
        action: Action,
        topic: &str,
    ) -> Option<Decision> {
        let Some(info) = &self.info else {
            return Some(Decision::Skipped);
        };
        if !hooks.has(HookPoint::ClientAuthorize) {
            return Some(Decision::Skipped);
        }
        let topic = roost_core::authz::authorized_topic(topic);
        if let Some(p) = self.cache.get(cache, action, topic) {
            return Some(Decision::Checked {
                allowed: p == Permission::Allow,
                cached: true,
            });
        }
        match hooks.client_authorize(0, info, action, topic) {
            Ok(answer) => Some(self.remember(cache, action, topic, answer)),
            Err(_) => None,
        }
    }

    /// `client.authorize`, waiting for hooks that have to.
    async fn authorize(
        &mut self,
        hooks: &Hooks,
        cache: &roost_core::authz::AuthzCacheConfig,
        action: Action,
        topic: &str,
    ) -> Decision {
        if let Some(d) = self.authorize_now(hooks, cache, action, topic) {
            return d;
        }
        let Some(info) = self.info.clone() else {
            return Decision::Skipped;
        };
        let topic = roost_core::authz::authorized_topic(topic);
        let mut from = 0;
        let answer = loop {
            match hooks.client_authorize(from, &info, action, topic) {
                Ok(answer) => break answer,
                Err((i, wait)) => match wait.await {
                    Authz::Ignore => from = i + 1,
                    answer => break answer,
                },
            }
        };
        self.remember(cache, action, topic, answer)
    }

    /// Caches a hook's decision.
    fn remember(
        &mut self,
        cache: &roost_core::authz::AuthzCacheConfig,
        action: Action,
        topic: &str,
        answer: Authz,
    ) -> Decision {
        let p = match answer {
            Authz::Ignore => return Decision::Skipped,
            Authz::Allow => Permission::Allow,
            Authz::Deny => Permission::Deny,
        };
        self.cache.put(cache, action, topic, p);
        Decision::Checked {
            allowed: p == Permission::Allow,
            cached: false,
        }
    }
}

impl ConnState {
    /// client.authenticate for an accepted CONNECT: the session is opened if
    /// the client is let in, an AUTH 0x18 sent if the exchange goes on.
    pub(super) async fn authenticate(&mut self, c: Connect, accepted: Accepted) {
        let req = AuthRequest {
            client_id: accepted.client_id.clone(),
            username: c.username.as_deref().map(Into::into),
            password: c.password.clone(),
            peer: self.peer.clone(),
            method: c.properties.authentication_method.clone(),
            data: c.properties.authentication_data.clone(),
            reauthenticate: false,
        };
        let hooks = self.ctx.hooks.clone();
        self.ctx.metrics.client_authenticate.inc();
        let mut anonymous = false;
        let outcome = authenticate(&hooks, &self.ctx.metrics, &req, &mut anonymous).await;
        self.access.anonymous = anonymous;
        match outcome {
            Outcome::Allow(identity) => self.open(c, accepted, identity).await,
            Outcome::Deny(reason) => self.authentication_failed(&accepted, reason),
            Outcome::Continue(hook, data, state) => {
                self.write(self.auth_packet_of(
                    ReasonCode::ContinueAuthentication,
                    c.properties.authentication_method.clone(),
                    data,
                ));
                self.access.pending = Some(Box::new(PendingAuth {
                    hook,
                    state,
                    connect: c,
                    accepted,
                }));
            }
        }
    }

    fn auth_packet_of(
        &self,
        reason_code: ReasonCode,
        method: Option<String>,
        data: Vec<u8>,
    ) -> Packet {
        Packet::Auth(Auth {
            reason_code,
            properties: PropertyValues {
                authentication_method: method,
                authentication_data: Some(data.into()),
                ..Default::default()
            }
            .into(),
        })
    }

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

    /// The client's AUTH in the exchange started on CONNECT: it must continue
    /// the same method [MQTT-4.12.0-*].
    pub(super) async fn continue_auth(&mut self, auth: Auth) {
        let pending = self.access.pending.take().expect("an exchange in progress");
        let PendingAuth {
            hook,
            state,
            connect,
            accepted,
        } = *pending;
        if auth.reason_code != ReasonCode::ContinueAuthentication
            || auth.properties.authentication_method != connect.properties.authentication_method
        {
            return self.authentication_failed(&accepted, ReasonCode::ProtocolError);
        }
        let data = auth
            .properties
            .authentication_data
            .as_deref()
            .unwrap_or_default();
        match continue_with(&self.ctx.hooks, hook, state, data) {
            Outcome::Allow(identity) => self.open(connect, accepted, identity).await,
            Outcome::Deny(reason) => self.authentication_failed(&accepted, reason),
            Outcome::Continue(hook, data, state) => {
                self.write(self.auth_packet_of(
                    ReasonCode::ContinueAuthentication,
                    connect.properties.authentication_method.clone(),
                    data,
                ));
                self.access.pending = Some(Box::new(PendingAuth {
                    hook,
                    state,
                    connect,
                    accepted,
                }));
            }
        }
    }

    /// Re-authentication [MQTT-4.12.1]: AUTH 0x19 with the same method starts
    /// it, AUTH 0x18 continues it; success is AUTH 0x00 with the hook's final
    /// data, failure DISCONNECT 0x87. Packets flow meanwhile. What a hook must
    /// wait for is returned, to be finished by [`Self::reauthenticate_later`].
    /// The channel has checked the method already.
    pub(super) fn reauthenticate(&mut self, a: Auth) -> Option<Deferred> {
        let data = a.properties.authentication_data.clone();
        let outcome = match (a.reason_code, self.access.reauth.take()) {
            (ReasonCode::ReAuthenticate, None) => {
                self.ctx.metrics.client_authenticate.inc();
                let req = self.reauth_request(data);
                let hooks = self.ctx.hooks.clone();
                // The first hook that answers at once decides here; a hook
                // that has to wait takes the boxed path.
                let mut outcome = None;
                for (i, h) in hooks.at(HookPoint::ClientAuthenticate).iter().enumerate() {
                    match h.client_authenticate(&req) {
                        roost_core::hooks::Deferred::Now(Authn::Ignore) => {}
                        roost_core::hooks::Deferred::Now(answer) => {
                            outcome = Some(Self::outcome_of(i, answer));
                            break;
                        }
                        roost_core::hooks::Deferred::Later(_) => {
                            return Some(Deferred::ReAuthenticate(Box::new(req)));
                        }
                    }
                }
                outcome.unwrap_or(Outcome::Deny(ReasonCode::NotAuthorized))
            }
            (ReasonCode::ContinueAuthentication, Some(pending)) => {
                let (hook, state) = *pending;
                continue_with(
                    &self.ctx.hooks,
                    hook,
                    state,
                    data.as_deref().unwrap_or_default(),
                )
            }
            _ => {
                self.violation(Violation {
                    reason: ReasonCode::ProtocolError,
                    why: "AUTH out of sequence",
                });
                return None;
            }
        };
        self.reauthenticated(outcome);
        None
    }

    fn reauth_request(&self, data: Option<bytes::Bytes>) -> AuthRequest {
        let info = self.access.info.as_ref();
        AuthRequest {
            client_id: self.channel.client_id.clone(),
            username: info.and_then(|i| i.username.clone()),
            password: None,
            peer: self.peer.clone(),
            method: self.channel.authentication_method().cloned(),
            data,
            reauthenticate: true,
        }
    }

    fn outcome_of(hook: usize, answer: Authn) -> Outcome {
        match answer {
            Authn::Allow(identity) => Outcome::Allow(identity),
            Authn::Deny(code) => Outcome::Deny(code),
            Authn::Continue { data, state } => Outcome::Continue(hook, data, state),
            Authn::Ignore => Outcome::Deny(ReasonCode::NotAuthorized),
        }
    }

    /// A re-authentication whose hook has to wait.
    pub(super) async fn reauthenticate_later(&mut self, req: AuthRequest) {
        let hooks = self.ctx.hooks.clone();
        // The request carries the method, so nobody knowing it is a refusal.
        let outcome = authenticate(&hooks, &self.ctx.metrics, &req, &mut false).await;
        self.reauthenticated(outcome);
    }

    fn reauthenticated(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Allow(identity) => {
                let data = identity.auth_data.unwrap_or_default();
                self.write(self.auth_packet_of(
                    ReasonCode::Success,
                    self.channel.authentication_method().cloned(),
                    data,
                ));
            }
            Outcome::Continue(hook, data, state) => {
                self.access.reauth = Some(Box::new((hook, state)));
                self.write(self.auth_packet_of(
                    ReasonCode::ContinueAuthentication,
                    self.channel.authentication_method().cloned(),
                    data,
                ));
            }
            Outcome::Deny(_) => {
                self.ctx.metrics.authentication_failure.inc();
                tracing::info!(client_id = %self.channel.client_id, "reauthentication_failed");
                self.close(Some(ReasonCode::NotAuthorized));
            }
        }
    }

    pub(super) fn authentication_failed(&mut self, accepted: &Accepted, reason: ReasonCode) {
        self.ctx.metrics.authentication_failure.inc();
        if self.ctx.hooks.has(HookPoint::ClientCheckAuthnComplete) {
            let result = AuthnComplete {
                client_id: accepted.client_id.clone(),
                username: self
                    .access
                    .connect_info
                    .as_ref()
                    .and_then(|c| c.username.clone()),
                peer: self.peer.clone(),
                reason,
                is_superuser: false,
                is_anonymous: false,
            };
            self.ctx
                .hooks
                .notify(HookPoint::ClientCheckAuthnComplete, |h| {
                    h.client_check_authn_complete(&result)
                });
        }
        tracing::info!(peer = %self.peer, client_id = %accepted.client_id, ?reason, "authentication_failed");
        self.refuse(reason);
    }

    /// client.authorize for one publish or filter when no await is needed,
    /// counted; `None` when a hook has to wait: then [`Self::authorize`].
    pub(super) fn authorize_now(&mut self, action: Action, topic: &str) -> Option<bool> {
        let d = self
            .access
            .authorize_now(&self.ctx.hooks, &self.ctx.authz.cache, action, topic)?;
        Some(self.decided(d, action, topic))
    }

    /// client.authorize for one publish or filter, counted; a denial is logged.
    pub(super) async fn authorize(&mut self, action: Action, topic: &str) -> bool {
        let ctx = self.ctx.clone();
        let d = self
            .access
            .authorize(&ctx.hooks, &ctx.authz.cache, action, topic)
            .await;
        self.decided(d, action, topic)
    }

    fn decided(&self, d: Decision, action: Action, topic: &str) -> bool {
        let m = &self.ctx.metrics;
        match d {
            Decision::Skipped => true,
            Decision::Checked { allowed, cached } => {
                self.trace(roost_core::trace::TraceEvent::Authorization {
                    action: action.as_str(),
                    topic,
                    allowed,
                });
                m.client_authorize.inc();
                if let Some(info) = &self.access.info {
                    self.ctx
                        .hooks
                        .notify(HookPoint::ClientCheckAuthzComplete, |h| {
                            h.client_check_authz_complete(info, action, topic, allowed, cached)
                        });
                }
                if cached {
                    m.authorization_cache_hit.inc();
                }
                if allowed {
                    m.authorization_allow.inc();
                } else {
                    m.authorization_deny.inc();
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
        let v5 = self.channel.version.is_v5();
        let disconnect = self.ctx.authz.deny_action == DenyAction::Disconnect;
        if let Some(Packet::PubRec(r)) = &ack {
            if v5 || disconnect {
                // No PUBREL follows an error PUBREC: forget the packet id.
                self.channel.forget_awaiting_rel(r.packet_id);
            }
        }
        if disconnect {
            self.close(Some(ReasonCode::NotAuthorized));
            return;
        }
        match ack {
            Some(Packet::PubAck(mut a)) if v5 => {
                a.reason_code = ReasonCode::NotAuthorized;
                self.write_ack(Packet::PubAck(a), None);
            }
            Some(Packet::PubRec(mut a)) if v5 => {
                a.reason_code = ReasonCode::NotAuthorized;
                self.write_ack(Packet::PubRec(a), None);
            }
            Some(ack) => self.write_ack(ack, None),
            None => {}
        }
    }

    /// Checks each filter of a SUBSCRIBE: denied ones are taken out and their
    /// indexes returned (SUBACK 0x87, 0x80 for 3.x, is spliced in). `Err`
    /// with the check so far when a filter needs an await: finish it with
    /// [`Self::authorize_subscribe`]. `Ok(None)` when nothing is left to
    /// subscribe (SUBACK already written) or the connection closes.
    pub(super) fn authorize_subscribe_now(
        &mut self,
        s: Subscribe,
    ) -> Result<Option<(Subscribe, Vec<usize>)>, Box<SubscribeCheck>> {
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

    /// Finishes a [`SubscribeCheck`] (awaiting the hooks) and subscribes what
    /// is allowed.
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
        if let Some((s, denied)) = self.subscribe_checked(s, denied) {
            self.subscribe(s, denied);
        }
    }

    fn subscribe_checked(
        &mut self,
        mut s: Subscribe,
        denied: Vec<usize>,
    ) -> Option<(Subscribe, Vec<usize>)> {
        if denied.is_empty() {
            return Some((s, denied));
        }
        if self.ctx.authz.deny_action == DenyAction::Disconnect {
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
        Some((s, denied))
    }

    /// The will is authorized when it becomes due, as EMQX checks it at publish
    /// time: when the connection ends without DISCONNECT (a delayed will is
    /// checked then too). A denied will is dropped. Returns the topic when the
    /// check needs an await: then [`Self::authorize_will`].
    pub(super) fn authorize_will_now(&mut self) -> Option<String> {
        let topic = self.access.will_topic.take()?;
        if self.session.is_none() || !self.channel.will_due() {
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
            self.channel.drop_will();
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
