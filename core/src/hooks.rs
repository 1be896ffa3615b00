//! Hook points: where the broker tells, and asks, whoever registered (EMQX's
//! `emqx_hooks` and `emqx_hookpoints`). Access control registers on
//! `client.authenticate` and `client.authorize`, the rule engine on
//! `message.publish` and the events, integrations on what they forward; none
//! of them knows the runtime, and the runtime does not know who listens.
//!
//! A hook is an object implementing [`Hook`], registered for the points it
//! serves with a priority (higher runs first; equal priorities run in the order
//! registered). Its methods are plain functions: a point with nothing
//! registered costs the runtime one branch, with no allocation, no boxing and
//! no lock; a registered hook is called directly, not through a boxed future.
//! Only a hook that has to wait for something (an HTTP authenticator or
//! authorizer) answers [`Deferred::Later`], and only then is a future boxed.
//! Work that takes time (rules, integrations) belongs on a worker behind a
//! bounded queue: a hook runs in the publisher's or the connection's context.
//!
//! The registry is built before the broker starts ([`HooksBuilder`]) and fixed
//! afterwards: an extension whose own state changes (rules added through the
//! API) registers once and consults that state.

use crate::authz::Action;
use crate::client::{ClientInfo, PeerInfo};
use crate::message::Message;
use crate::BoxFuture;
use bytes::Bytes;
use roost_protocol::{ProtocolVersion, ReasonCode, SubscriptionOptions};
use std::any::Any;
use std::sync::Arc;

/// The named hook points, as EMQX names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookPoint {
    ClientConnect,
    ClientConnack,
    ClientAuthenticate,
    ClientAuthorize,
    ClientConnected,
    ClientDisconnected,
    SessionCreated,
    SessionSubscribed,
    SessionUnsubscribed,
    SessionResumed,
    SessionTakenover,
    SessionDiscarded,
    SessionTerminated,
    MessagePublish,
    MessageDelivered,
    MessageAcked,
    MessageDropped,
    DeliveryDropped,
    ClientCheckAuthnComplete,
    ClientCheckAuthzComplete,
}

/// How many points there are.
const POINTS: usize = 20;

impl HookPoint {
    /// Every point, in the order above.
    pub const ALL: [HookPoint; POINTS] = [
        HookPoint::ClientConnect,
        HookPoint::ClientConnack,
        HookPoint::ClientAuthenticate,
        HookPoint::ClientAuthorize,
        HookPoint::ClientConnected,
        HookPoint::ClientDisconnected,
        HookPoint::SessionCreated,
        HookPoint::SessionSubscribed,
        HookPoint::SessionUnsubscribed,
        HookPoint::SessionResumed,
        HookPoint::SessionTakenover,
        HookPoint::SessionDiscarded,
        HookPoint::SessionTerminated,
        HookPoint::MessagePublish,
        HookPoint::MessageDelivered,
        HookPoint::MessageAcked,
        HookPoint::MessageDropped,
        HookPoint::DeliveryDropped,
        HookPoint::ClientCheckAuthnComplete,
        HookPoint::ClientCheckAuthzComplete,
    ];

