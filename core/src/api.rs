//! The broker API: what an extension (the REST API, the cluster, the rule
//! engine, `roost ctl` through the REST API) may ask of the running broker.
//! The runtime implements [`BrokerApi`]; nothing outside it reaches actor
//! messages or the runtime's internal types.

use crate::banned::{BanEntry, BanError, BanKind};
use crate::client::ClientInfo;
use crate::cluster::ClusterLink;
use crate::delivery::SharedKey;
use crate::hooks::DropReason;
use crate::listing::{ClientDetail, ListenerInfo, QueuedMessage, SessionQueue};
use crate::message::Message;
use crate::metrics::Metrics;
use crate::session::SessionSnapshot;
use crate::BoxFuture;
use roost_protocol::{ReasonCode, SubscriptionOptions};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;

/// One page of a listing: `page` counts from 1, as EMQX's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    pub limit: usize,
}

impl Default for Page {
    /// EMQX's defaults: the first page of 100.
    fn default() -> Self {
        Page {
            page: 1,
            limit: 100,
        }
    }
}

impl Page {
    /// The page of `items` (all of them, in a stable order) this names.
    pub fn of<T>(self, items: Vec<T>) -> Paged<T> {
        let count = items.len();
        let limit = self.limit.max(1);
        let page = self.page.max(1);
        let start = (page - 1).saturating_mul(limit).min(count);
        let data: Vec<T> = items.into_iter().skip(start).take(limit).collect();
        let hasnext = start + data.len() < count;
        Paged {
            data,
            meta: Meta {
                page,
                limit,
                count,
                hasnext,
            },
        }
    }
}

/// A page of a listing, in EMQX's shape: `{"data": [...], "meta": {...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub meta: Meta,
}

/// Where a page stands in its listing.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Meta {
    pub page: usize,
    pub limit: usize,
    /// Items in the whole listing.
    pub count: usize,
    pub hasnext: bool,
}

/// A client the broker knows: connected, or only its session.
#[derive(Debug, Clone)]
pub struct ClientSummary {
    pub info: Arc<ClientInfo>,
    /// Its connection is open.
    pub connected: bool,
    /// Its connection hibernates (no actor until its next packet).
    pub hibernating: bool,
}

pub use crate::listing::SessionSummary;

/// One subscription of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub client_id: Arc<str>,
    /// The filter as the client wrote it (with `$share/<group>/` if shared).
    pub topic: String,
    pub options: SubscriptionOptions,
    pub subscription_id: Option<u32>,
}

/// One route of this node's topic index: a filter with plain subscriptions,
/// or a shared group at a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    pub topic: String,
    pub group: Option<String>,
}

pub use crate::stats::Stats;

/// One actor in the live tree, as `GET /api/v5/actors` returns it (and
/// `roost ctl` reads it back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorNode {
    pub path: String,
    pub kind: String,
    pub restarts: u32,
    /// Messages waiting for the actor, where the actor keeps a gauge (sessions and
    /// connections); `null` where ractor gives no way to know.
    pub mailbox: Option<usize>,
    /// RFC 3339 start time of the current incarnation.
    pub started_at: String,
    /// Number of children (also when `children` is cut by `depth`).
    pub child_count: usize,
    pub children: Vec<ActorNode>,
    /// A session or connection that hibernates (EMQX's hibernate after
    /// `mqtt.idle_timeout`): it has no actor until its next message;
    /// `started_at` is when it fell asleep. Listed so operators see every
    /// session and connection, awake or not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernating: bool,
}

/// Why a tree query or a kill failed.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("no actor at path {0}")]
    NotFound(String),
    #[error("supervisor unreachable: {0}")]
    Unreachable(String),
}

/// Why a request on a client's behalf failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("no session for client id {0}")]
    NoSession(String),
    #[error("the session did not answer: {0}")]
    Unavailable(String),
}

