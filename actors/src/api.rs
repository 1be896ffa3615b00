//! The runtime's side of [`BrokerApi`]: what the REST API, the cluster and
//! the other extensions may ask of the running broker, answered from the
//! session and connection tables, the topic index and the actor tree.

use crate::connection::{ConnContext, ConnHandle};
use crate::listing::{self, ListenerGauge};
use crate::session::{ClientConn, SessionHandle, SessionMsg};
use crate::tree::{self, TreeRoot};
use roost_core::api::{
    ActorNode, BrokerApi, ClientError, ClientSummary, Page, Paged, RouteInfo, SessionSummary,
    Stats, SubscriptionInfo, TreeError,
};
use roost_core::banned::{BanEntry, BanError, BanKind, BanList};
use roost_core::cluster::ClusterLink;
use roost_core::hooks::DropReason;
use roost_core::listing::{ClientDetail, ListenerInfo, QueuedMessage, SessionQueue};
use roost_core::session::SessionSnapshot;
use roost_core::{BoxFuture, ClientInfo, Message, Metrics, SharedKey};
use roost_protocol::{ReasonCode, SubscriptionOptions};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The ractor name of the root supervisor, where every tree query starts.
pub const ROOT_NAME: &str = "roost";

/// How long a call on a client's behalf waits for its session.
const SESSION_CALL: Duration = Duration::from_secs(5);
/// How long such a call waits out a session actor's restart.
const RESTART_PATIENCE: Duration = Duration::from_secs(2);

/// [`BrokerApi`] over one broker's context.
pub struct Api {
    ctx: Arc<ConnContext>,
    bans: Option<Arc<dyn BanList>>,
    listeners: Vec<ListenerGauge>,
}

impl Api {
    pub fn new(
        ctx: Arc<ConnContext>,
        bans: Option<Arc<dyn BanList>>,
        listeners: Vec<ListenerGauge>,
    ) -> Arc<Api> {
        Arc::new(Api {
            ctx,
            bans,
            listeners,
        })
    }

    fn detail(&self, h: &SessionHandle) -> Option<ClientDetail> {
        let mqtt = &self.ctx.config.mqtt;
        listing::client_detail(h, mqtt.max_mqueue_len, mqtt.max_inflight as usize)
    }

    fn ban_list(&self) -> Result<&Arc<dyn BanList>, BanError> {
        self.bans.as_ref().ok_or(BanError::Unavailable)
    }

    fn session(&self, client_id: &str) -> Result<Arc<SessionHandle>, ClientError> {
        self.ctx
            .sessions
            .get(client_id)
            .map(|h| h.clone())
            .filter(|h| !h.is_closed())
            .ok_or_else(|| ClientError::NoSession(client_id.to_string()))
    }

    /// The connection bound to `client_id`'s session, if it is connected.
    fn connection(&self, client_id: &str) -> Option<Arc<dyn ClientConn>> {
        let session = self.ctx.sessions.get(client_id)?.clone();
        let d = session.live.lock();
        d.binding
            .as_ref()
            .map(|b| b.conn.clone())
            .filter(|c| !c.is_ended())
    }

    /// Every open connection whose CONNECT was accepted.
    fn connections(&self) -> Vec<Arc<ConnHandle>> {
        self.ctx
            .conns
            .iter()
            .filter_map(|c| c.upgrade())
            .filter(|c| c.client().is_some() && !c.is_ended())
            .collect()
    }