    /// The EMQX name: `client.connect`, `message.publish`...
    pub fn name(self) -> &'static str {
        match self {
            HookPoint::ClientConnect => "client.connect",
            HookPoint::ClientConnack => "client.connack",
            HookPoint::ClientAuthenticate => "client.authenticate",
            HookPoint::ClientAuthorize => "client.authorize",
            HookPoint::ClientConnected => "client.connected",
            HookPoint::ClientDisconnected => "client.disconnected",
            HookPoint::SessionCreated => "session.created",
            HookPoint::SessionSubscribed => "session.subscribed",
            HookPoint::SessionUnsubscribed => "session.unsubscribed",
            HookPoint::SessionResumed => "session.resumed",
            HookPoint::SessionTakenover => "session.takenover",
            HookPoint::SessionDiscarded => "session.discarded",
            HookPoint::SessionTerminated => "session.terminated",
            HookPoint::MessagePublish => "message.publish",
            HookPoint::MessageDelivered => "message.delivered",
            HookPoint::MessageAcked => "message.acked",
            HookPoint::MessageDropped => "message.dropped",
            HookPoint::DeliveryDropped => "delivery.dropped",
            HookPoint::ClientCheckAuthnComplete => "client.check_authn_complete",
            HookPoint::ClientCheckAuthzComplete => "client.check_authz_complete",
        }
    }

    /// The point named `name` (an EMQX hookpoint name).
    pub fn from_name(name: &str) -> Option<HookPoint> {
        HookPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A hook's answer now, or a future for it when it has to wait.
pub enum Deferred<T> {
    Now(T),
    Later(BoxFuture<'static, T>),
}

impl<T> Deferred<T> {
    /// The answer, waiting for it if it is deferred.
    pub async fn resolve(self) -> T {
        match self {
            Deferred::Now(t) => t,
            Deferred::Later(f) => f.await,
        }
    }
}

/// What the connection knows of a client at CONNECT, before authentication
/// (`client.connect`, `client.connack`).
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    pub client_id: Arc<str>,
    pub username: Option<Arc<str>>,
    pub peer: PeerInfo,
    pub proto_ver: ProtocolVersion,
    pub clean_start: bool,
    pub keepalive: u16,
}

/// What a CONNECT (or a re-authentication) offers for authentication.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: Arc<str>,
    pub username: Option<Arc<str>>,
    pub password: Option<Bytes>,
    pub peer: PeerInfo,
    /// The MQTT 5.0 Authentication Method (enhanced authentication), if any.
    pub method: Option<String>,
    /// The Authentication Data of the CONNECT, or of the AUTH 0x19 that starts
    /// a re-authentication.
    pub data: Option<Bytes>,
    /// A re-authentication of a connected client [MQTT-4.12.1-1], not a CONNECT.
    pub reauthenticate: bool,
}

/// Who an authenticator let in.
#[derive(Clone, Default)]
pub struct Identity {
    /// Bypasses authorization (EMQX's `is_superuser`).
    pub is_superuser: bool,
    /// The user name enhanced authentication found, when CONNECT carried none.
    pub username: Option<String>,
    /// For the authorizer (see [`crate::client::AuthAttrs`]).
    pub attrs: Option<crate::client::AuthAttrs>,
    /// Authentication Data for the CONNACK (or the final AUTH of a
    /// re-authentication): the server-final message of SCRAM.
    pub auth_data: Option<Vec<u8>>,
}

/// The state an authenticator keeps between the steps of an enhanced
/// authentication (SCRAM's server-first message). Opaque to the runtime.
pub struct AuthState(pub Box<dyn Any + Send + Sync>);

/// A `client.authenticate` hook's answer.
pub enum Authn {
    /// Not this hook's to judge: the next one is asked (EMQX's `ignore`). A
    /// CONNECT every hook ignored is let in; one with an Authentication Method
    /// is refused with 0x8C Bad authentication method.
    Ignore,
    Allow(Identity),
    /// Refused with this reason code (CONNACK, or DISCONNECT after a failed
    /// re-authentication).
    Deny(ReasonCode),
    /// Enhanced authentication goes on: the server sends AUTH 0x18 with
    /// `data`; the client's answer comes back to the same hook with `state`
    /// ([`Hook::client_authenticate_continue`]).
    Continue {
        data: Vec<u8>,
        state: AuthState,
    },
}

/// How the authentication of a CONNECT ended (`client.check_authn_complete`).
#[derive(Debug, Clone)]
pub struct AuthnComplete {
    pub client_id: Arc<str>,
    pub username: Option<Arc<str>>,
    pub peer: PeerInfo,
    /// `Success`, or the CONNACK's refusal.
    pub reason: ReasonCode,
    pub is_superuser: bool,
    /// Let in without any authenticator judging it.
    pub is_anonymous: bool,
}

/// A `client.authorize` hook's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authz {
    /// Not this hook's to judge: the next one is asked. Nobody judging means
    /// allowed, and not counted as a check.
    Ignore,
    Allow,
    Deny,
}

/// A `message.publish` hook's answer: the fold goes on with the message as it
/// was or as rewritten, or stops and drops it.
pub enum PublishAction {
    Pass,
    Rewrite(Arc<Message>),
    Drop(DropReason),
}

