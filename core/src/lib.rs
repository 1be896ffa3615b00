//! roost-core: the vocabulary every part of Roost shares, and the seams where
//! the parts meet. It holds no actors and does no I/O.
//!
//! - [`message`]: the application message as it travels inside the broker;
//! - [`client`]: who a client is and where it came from;
//! - [`delivery`]: a message on its way to one subscription, shared groups;
//! - [`session`]: a session as a plain value (moved between nodes, stored);
//! - [`hooks`]: the named hook points (EMQX's `emqx_hooks`) where access
//!   control, rules and integrations attach without knowing the runtime;
//! - [`api`]: the [`api::BrokerApi`] trait, what an extension may ask of the
//!   running broker;
//! - [`cluster`]: what the broker asks of the cluster ([`cluster::ClusterLink`]);
//! - [`metrics`]: the broker-wide counters;
//! - [`storage`]: the storage traits (retained messages, sessions, objects);
//! - [`authz`]: the words of authorization both the runtime and access use;
//! - [`banned`]: bans, and the [`banned::BanList`] access control keeps them in;
//! - [`config`]: the configuration sections more than one crate reads;
//! - [`trie`]: the topic trie the router and the cluster index filters with;
//! - [`trace`]: log trace (EMQX's), the registry and what a line says.
//!
//! Dependencies point here: the runtime (roost-actors) and every extension
//! crate depend on roost-core; roost-core depends on nothing of Roost but the
//! protocol codec.

pub mod alarms;
pub mod api;
pub mod authz;
pub mod banned;
pub mod client;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod escape;
pub mod hooks;
pub mod limit;
pub mod listing;
pub mod message;
pub mod metrics;
pub mod retained;
pub mod session;
pub mod stats;
pub mod storage;
pub mod trace;
pub mod trie;

pub use api::BrokerApi;
pub use client::{ClientInfo, PeerCert, PeerInfo};
pub use delivery::{Delivery, SharedKey};
pub use hooks::{Hook, HookPoint, Hooks};
pub use message::Message;
pub use metrics::Metrics;

/// A pinned, boxed, sendable future: what a seam returns when its answer has
/// to wait (a peer's reply, an HTTP service). Only those paths box.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