    async fn with_root<T>(
        &self,
        f: impl AsyncFnOnce(&TreeRoot<'_>) -> Result<T, TreeError>,
    ) -> Result<T, TreeError> {
        let cell = ractor::registry::where_is(ROOT_NAME)
            .ok_or_else(|| TreeError::Unreachable("the root supervisor is not running".into()))?;
        let ctx = &self.ctx;
        let root = TreeRoot {
            cell: &cell,
            name: ROOT_NAME,
            started_at: ctx.started_at_wall,
            gauges: &ctx.mailboxes,
            sessions: &ctx.sessions,
            conns: &ctx.conns,
        };
        f(&root).await
    }

    /// Casts `msg` to `handle`'s actor, in order with the casts before it;
    /// if the actor is being restarted (a crash), waits for its successor.
    fn to_session(&self, handle: Arc<SessionHandle>, msg: SessionMsg) {
        let msg = match handle.actor() {
            None => msg,
            Some(a) => match a.cast(msg) {
                Ok(()) => return,
                Err(ractor::MessagingErr::SendErr(msg)) => msg,
                Err(_) => return,
            },
        };
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + RESTART_PATIENCE;
            while tokio::time::Instant::now() < deadline {
                if let Some(a) = handle.actor() {
                    let _ = a.cast(msg);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tracing::warn!(client_id = %handle.client_id, "takeover_relay_session_not_running");
        });
    }

    async fn call_session<T: Send + 'static>(
        &self,
        client_id: &str,
        make: impl Fn(ractor::RpcReplyPort<T>) -> SessionMsg,
    ) -> Result<T, ClientError> {
        let session = self.session(client_id)?;
        session
            .call(make, SESSION_CALL, RESTART_PATIENCE)
            .await
            .map_err(ClientError::Unavailable)
    }
}

fn summary(c: &dyn ClientConn) -> Option<ClientSummary> {
    Some(ClientSummary {
        info: c.client()?,
        connected: !c.is_ended(),
        hibernating: c.is_hibernating(),
    })
}

impl BrokerApi for Api {
    fn node_name(&self) -> &str {
        &self.ctx.config.node.name
    }

    fn started_at(&self) -> SystemTime {
        self.ctx.started_at_wall
    }

    fn metrics(&self) -> &Arc<Metrics> {
        &self.ctx.metrics
    }

    fn publish(&self, msg: Message) -> Result<usize, DropReason> {
        self.ctx.try_publish(Arc::new(msg))
    }