/// Why a message (`message.dropped`) or one delivery of it
/// (`delivery.dropped`) was dropped. The names are EMQX's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// No subscription matched (`message.dropped`).
    NoSubscribers,
    /// A `message.publish` hook dropped it.
    Hook(Arc<str>),
    /// The session's queue was full: the oldest message was dropped.
    QueueFull,
    /// Its Message Expiry Interval ran out before it could be delivered.
    Expired,
    /// Larger than the client's Maximum Packet Size.
    TooLarge,
    /// QoS 0 for an offline session (`mqtt.mqueue_store_qos0: false`).
    Qos0Offline,
    /// The subscriber's session had just ended.
    NoSession,
    /// A shared-subscription message whose group had no other member.
    NoGroupMember,
    /// For an offline durable session while the store is at
    /// `durable_storage.max_size`.
    StorageFull,
}

impl DropReason {
    pub fn as_str(&self) -> &str {
        match self {
            DropReason::NoSubscribers => "no_subscribers",
            DropReason::Hook(reason) => reason,
            DropReason::QueueFull => "queue_full",
            DropReason::Expired => "expired",
            DropReason::TooLarge => "too_large",
            DropReason::Qos0Offline => "qos0_msg",
            DropReason::NoSession => "no_session",
            DropReason::NoGroupMember => "no_group_member",
            DropReason::StorageFull => "storage_full",
        }
    }
}

/// Why a connection ended (`client.disconnected`), as EMQX names the reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT.
    Normal,
    /// The socket closed without DISCONNECT.
    Closed,
    KeepaliveTimeout,
    /// The client broke the protocol or sent a malformed packet.
    ProtocolError,
    /// Another connection took the session over.
    Takenover,
    /// Kicked by an operator or a ban.
    Kicked,
    /// The broker is shutting down.
    Shutdown,
    /// Anything else the broker closed it for (a failed re-authentication, a
    /// denied packet with `deny_action: disconnect`, a session gone).
    Other,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Normal => "normal",
            DisconnectReason::Closed => "sock_closed",
            DisconnectReason::KeepaliveTimeout => "keepalive_timeout",
            DisconnectReason::ProtocolError => "protocol_error",
            DisconnectReason::Takenover => "takenover",
            DisconnectReason::Kicked => "kicked",
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::Other => "other",
        }
    }
}

/// Why a session ended (`session.terminated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateReason {
    /// Its Session Expiry Interval ran out while no client was connected.
    Expired,
    /// A client connected with Clean Start and discarded it.
    Discarded,
    /// It moved to another node.
    Takenover,
}

impl TerminateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminateReason::Expired => "expired",
            TerminateReason::Discarded => "discarded",
            TerminateReason::Takenover => "takenover",
        }
    }
}

