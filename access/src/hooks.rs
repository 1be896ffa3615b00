//! How access control attaches to the broker: [`Access`] is a
//! [`roost_core::Hook`], registered by [`Access::register`] at the points its
//! configuration gives it something to do:
//!
//! - `client.connect`, always: bans are added at runtime through the API, and
//!   CONNECT is not the hot path (one table read per CONNECT);
//! - `client.authenticate`, when the chain has a say ([`crate::authn::Chain::judges`]):
//!   some authenticator, or `allow_anonymous: false`;
//! - `client.authorize`, when authorization could ever decide something: a
//!   source, `no_match: deny`, or an authenticator that gives clients rules of
//!   their own (JWT).
//!
//! The default configuration (no authenticators, anonymous clients allowed, no
//! sources, `no_match: allow`) thus registers `client.connect` alone, and the
//! runtime's publish path sees an empty `client.authorize`.

use crate::{authz, Access};
use roost_core::authz::{Action, Permission};
use roost_core::hooks::{
    AuthRequest, AuthState, Authn, Authz, ConnectInfo, Deferred, DisconnectReason, Hook, HookPoint,
    HooksBuilder,
};
use roost_core::ClientInfo;
use roost_protocol::ReasonCode;
use std::sync::Arc;

/// Where bans run: before anything else (EMQX checks them in the channel,
/// before any hook).
pub const PRIORITY_BANNED: i32 = 1000;
/// EMQX's `HP_AUTHN`.
pub const PRIORITY_AUTHN: i32 = 970;
/// EMQX's `HP_AUTHZ`.
pub const PRIORITY_AUTHZ: i32 = 960;

impl Access {
    /// Registers access control at the points where its configuration can do
    /// something (see the module's documentation).
    pub fn register(self: &Arc<Self>, hooks: &mut HooksBuilder) {
        let hook: Arc<dyn Hook> = self.clone();
        for point in self.points() {
            let priority = match point {
                HookPoint::ClientConnect => PRIORITY_BANNED,
                HookPoint::ClientAuthenticate => PRIORITY_AUTHN,
                _ => PRIORITY_AUTHZ,
            };
            hooks.add(point, priority, hook.clone());
        }
    }

    /// The points [`Self::register`] registers.
    pub fn points(&self) -> Vec<HookPoint> {
        let mut points = vec![HookPoint::ClientConnect];
        if self.flapping.is_some() {
            points.push(HookPoint::ClientDisconnected);
        }
        if self.chain.judges() {
            points.push(HookPoint::ClientAuthenticate);
        }
        if !self.authorizer.allows_everything() || self.chain.gives_rules() {
            points.push(HookPoint::ClientAuthorize);
        }
        points
    }
}

impl Hook for Access {
    /// A ban on the client id, the user name or the peer's address refuses the
    /// CONNECT with 0x8A Banned (the runtime maps it for 3.1.1), before
    /// authentication, as EMQX.
    fn client_connect(&self, conn: &ConnectInfo) -> Result<(), ReasonCode> {
        if self.check_banned(&conn.client_id, conn.username.as_deref(), &conn.peer) {
            return Err(ReasonCode::Banned);
        }
        Ok(())
    }

    /// The chain's answer; with `authentication_throttle`, a CONNECT whose
    /// client id, user name or address failed too often lately is refused with
    /// 0x9F before any password is checked, and failures are counted.
    fn client_authenticate(&self, req: &AuthRequest) -> Deferred<Authn> {
        let throttle = match &self.throttle {
            Some(t) if !req.reauthenticate && req.method.is_none() => t,
            _ => return self.chain.authenticate(req),
        };
        if throttle.blocked(req) {
            tracing::debug!(client_id = %req.client_id, "authn_blocked");
            return Deferred::Now(Authn::Deny(ReasonCode::ConnectionRateExceeded));
        }
        let failed = |a: &Authn| matches!(a, Authn::Deny(_));
        match self.chain.authenticate(req) {
            Deferred::Now(answer) => {
                throttle.outcome(req, failed(&answer));
                Deferred::Now(answer)
            }
            Deferred::Later(answer) => {
                let (throttle, req) = (throttle.clone(), req.clone());
                Deferred::Later(Box::pin(async move {
                    let answer = answer.await;
                    throttle.outcome(&req, failed(&answer));
                    answer
                }))
            }
        }
    }

    /// `flapping_detect`: one disconnection too many in the window bans the
    /// client id for `ban_time` (an entry of the banned table).
    fn client_disconnected(&self, client: &Arc<ClientInfo>, _reason: DisconnectReason) {
        let Some(ban) = self
            .flapping
            .as_ref()
            .and_then(|f| f.disconnected(&client.client_id))
        else {
            return;
        };
        if let Err(e) = roost_core::banned::BanList::put(&self.banned, ban) {
            tracing::warn!(client_id = %client.client_id, error = %e, "flapping_ban_failed");
        }
    }

    /// The SCRAM client-final message, for the exchange
    /// [`Self::client_authenticate`] began.
    fn client_authenticate_continue(&self, state: AuthState, data: &[u8]) -> Authn {
        self.chain.scram_final(state, data)
    }

    /// The decision, without a cache (the runtime keeps one per client). A
    /// client the configuration lets do anything, and that has no rules of its
    /// own, is ignored: nothing is checked, so nothing is counted.
    fn client_authorize(
        &self,
        client: &Arc<ClientInfo>,
        action: Action,
        topic: &str,
    ) -> Deferred<Authz> {
        if self.authorizer.allows_everything() && authz::client_rules(client).is_empty() {
            return Deferred::Now(Authz::Ignore);
        }
        let topic = roost_core::authz::authorized_topic(topic);
        match self.authorizer.decide_now(client, action, topic) {
            Ok(p) => Deferred::Now(verdict(p)),
            Err(at) => {
                let authorizer = self.authorizer.clone();
                let client = client.clone();
                let topic = topic.to_string();
                Deferred::Later(Box::pin(async move {
                    verdict(authorizer.decide_from(at, &client, action, &topic).await)
                }))
            }
        }
    }
}

fn verdict(p: Permission) -> Authz {
    match p {
        Permission::Allow => Authz::Allow,
        Permission::Deny => Authz::Deny,
    }
}

#[cfg(test)]
mod tests;
