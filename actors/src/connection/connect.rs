//! CONNECT: the channel's checks, the `client.connect` and
//! `client.authenticate` hook points, the session opened (or taken over,
//! here or on another node) through the registry, and the CONNACK with
//! `client.connack` and `client.connected`.

use super::channel::Accepted;
use super::{peer, ConnState};
use crate::session::{BindArgs, Binding};
use roost_core::hooks::{AuthnComplete, ConnectInfo, HookPoint, Identity};
use roost_core::ClientInfo;
use roost_protocol::{ConnAck, Connect, Packet, ReasonCode};
use std::sync::Arc;
use std::time::SystemTime;

impl ConnState {
    pub(super) async fn connect(&mut self, mut c: Connect) {
        peer::apply_peer_cert_identity(&mut c, &self.peer, self.peer_cert_as);
        let accepted = match self.channel.connect(&c) {
            Ok(a) => a,
            Err(reason) => {
                tracing::info!(peer = %self.peer, client_id = %c.client_id, ?reason, "connect_refused");
                self.write(Packet::ConnAck(ConnAck {
                    reason_code: reason,
                    ..Default::default()
                }));
                self.close(None);
                return;
            }
        };
        if self
            .ctx
            .config
            .overload_protection
            .refuse_new_conn(&self.ctx.alarms)
        {
            // `overload_protection`: 0x89 Server busy (3.1.1: 0x03 Server unavailable).
            tracing::warn!(peer = %self.peer, "connect_refused_overloaded");
            self.refuse(ReasonCode::ServerBusy);
            return;
        }
        let info = ConnectInfo {
            client_id: accepted.client_id.clone(),
            username: c.username.as_deref().map(Into::into),
            peer: self.peer.clone(),
            proto_ver: c.protocol,
            clean_start: accepted.clean_start,
            keepalive: accepted.keep_alive,
        };
        // client.connect (bans live there), then client.authenticate: EMQX's order.
        let refused = self.ctx.hooks.client_connect(&info);
        self.access.connect_info = Some(Box::new(info));
        if let Err(reason) = refused {
            if reason == ReasonCode::Banned {
                self.ctx.metrics.client_banned.inc();
                tracing::info!(peer = %self.peer, client_id = %accepted.client_id, "connect_banned");
            } else {
                tracing::info!(peer = %self.peer, client_id = %accepted.client_id, ?reason, "connect_refused_by_hook");
            }
            self.refuse(reason);
            return;
        }
        self.authenticate(c, accepted).await;
    }

    /// Opens (or resumes) the session of an authenticated client and sends
    /// CONNACK (with the final Authentication Data of an enhanced
    /// authentication).
    pub(super) async fn open(&mut self, c: Connect, accepted: Accepted, identity: Identity) {
        self.ctx.metrics.authentication_success.inc();
        let info = Arc::new(ClientInfo {
            client_id: accepted.client_id.clone(),
            username: c.username.clone().or(identity.username).map(Into::into),
            peer: self.peer.clone(),
            proto_ver: c.protocol,
            is_superuser: identity.is_superuser,
            attrs: identity.attrs,
            clean_start: accepted.clean_start,
            keepalive: accepted.keep_alive,
            expiry_interval: accepted.expiry,
            connected_at: SystemTime::now(),
        });
        self.access.will_topic = accepted.will.as_ref().map(|w| w.topic.clone());
        self.access.info = Some(info.clone());
        if self.ctx.hooks.has(HookPoint::ClientCheckAuthnComplete) {
            let result = AuthnComplete {
                client_id: info.client_id.clone(),
                username: info.username.clone(),
                peer: info.peer.clone(),
                reason: ReasonCode::Success,
                is_superuser: info.is_superuser,
                is_anonymous: self.access.anonymous,
            };
            self.ctx
                .hooks
                .notify(HookPoint::ClientCheckAuthnComplete, |h| {
                    h.client_check_authn_complete(&result)
                });
        }
        let bind = BindArgs {
            binding: Binding {
                conn: self.handle.clone(),
                version: c.protocol,
                receive_maximum: accepted.receive_maximum,
            },
            client: info.clone(),
            clean_start: accepted.clean_start,
            expiry: accepted.expiry,
            will: accepted.will.clone(),
        };
        let client_id = accepted.client_id.clone();
        // A client id is unique cluster-wide: the id's cluster-wide lock is
        // held from the takeover to the open, so two CONNECTs of one id on two
        // nodes go one after the other (the second takes the session over).
        // If no session of it lives here, another node may hold it; that node
        // closes it (0x8E) and hands the session over when this connection
        // resumes it.
        let mut lock = None;
        let mut transferred = None;
        if let Some(cluster) = self.ctx.router.cluster().cloned() {
            let Some(held) = cluster.lock_client(client_id.clone()).await else {
                tracing::warn!(client_id = %client_id, "connect_refused_client_lock_busy");
                self.refuse(ReasonCode::ServerUnavailable);
                return;
            };
            lock = Some(held);
            if !self.ctx.sessions.contains_key(&client_id) {
                transferred = cluster
                    .takeover(client_id.clone(), !accepted.clean_start)
                    .await
                    .map(Box::new);
            }
        }
        let opened = self.ctx.opener.open(client_id, bind, transferred).await;
        drop(lock);
        let (session, reply) = match opened {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(client_id = %accepted.client_id, error = %why, "session_open_failed");
                self.refuse(ReasonCode::ServerUnavailable);
                return;
            }
        };
        self.channel
            .restore_awaiting_rel(reply.awaiting_rel, std::time::Instant::now());
        *self.ack_route.write() = Some(session.clone());
        self.session = Some(session);
        let timeout = self
            .channel
            .keepalive_timeout(accepted.keep_alive)
            .map_or(0, |d| d.as_millis() as u64);
        self.read_timeout_ms.send_replace(timeout);
        let mut connack = self.channel.connack(&accepted, reply.session_present, &c);
        if let Some(data) = identity.auth_data {
            connack.properties.authentication_method =
                self.channel.authentication_method().cloned();
            connack.properties.authentication_data = Some(data.into());
        }
        self.handle.set_client(info.clone());
        self.park_after = true;
        tracing::debug!(peer = %self.peer, client_id = %accepted.client_id, version = ?c.protocol, "client_connected");
        self.connack(connack);
        self.ctx
            .hooks
            .notify(HookPoint::ClientConnected, |h| h.client_connected(&info));
        self.trace(roost_core::trace::TraceEvent::Connected);
    }

    /// Refuses the CONNECT with `reason` and closes.
    pub(super) fn refuse(&mut self, reason: ReasonCode) {
        self.connack(ConnAck {
            reason_code: reason,
            ..Default::default()
        });
        self.close(None);
    }

    /// Writes the CONNACK, after `client.connack`.
    fn connack(&mut self, connack: ConnAck) {
        if connack.reason_code != ReasonCode::Success {
            self.ctx.metrics.connack_refused(connack.reason_code);
        }
        if let Some(info) = self.access.connect_info.take() {
            self.ctx.hooks.notify(HookPoint::ClientConnack, |h| {
                h.client_connack(&info, connack.reason_code)
            });
        }
        self.write(Packet::ConnAck(connack));
    }
}