/// One hook: its methods are called at the points it was registered for
/// (every method has a default that does nothing or ignores, so a hook
/// implements only its points). They run in the broker's own tasks: never
/// block, never wait but through [`Deferred::Later`].
#[allow(unused_variables)]
pub trait Hook: Send + Sync + 'static {
    /// `client.connect`: a CONNECT the protocol accepted, before
    /// authentication. `Err` refuses it with that CONNACK reason code (a ban,
    /// say).
    fn client_connect(&self, conn: &ConnectInfo) -> Result<(), ReasonCode> {
        Ok(())
    }

    /// `client.connack`: the CONNACK about to be sent, with its reason code.
    fn client_connack(&self, conn: &ConnectInfo, reason: ReasonCode) {}

    /// `client.authenticate`: judge a CONNECT or a re-authentication.
    fn client_authenticate(&self, req: &AuthRequest) -> Deferred<Authn> {
        Deferred::Now(Authn::Ignore)
    }

    /// `client.authenticate`, next step of an enhanced authentication this
    /// hook answered [`Authn::Continue`]: the client's Authentication Data.
    fn client_authenticate_continue(&self, state: AuthState, data: &[u8]) -> Authn {
        Authn::Deny(ReasonCode::NotAuthorized)
    }

    /// `client.authorize`: may the client `action` on `topic` (a topic name
    /// for publish, a filter for subscribe, without `$share/<group>/`).
    fn client_authorize(
        &self,
        client: &Arc<ClientInfo>,
        action: Action,
        topic: &str,
    ) -> Deferred<Authz> {
        Deferred::Now(Authz::Ignore)
    }

    /// `client.connected`: the CONNACK of an accepted client is on its way.
    fn client_connected(&self, client: &Arc<ClientInfo>) {}

    /// `client.disconnected`: the connection of a client that was connected ended.
    fn client_disconnected(&self, client: &Arc<ClientInfo>, reason: DisconnectReason) {}

    /// `session.created`: a new session for the client.
    fn session_created(&self, client: &Arc<ClientInfo>) {}

    /// `session.subscribed`: a subscription was added (`filter` as the client
    /// wrote it).
    fn session_subscribed(
        &self,
        client: &Arc<ClientInfo>,
        filter: &str,
        options: &SubscriptionOptions,
    ) {
    }

    /// `session.unsubscribed`: a subscription was removed.
    fn session_unsubscribed(&self, client: &Arc<ClientInfo>, filter: &str) {}

    /// `session.resumed`: a client connected to its existing session.
    fn session_resumed(&self, client: &Arc<ClientInfo>) {}

    /// `session.takenover`: the session's connection was closed because the
    /// same client id connected again (here or on another node).
    fn session_takenover(&self, client_id: &str) {}

    /// `session.discarded`: a client connected with Clean Start and its old
    /// session was thrown away.
    fn session_discarded(&self, client_id: &str) {}

    /// `session.terminated`: the session ended.
    fn session_terminated(&self, client_id: &str, reason: TerminateReason) {}

    /// `message.publish`: a message about to be routed (from a client, a will,
    /// the API). A fold: pass it on, rewrite it, or drop it.
    fn message_publish(&self, msg: &Arc<Message>) -> PublishAction {
        PublishAction::Pass
    }

    /// `message.delivered`: a PUBLISH of `msg` was written to `client`.
    fn message_delivered(&self, client: &Arc<ClientInfo>, msg: &Message) {}

    /// `message.acked`: `client` acknowledged a QoS 1 (PUBACK) or QoS 2
    /// (PUBCOMP) delivery of `msg`.
    fn message_acked(&self, client_id: &str, msg: &Message) {}

    /// `message.dropped`: a published message reached nobody.
    fn message_dropped(&self, msg: &Message, reason: &DropReason) {}

    /// `delivery.dropped`: one delivery of `msg` to `client_id` was dropped.
    fn delivery_dropped(&self, client_id: &str, msg: &Message, reason: &DropReason) {}

    /// `client.check_authn_complete`: the authentication of a CONNECT ended,
    /// let in or refused (a notification, after `client.authenticate`).
    fn client_check_authn_complete(&self, result: &AuthnComplete) {}

    /// `client.check_authz_complete`: a publish or subscribe was judged
    /// (`allowed` or not; `cached`: by the client's decision cache). Not
    /// called when nobody judges (no authorization at all).
    fn client_check_authz_complete(
        &self,
        client: &Arc<ClientInfo>,
        action: Action,
        topic: &str,
        allowed: bool,
        cached: bool,
    ) {
    }
}

/// One registration.
struct Registered {
    priority: i32,
    hook: Arc<dyn Hook>,
}

/// Collects registrations before the broker starts; [`HooksBuilder::build`]
/// fixes them.
#[derive(Default)]
pub struct HooksBuilder {
    points: [Vec<Registered>; POINTS],
}

impl HooksBuilder {
    /// Registers `hook` at `point` with `priority` (higher runs first).
    pub fn add(&mut self, point: HookPoint, priority: i32, hook: Arc<dyn Hook>) -> &mut Self {
        let at = &mut self.points[point as usize];
        // After every hook of a higher or equal priority: stable by registration.
        let i = at.iter().take_while(|r| r.priority >= priority).count();
        at.insert(i, Registered { priority, hook });
        self
    }

    /// Registers `hook` at each of `points` with one priority.
    pub fn add_all(
        &mut self,
        points: &[HookPoint],
        priority: i32,
        hook: Arc<dyn Hook>,
    ) -> &mut Self {
        for &p in points {
            self.add(p, priority, hook.clone());
        }
        self
    }

    pub fn build(self) -> Hooks {
        Hooks {
            points: self
                .points
                .map(|at| at.into_iter().map(|r| r.hook).collect()),
        }
    }
}

/// The fixed registry: for each point, its hooks in the order they run.
#[derive(Default)]
pub struct Hooks {
    points: [Box<[Arc<dyn Hook>]>; POINTS],
}