    fn subscribe(
        &self,
        client_id: &str,
        filters: Vec<(String, SubscriptionOptions)>,
    ) -> BoxFuture<'_, Result<Vec<ReasonCode>, ClientError>> {
        let client_id = client_id.to_string();
        Box::pin(async move {
            self.call_session(&client_id, |r| SessionMsg::Subscribe(filters.clone(), r))
                .await
        })
    }

    fn unsubscribe(
        &self,
        client_id: &str,
        filters: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<ReasonCode>, ClientError>> {
        let client_id = client_id.to_string();
        Box::pin(async move {
            self.call_session(&client_id, |r| SessionMsg::Unsubscribe(filters.clone(), r))
                .await
        })
    }

    fn kick(&self, client_id: &str, reason: ReasonCode) -> bool {
        match self.connection(client_id) {
            Some(conn) => conn.kick(reason),
            None => false,
        }
    }

    fn kick_where(&self, covered: &dyn Fn(&ClientInfo) -> bool, reason: ReasonCode) -> usize {
        let mut kicked = 0;
        for c in self.connections() {
            if c.client().is_some_and(|info| covered(info)) {
                kicked += usize::from(ClientConn::kick(&*c, reason));
            }
        }
        kicked
    }

    fn ban(&self, entry: BanEntry) -> Result<usize, BanError> {
        let bans = self.ban_list()?;
        bans.put(entry)?;
        let covered = bans.covering();
        Ok(self.kick_where(&*covered, ReasonCode::AdministrativeAction))
    }

    fn unban(&self, kind: BanKind, who: &str) -> Result<bool, BanError> {
        self.ban_list()?.remove(kind, who)
    }

    fn bans(&self) -> Result<Vec<BanEntry>, BanError> {
        Ok(self.ban_list()?.list())
    }

    fn clients(&self, page: Page, filter: &dyn Fn(&ClientInfo) -> bool) -> Paged<ClientSummary> {
        let mut all: Vec<ClientSummary> = self
            .connections()
            .iter()
            .filter_map(|c| summary(&**c))
            .filter(|s| filter(&s.info))
            .collect();
        all.sort_by(|a, b| a.info.client_id.cmp(&b.info.client_id));
        page.of(all)
    }

    fn client(&self, client_id: &str) -> Option<ClientSummary> {
        summary(&*self.connection(client_id)?)
    }

    fn sessions(&self, page: Page) -> Paged<SessionSummary> {
        let mut all: Vec<SessionSummary> = self
            .ctx
            .sessions
            .iter()
            .filter(|h| !h.is_closed())
            .map(|h| {
                let d = h.live.lock();
                SessionSummary {
                    client_id: h.client_id.clone(),
                    connected: d.binding.as_ref().is_some_and(|b| !b.conn.is_ended()),
                    hibernating: h.is_hibernating(),
                    subscriptions: d.data.subscriptions.len(),
                    inflight: d.data.inflight.len(),
                    mqueue: d.data.mqueue.len(),
                    expiry_interval: d.data.expiry,
                }
            })
            .collect();
        all.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        page.of(all)
    }

    fn subscriptions(&self, client_id: Option<&str>, page: Page) -> Paged<SubscriptionInfo> {
        let sessions: Vec<Arc<SessionHandle>> = match client_id {
            Some(id) => self.session(id).into_iter().collect(),
            None => self.ctx.sessions.iter().map(|h| h.clone()).collect(),
        };
        let mut all: Vec<SubscriptionInfo> = Vec::new();
        for h in sessions {
            let d = h.live.lock();
            all.extend(
                d.data
                    .subscriptions
                    .iter()
                    .map(|(raw, r)| SubscriptionInfo {
                        client_id: h.client_id.clone(),
                        topic: raw.clone(),
                        options: r.options,
                        subscription_id: r.subscription_id,
                    }),
            );
        }
        all.sort_by(|a, b| (&a.client_id, &a.topic).cmp(&(&b.client_id, &b.topic)));
        page.of(all)
    }

    fn routes(&self, page: Page) -> Paged<RouteInfo> {
        let mut all: Vec<RouteInfo> = self
            .ctx
            .router
            .local_routes()
            .into_iter()
            .map(|(topic, group)| RouteInfo {
                topic,
                group: group.map(|g| g.to_string()),
            })
            .collect();
        all.sort_by(|a, b| (&a.topic, &a.group).cmp(&(&b.topic, &b.group)));
        page.of(all)
    }

    fn stats(&self) -> BoxFuture<'_, Stats> {
        Box::pin(async move { crate::stats::collect(&self.ctx) })
    }

    fn actor_tree(
        &self,
        prefix: Option<String>,
        depth: Option<usize>,
    ) -> BoxFuture<'_, Result<ActorNode, TreeError>> {
        Box::pin(async move {
            let prefix = prefix.as_deref().filter(|p| !p.is_empty());
            self.with_root(async |root: &TreeRoot<'_>| tree::actor_tree(root, prefix, depth).await)
                .await
        })
    }

    fn kill_actor(&self, path: String) -> BoxFuture<'_, Result<(), TreeError>> {
        Box::pin(async move {
            self.with_root(async |root: &TreeRoot<'_>| tree::kill(root, &path).await)
                .await
        })
    }

    fn retained_message(&self, topic: &str) -> Option<Arc<Message>> {
        if topic.contains(['+', '#']) {
            return None;
        }
        self.ctx.retained.matching(topic).into_iter().next()
    }

    fn retained_messages(&self) -> Vec<Arc<Message>> {
        self.ctx.retained.all()
    }

    fn cluster(&self) -> Option<Arc<dyn ClusterLink>> {
        self.ctx.router.cluster().cloned()
    }

    fn deliver_forwarded(
        &self,
        msg: Arc<Message>,
        plain: bool,
        groups: &[Arc<SharedKey>],
        congested: &mut Vec<Arc<dyn roost_core::cluster::Hold>>,
    ) -> usize {
        let mut full = Vec::new();
        let n = self
            .ctx
            .router
            .route_forwarded(&msg, plain, groups, &mut full);
        for session in full {
            congested.push(Arc::new(crate::router::SessionHold(session)));
        }
        n
    }

    fn retain_forwarded(&self, msg: Arc<Message>) {
        if self.ctx.config.mqtt.retain_available {
            self.ctx.retained.retain(&msg);
        }
    }

    fn local_routes(&self) -> Vec<(String, Option<Arc<str>>)> {
        self.ctx.router.local_routes()
    }

    fn hand_over(
        &self,
        client_id: Arc<str>,
        resume: bool,
        to: Arc<str>,
    ) -> BoxFuture<'static, Option<Option<SessionSnapshot>>> {
        let handle = self.ctx.sessions.get(&client_id).map(|h| h.clone());
        Box::pin(async move {
            let handle = handle?;
            let r = handle
                .call(
                    |reply| SessionMsg::HandOver {
                        resume,
                        to: to.clone(),
                        reply,
                    },
                    SESSION_CALL,
                    RESTART_PATIENCE,
                )
                .await;
            match r {
                Ok(t) => {
                    tracing::info!(%client_id, resume, "session_handed_over");
                    Some(t)
                }
                Err(error) => {
                    tracing::warn!(%client_id, %error, "session_hand_over_failed");
                    None
                }
            }
        })
    }

    fn relayed(&self, client_id: &str, from: &str, deliveries: Vec<roost_core::Delivery>) {
        // The session here, or, if it moved on meanwhile, its relay onwards.
        let handle = self
            .ctx
            .sessions
            .get(client_id)
            .or_else(|| self.ctx.relaying.get(client_id))
            .map(|h| h.clone());
        let Some(handle) = handle else {
            tracing::warn!(%client_id, %from, lost = deliveries.len(), "takeover_relay_no_session");
            for _ in &deliveries {
                self.ctx.metrics.message_dropped(&DropReason::NoSession);
            }
            return;
        };
        self.to_session(handle, SessionMsg::Relayed(deliveries));
    }

    fn relay_ready(&self, client_id: &str, to: &str) {
        // The relaying session left the session table: its handle is in the
        // topic index only, found through the sessions' actors by name.
        match self.ctx.relaying.get(client_id).map(|h| h.clone()) {
            Some(handle) => self.to_session(handle, SessionMsg::RelayReady(to.into())),
            None => tracing::debug!(%client_id, %to, "takeover_relay_ready_unknown"),
        }
    }

    fn relay_end(&self, client_id: &str, from: &str) {
        if let Some(handle) = self.ctx.sessions.get(client_id).map(|h| h.clone()) {
            self.to_session(handle, SessionMsg::RelayEnd(from.into()));
        }
    }

    // ---- issue 14: REST resources (clients, session queues, listeners) ----

    fn client_details(&self) -> Vec<ClientDetail> {
        let handles: Vec<Arc<SessionHandle>> =
            self.ctx.sessions.iter().map(|h| h.clone()).collect();
        let mut all: Vec<ClientDetail> = handles.iter().filter_map(|h| self.detail(h)).collect();
        all.sort_by(|a, b| a.info.client_id.cmp(&b.info.client_id));
        all
    }

    fn client_detail(&self, client_id: &str) -> Option<ClientDetail> {
        let h = self.ctx.sessions.get(client_id)?.clone();
        self.detail(&h)
    }

    fn session_messages(&self, client_id: &str, which: SessionQueue) -> Option<Vec<QueuedMessage>> {
        let h = self.session(client_id).ok()?;
        Some(listing::session_messages(&h, which))
    }

    fn listeners(&self) -> Vec<ListenerInfo> {
        self.listeners.iter().map(ListenerGauge::info).collect()
    }

    fn kick_out(&self, client_id: &str) -> BoxFuture<'_, bool> {
        let client_id: Arc<str> = client_id.into();
        Box::pin(async move {
            let Ok(h) = self.session(&client_id) else {
                return false;
            };
            self.kick(&client_id, ReasonCode::AdministrativeAction);
            // The session ends only unbound (the expiry's rule): the kicked
            // connection detaches once its actor has stopped, which nothing
            // signals here, so wait for it a little.
            let deadline = tokio::time::Instant::now() + RESTART_PATIENCE;
            let generation = loop {
                {
                    let d = h.live.lock();
                    if d.binding.is_none() {
                        break Some(d.data.generation);
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            match generation {
                Some(g) => self.ctx.sessions().expired(client_id.clone(), g),
                None => tracing::warn!(%client_id, "kick_out_session_still_bound"),
            }
            true
        })
    }

    // ---- issue 14: metrics and alarms ----

    fn alarms(&self) -> &Arc<roost_core::alarms::Alarms> {
        &self.ctx.alarms
    }

    // ---- issue 14: log trace ----

    fn tracer(&self) -> Arc<roost_core::trace::Tracer> {
        self.ctx.tracer.clone()
    }
}