/// What the running broker offers its extensions.
pub trait BrokerApi: Send + Sync + 'static {
    /// This node's name (`node.name`).
    fn node_name(&self) -> &str;

    /// When the broker started (wall clock).
    fn started_at(&self) -> SystemTime;

    /// The broker-wide counters.
    fn metrics(&self) -> &Arc<Metrics>;

    /// Publishes `msg` as the broker (an API publish, a rule's republish):
    /// `message.publish` runs, a retained message is stored, and it is routed
    /// here and to the other nodes. The number of deliveries, or why a hook
    /// dropped it.
    fn publish(&self, msg: Message) -> Result<usize, DropReason>;

    /// Subscribes `client_id`'s session to `filters` as if it had sent
    /// SUBSCRIBE (retained messages included); one reason code per filter.
    fn subscribe(
        &self,
        client_id: &str,
        filters: Vec<(String, SubscriptionOptions)>,
    ) -> BoxFuture<'_, Result<Vec<ReasonCode>, ClientError>>;

    /// Unsubscribes `client_id`'s session from `filters`; one reason code per filter.
    fn unsubscribe(
        &self,
        client_id: &str,
        filters: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<ReasonCode>, ClientError>>;

    /// Closes `client_id`'s connection (DISCONNECT `reason` to a 5.0 client).
    /// False if it is not connected here.
    fn kick(&self, client_id: &str, reason: ReasonCode) -> bool;

    /// Closes the connection of every connected client `covered` picks (how a
    /// new ban takes effect); the number closed.
    fn kick_where(&self, covered: &dyn Fn(&ClientInfo) -> bool, reason: ReasonCode) -> usize;

    /// Bans a client id, a user name or an address (range) and closes the
    /// connections of the clients it covers (DISCONNECT 0x98 Administrative
    /// action to 5.0 clients, as EMQX's kick); the number closed.
    fn ban(&self, entry: BanEntry) -> Result<usize, BanError>;

    /// Lifts the ban on (kind, who); whether there was one.
    fn unban(&self, kind: BanKind, who: &str) -> Result<bool, BanError>;

    /// The bans in force.
    fn bans(&self) -> Result<Vec<BanEntry>, BanError>;

    /// Connected clients, by client id.
    fn clients(&self, page: Page, filter: &dyn Fn(&ClientInfo) -> bool) -> Paged<ClientSummary>;

    /// One connected client.
    fn client(&self, client_id: &str) -> Option<ClientSummary>;

    /// Sessions, connected or not, by client id.
    fn sessions(&self, page: Page) -> Paged<SessionSummary>;

    /// Subscriptions of one client, or of every client, by client id then filter.
    fn subscriptions(&self, client_id: Option<&str>, page: Page) -> Paged<SubscriptionInfo>;

    /// This node's routes, by filter.
    fn routes(&self, page: Page) -> Paged<RouteInfo>;

    /// The broker's gauges.
    fn stats(&self) -> BoxFuture<'_, Stats>;

    /// The live actor tree below `prefix`, `depth` levels deep (None = all).
    fn actor_tree(
        &self,
        prefix: Option<String>,
        depth: Option<usize>,
    ) -> BoxFuture<'_, Result<ActorNode, TreeError>>;

    /// Kills the actor at `path` as a crash would (chaos testing): its
    /// supervisor restarts it by its policy.
    fn kill_actor(&self, path: String) -> BoxFuture<'_, Result<(), TreeError>>;

    /// The retained message of `topic`, if any.
    fn retained_message(&self, topic: &str) -> Option<Arc<Message>>;

    /// Every retained message that has not expired.
    fn retained_messages(&self) -> Vec<Arc<Message>>;

    /// The cluster this node belongs to, if clustering is on.
    fn cluster(&self) -> Option<Arc<dyn ClusterLink>>;

    // ---- what the cluster asks of this node ----

    /// Delivers a message another node forwarded: to the local plain
    /// subscriptions if `plain`, and to one local member of each of `groups`.
    /// Never forwarded again; `message.publish` ran on the publisher's node.
    /// The local sessions it found congested are pushed onto `congested` (once
    /// each), so the sending node can hold the publisher back.
    fn deliver_forwarded(
        &self,
        msg: Arc<Message>,
        plain: bool,
        groups: &[Arc<SharedKey>],
        congested: &mut Vec<Arc<dyn crate::cluster::Hold>>,
    ) -> usize;

    /// Stores (or clears) a retained message another node stored.
    fn retain_forwarded(&self, msg: Arc<Message>);

    /// Every local route as `(filter, share group)`: what a node sends a peer
    /// on (re)connect.
    fn local_routes(&self) -> Vec<(String, Option<Arc<str>>)>;

    /// A client of node `to` took over `client_id`: closes its connection here
    /// (0x8E) and ends its session here. `None` if no session of it is here;
    /// otherwise the session's state when `resume`. A resumed session keeps
    /// its routes here for `cluster.takeover_linger` and relays to `to` what
    /// still reaches it (lossless takeover).
    fn hand_over(
        &self,
        client_id: Arc<str>,
        resume: bool,
        to: Arc<str>,
    ) -> BoxFuture<'static, Option<Option<SessionSnapshot>>>;

    /// Lossless takeover: deliveries that reached `client_id`'s old session on
    /// node `from` after it moved here.
    fn relayed(&self, client_id: &str, from: &str, deliveries: Vec<crate::Delivery>);

    /// Lossless takeover: `client_id`'s session moved to node `to` is
    /// restored there; the old session here may relay.
    fn relay_ready(&self, client_id: &str, to: &str);

    /// Lossless takeover: the old session on node `from` relayed everything.
    fn relay_end(&self, client_id: &str, from: &str);

    // ---- issue 14: REST resources (clients, session queues, listeners) ----

    /// Every client with a session here, connected or not, by client id
    /// (`GET /api/v5/clients`).
    fn client_details(&self) -> Vec<ClientDetail>;

    /// One client with a session here, connected or not.
    fn client_detail(&self, client_id: &str) -> Option<ClientDetail>;

    /// The messages in `client_id`s queue or inflight window, oldest first;
    /// `None` if it has no session here.
    fn session_messages(&self, client_id: &str, which: SessionQueue) -> Option<Vec<QueuedMessage>>;

    /// The MQTT listeners, enabled or not, in config order.
    fn listeners(&self) -> Vec<ListenerInfo>;

    /// Kicks `client_id` out, as EMQX kick-out: closes its connection
    /// (DISCONNECT 0x98 Administrative action to a 5.0 client) and ends its
    /// session, as its expiry would. False if it has no session here.
    fn kick_out(&self, client_id: &str) -> BoxFuture<'_, bool>;

    // ---- issue 14: metrics and alarms ----

    /// The alarms, active and cleared (raised and cleared by the runtime's
    /// checks; the API lists them and clears the history).
    fn alarms(&self) -> &Arc<crate::alarms::Alarms>;

    // ---- issue 14: log trace ----

    /// The registry of log traces: the runtime writes to the running ones,
    /// the REST API (`/api/v5/trace`) creates, stops and lists them.
    fn tracer(&self) -> Arc<crate::trace::Tracer>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_the_listing_and_say_whether_more_follow() {
        let p = Page { page: 2, limit: 3 }.of((1..=7).collect());
        assert_eq!(p.data, vec![4, 5, 6]);
        assert_eq!(
            p.meta,
            Meta {
                page: 2,
                limit: 3,
                count: 7,
                hasnext: true
            }
        );
        let last = Page { page: 3, limit: 3 }.of((1..=7).collect());
        assert_eq!((last.data, last.meta.hasnext), (vec![7], false));
        let beyond = Page { page: 9, limit: 3 }.of((1..=7).collect::<Vec<i32>>());
        assert!(beyond.data.is_empty() && !beyond.meta.hasnext);
        // Page 0 and limit 0 are read as the first page of one.
        let odd = Page { page: 0, limit: 0 }.of(vec!['a', 'b']);
        assert_eq!((odd.data, odd.meta.page, odd.meta.limit), (vec!['a'], 1, 1));
    }
}