impl Hooks {
    /// The hooks registered at `point`, in the order they run. The runtime
    /// tests this for emptiness before it builds anything for a point.
    #[inline]
    pub fn at(&self, point: HookPoint) -> &[Arc<dyn Hook>] {
        &self.points[point as usize]
    }

    /// Whether anything is registered at `point`.
    #[inline]
    pub fn has(&self, point: HookPoint) -> bool {
        !self.points[point as usize].is_empty()
    }

    /// Runs the `message.publish` fold: `None` if a hook dropped the message
    /// (with why), otherwise the message as the last hook left it.
    #[inline]
    pub fn message_publish(
        &self,
        msg: Arc<Message>,
    ) -> Result<Arc<Message>, (Arc<Message>, DropReason)> {
        let hooks = self.at(HookPoint::MessagePublish);
        if hooks.is_empty() {
            return Ok(msg);
        }
        let mut msg = msg;
        for h in hooks {
            match h.message_publish(&msg) {
                PublishAction::Pass => {}
                PublishAction::Rewrite(m) => msg = m,
                PublishAction::Drop(reason) => return Err((msg, reason)),
            }
        }
        Ok(msg)
    }

    /// Runs `client.connect`: the first refusal wins.
    pub fn client_connect(&self, conn: &ConnectInfo) -> Result<(), ReasonCode> {
        self.at(HookPoint::ClientConnect)
            .iter()
            .try_for_each(|h| h.client_connect(conn))
    }

    /// Runs `client.authorize` from hook `from` on: the first hook that does
    /// not ignore decides. `Err((i, future))` when hook `i` has to wait: its
    /// answer decides unless it is [`Authz::Ignore`], then the caller goes on
    /// from `i + 1`.
    pub fn client_authorize(
        &self,
        from: usize,
        client: &Arc<ClientInfo>,
        action: Action,
        topic: &str,
    ) -> Result<Authz, (usize, BoxFuture<'static, Authz>)> {
        for (i, h) in self
            .at(HookPoint::ClientAuthorize)
            .iter()
            .enumerate()
            .skip(from)
        {
            match h.client_authorize(client, action, topic) {
                Deferred::Now(Authz::Ignore) => {}
                Deferred::Now(decided) => return Ok(decided),
                Deferred::Later(f) => return Err((i, f)),
            }
        }
        Ok(Authz::Ignore)
    }

    /// Calls `f` with every hook registered at `point` (a notification).
    #[inline]
    pub fn notify(&self, point: HookPoint, f: impl FnMut(&Arc<dyn Hook>)) {
        self.at(point).iter().for_each(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roost_protocol::{Properties, QoS};
    use std::sync::Mutex;

    fn message(topic: &str) -> Arc<Message> {
        Arc::new(Message::new(
            topic.into(),
            Bytes::from_static(b"x"),
            QoS::AtMostOnce,
            false,
            "c".into(),
            &Properties::default(),
        ))
    }

    /// Records its name at `message.publish` and does what it was told.
    struct Step {
        name: &'static str,
        seen: Arc<Mutex<Vec<&'static str>>>,
        action: fn(&Arc<Message>) -> PublishAction,
    }

    impl Hook for Step {
        fn message_publish(&self, msg: &Arc<Message>) -> PublishAction {
            self.seen.lock().unwrap().push(self.name);
            (self.action)(msg)
        }
    }

    fn step(
        name: &'static str,
        seen: &Arc<Mutex<Vec<&'static str>>>,
        action: fn(&Arc<Message>) -> PublishAction,
    ) -> Arc<dyn Hook> {
        Arc::new(Step {
            name,
            seen: seen.clone(),
            action,
        })
    }

    #[test]
    fn an_empty_point_passes_the_message_through_untouched() {
        let hooks = HooksBuilder::default().build();
        assert!(!hooks.has(HookPoint::MessagePublish));
        let m = message("a");
        let out = hooks.message_publish(m.clone()).ok().unwrap();
        assert!(Arc::ptr_eq(&out, &m));
    }

    #[test]
    fn higher_priorities_run_first_and_equal_ones_in_registration_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut b = HooksBuilder::default();
        b.add(
            HookPoint::MessagePublish,
            0,
            step("low", &seen, |_| PublishAction::Pass),
        );
        b.add(
            HookPoint::MessagePublish,
            10,
            step("high-1", &seen, |_| PublishAction::Pass),
        );
        b.add(
            HookPoint::MessagePublish,
            10,
            step("high-2", &seen, |_| PublishAction::Pass),
        );
        b.add(
            HookPoint::MessagePublish,
            -5,
            step("last", &seen, |_| PublishAction::Pass),
        );
        let hooks = b.build();
        assert!(hooks.message_publish(message("a")).is_ok());
        assert_eq!(*seen.lock().unwrap(), ["high-1", "high-2", "low", "last"]);
    }

    #[test]
    fn the_publish_fold_rewrites_and_a_drop_stops_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut b = HooksBuilder::default();
        b.add(
            HookPoint::MessagePublish,
            2,
            step("rewrite", &seen, |m| {
                let mut copy = (**m).clone();
                copy.topic = format!("rewritten/{}", m.topic).into();
                PublishAction::Rewrite(Arc::new(copy))
            }),
        );
        b.add(
            HookPoint::MessagePublish,
            1,
            step("drop-secret", &seen, |m| {
                if m.topic.ends_with("secret") {
                    PublishAction::Drop(DropReason::Hook("secret".into()))
                } else {
                    PublishAction::Pass
                }
            }),
        );
        b.add(
            HookPoint::MessagePublish,
            0,
            step("after", &seen, |_| PublishAction::Pass),
        );
        let hooks = b.build();
        let out = hooks.message_publish(message("a")).ok().unwrap();
        assert_eq!(&*out.topic, "rewritten/a");
        assert_eq!(*seen.lock().unwrap(), ["rewrite", "drop-secret", "after"]);
        seen.lock().unwrap().clear();
        let Err((dropped, reason)) = hooks.message_publish(message("secret")) else {
            panic!("the message must be dropped");
        };
        assert_eq!(&*dropped.topic, "rewritten/secret");
        assert_eq!(reason.as_str(), "secret");
        assert_eq!(
            *seen.lock().unwrap(),
            ["rewrite", "drop-secret"],
            "no hook after the drop"
        );
    }

    struct Judge(Authz);

    impl Hook for Judge {
        fn client_authorize(&self, _: &Arc<ClientInfo>, _: Action, topic: &str) -> Deferred<Authz> {
            if topic == "later" {
                let answer = self.0;
                return Deferred::Later(Box::pin(async move { answer }));
            }
            Deferred::Now(self.0)
        }
    }

    #[test]
    fn authorize_asks_until_a_hook_decides_and_reports_where_it_must_wait() {
        let client = Arc::new(ClientInfo::new(
            "c".into(),
            PeerInfo::tcp("tcp", "127.0.0.1:1".parse().unwrap()),
            ProtocolVersion::V5,
        ));
        let none = HooksBuilder::default().build();
        assert_eq!(
            none.client_authorize(0, &client, Action::Publish, "t").ok(),
            Some(Authz::Ignore)
        );
        let mut b = HooksBuilder::default();
        b.add(
            HookPoint::ClientAuthorize,
            2,
            Arc::new(Judge(Authz::Ignore)),
        );
        b.add(HookPoint::ClientAuthorize, 1, Arc::new(Judge(Authz::Deny)));
        b.add(HookPoint::ClientAuthorize, 0, Arc::new(Judge(Authz::Allow)));
        let hooks = b.build();
        assert_eq!(
            hooks
                .client_authorize(0, &client, Action::Publish, "t")
                .ok(),
            Some(Authz::Deny)
        );
        assert_eq!(
            hooks
                .client_authorize(2, &client, Action::Publish, "t")
                .ok(),
            Some(Authz::Allow)
        );
        match hooks.client_authorize(0, &client, Action::Subscribe, "later") {
            Err((i, _)) => assert_eq!(i, 0, "the first hook defers"),
            Ok(a) => panic!("{a:?}"),
        }
    }

    #[test]
    fn every_point_has_its_emqx_name_once() {
        for p in HookPoint::ALL {
            assert_eq!(HookPoint::from_name(p.name()), Some(p));
        }
        assert_eq!(
            HookPoint::from_name("message.publish"),
            Some(HookPoint::MessagePublish)
        );
        assert_eq!(HookPoint::from_name("message.published"), None);
    }
}
