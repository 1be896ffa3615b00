//! The `kafka_producer` type (EMQX's Kafka producer), on rskafka, a
//! pure-Rust client: rdkafka would need librdkafka 2.12 or later, and
//! Debian has 2.0.
//!
//! The connector holds one rskafka client (it keeps a connection per broker
//! and the cluster's metadata); an action renders each rule output into a
//! record (`message.key`, `message.value`, `message.timestamp`), picks its
//! partition (`partition_strategy`), and produces each partition's records
//! in one request per `max_batch_bytes`.

mod errors;
pub mod partition;

use crate::fields;
use crate::{BoxFuture, ConfigError, Connector, ConnectorContext, Driver, SendError, Sink};
use roost_rules::engine::template::Template;
use roost_rules::{Map, Value};
use rskafka::chrono::{DateTime, TimeZone, Utc};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

pub use errors::classify;

/// Registered as `kafka_producer`.
pub struct KafkaDriver;

impl Driver for KafkaDriver {
    fn kind(&self) -> &'static str {
        "kafka_producer"
    }

    fn connector(
        &self,
        ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let hosts: Vec<String> = fields::required(conf, "bootstrap_hosts", "bootstrap_hosts")?
            .split(',')
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            return Err(ConfigError::new("bootstrap_hosts", "no host"));
        }
        let connect_timeout = fields::duration(
            conf,
            "connect_timeout",
            "connect_timeout",
            Duration::from_secs(5),
        )?;
        let tls = crate::ssl::parse(conf)?;
        if tls.as_ref().is_some_and(|t| t.server_name.is_some()) {
            return Err(ConfigError::new(
                "ssl.server_name_indication",
                "not supported by the Kafka client: each broker is named by its advertised host",
            ));
        }
        let parts = Parts {
            hosts,
            client_id: format!("{}:{}", ctx.name, ctx.node),
            sasl: authentication(conf)?,
            tls: tls.map(|t| t.config),
            // rskafka retries a failed request itself; bounded here, so a
            // broker that is down comes back as an error the delivery layer
            // sees (and retries until `request_ttl`).
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
                deadline: Some(connect_timeout),
            },
        };
        let shared = Arc::new(Shared {
            parts: std::sync::Mutex::new(Some(parts)),
            client: Mutex::new(None),
            connect_timeout,
            partitions: Mutex::new(HashMap::new()),
            topics: Mutex::new(HashMap::new()),
            last_error: std::sync::Mutex::new(None),
        });
        // Connect now in the background; a broker that is down is only a
        // health check that fails.
        let eager = shared.clone();
        tokio::spawn(async move {
            let _ = eager.client().await;
        });
        Ok(Arc::new(KafkaConnector(shared)))
    }
}

/// EMQX's `authentication`: `"none"`, or `{mechanism, username, password}`
/// with `plain`, `scram_sha_256` or `scram_sha_512`.
fn authentication(conf: &serde_json::Value) -> Result<Option<SaslConfig>, ConfigError> {
    let auth = match fields::get(conf, "authentication") {
        None => return Ok(None),
        Some(serde_json::Value::String(s)) if s == "none" => return Ok(None),
        Some(a @ serde_json::Value::Object(_)) => a,
        Some(other) => {
            return Err(ConfigError::new(
                "authentication",
                format!("expected \"none\" or an object, got {other}"),
            ))
        }
    };
    let mechanism = fields::one_of(
        auth,
        "mechanism",
        "authentication.mechanism",
        &["plain", "scram_sha_256", "scram_sha_512"],
    )?;
    let credentials = Credentials::new(
        fields::required(auth, "username", "authentication.username")?,
        fields::required(auth, "password", "authentication.password")?,
    );
    Ok(Some(match mechanism {
        "plain" => SaslConfig::Plain(credentials),
        "scram_sha_256" => SaslConfig::ScramSha256(credentials),
        _ => SaslConfig::ScramSha512(credentials),
    }))
}

/// What a client is built from (rskafka's builder is consumed by `build`).
struct Parts {
    hosts: Vec<String>,
    client_id: String,
    sasl: Option<SaslConfig>,
    tls: Option<Arc<rustls::ClientConfig>>,
    backoff: BackoffConfig,
}

impl Parts {
    fn builder(&self) -> ClientBuilder {
        let mut b = ClientBuilder::new(self.hosts.clone())
            .client_id(self.client_id.clone())
            .backoff_config(self.backoff.clone());
        if let Some(sasl) = &self.sasl {
            b = b.sasl_config(sasl.clone());
        }
        if let Some(tls) = &self.tls {
            b = b.tls_config(tls.clone());
        }
        b
    }
}

/// The connector's client, made on first use and again after it failed.
struct Shared {
    /// `None` once stopped.
    parts: std::sync::Mutex<Option<Parts>>,
    client: Mutex<Option<Arc<Client>>>,
    connect_timeout: Duration,
    /// One client per (topic, partition): each follows its partition's
    /// leader.
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionClient>>>,
    /// Each topic's partitions, from the cluster's metadata.
    topics: Mutex<HashMap<String, Vec<i32>>>,
    /// Why the last attempt to connect failed (a TLS or SASL error...), for
    /// a health check that finds another attempt under way.
    last_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    async fn client(&self) -> Result<Arc<Client>, SendError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let Some(builder) = self.parts.lock().unwrap().as_ref().map(Parts::builder) else {
            return Err(SendError::Retriable("connector stopped".into()));
        };
        // rskafka gives up by itself at `connect_timeout` (its backoff
        // deadline) with the last error, which says more than a timeout:
        // this one is only a guard.
        let timeout = self.connect_timeout * 2;
        let client = match tokio::time::timeout(timeout, builder.build()).await {
            Err(_) => Err(SendError::Retriable(format!(
                "no broker answered within {timeout:?}"
            ))),
            Ok(r) => r.map_err(|e| classify(&e)),
        }
        .inspect_err(|e| *self.last_error.lock().unwrap() = Some(e.to_string()))?;
        self.last_error.lock().unwrap().take();
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn partitions_of(&self, topic: &str) -> Result<Vec<i32>, SendError> {
        if let Some(p) = self.topics.lock().await.get(topic) {
            return Ok(p.clone());
        }
        let client = self.client().await?;
        let listed = tokio::time::timeout(self.connect_timeout, client.list_topics())
            .await
            .map_err(|_| SendError::Retriable("metadata request timed out".into()))?
            .map_err(|e| classify(&e))?;
        let mut topics = self.topics.lock().await;
        for t in listed {
            topics.insert(t.name, t.partitions.into_iter().collect());
        }
        match topics.get(topic) {
            Some(p) if !p.is_empty() => Ok(p.clone()),
            // The topic may be being created: worth retrying until the TTL.
            _ => Err(SendError::Retriable(format!("unknown topic {topic:?}"))),
        }
    }

    async fn partition(&self, topic: &str, p: i32) -> Result<Arc<PartitionClient>, SendError> {
        let key = (topic.to_string(), p);
        if let Some(pc) = self.partitions.lock().await.get(&key) {
            return Ok(pc.clone());
        }
        let client = self.client().await?;
        let timeout = self.connect_timeout * 3;
        let pc = tokio::time::timeout(
            timeout,
            client.partition_client(topic, p, UnknownTopicHandling::Error),
        )
        .await
        .map_err(|_| SendError::Retriable(format!("no partition leader found within {timeout:?}")))?
        .map_err(|e| classify(&e))?;
        let pc = Arc::new(pc);
        self.partitions.lock().await.insert(key, pc.clone());
        Ok(pc)
    }

    /// After a failure, forget the metadata and the partition's client, so
    /// the next send asks again (a new leader, partitions added, a topic
    /// made again).
    async fn forget(&self, topic: &str, p: i32) {
        self.topics.lock().await.remove(topic);
        self.partitions.lock().await.remove(&(topic.to_string(), p));
    }
}

struct KafkaConnector(Arc<Shared>);

impl Connector for KafkaConnector {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            // While a send is connecting, the check does not queue behind
            // it (and time out): it reports why the last attempt failed.
            let ready = match self.0.client.try_lock() {
                Ok(slot) => slot.clone(),
                Err(_) => {
                    let last = self.0.last_error.lock().unwrap().clone();
                    return Err(last.unwrap_or_else(|| "connecting".into()));
                }
            };
            let client = match ready {
                Some(c) => c,
                None => self.0.client().await.map_err(|e| e.to_string())?,
            };
            match tokio::time::timeout(self.0.connect_timeout, client.list_topics()).await {
                Err(_) => Err("metadata request timed out".into()),
                Ok(Err(e)) => Err(e.to_string()),
                Ok(Ok(_)) => Ok(()),
            }
        })
    }

    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        let p = parameters;
        let topic = fields::required(p, "topic", "parameters.topic")?;
        let topic =
            Template::parse(&topic).map_err(|why| ConfigError::new("parameters.topic", why))?;
        let empty = serde_json::Value::Object(Default::default());
        let message = fields::get(p, "message").unwrap_or(&empty);
        let key = fields::template(message, "key", "parameters.message.key", "${.clientid}")?;
        let value = fields::template(message, "value", "parameters.message.value", "${.}")?;
        let timestamp = fields::template(
            message,
            "timestamp",
            "parameters.message.timestamp",
            "${.timestamp}",
        )?;
        let key_dispatch = fields::one_of(
            p,
            "partition_strategy",
            "parameters.partition_strategy",
            &["random", "key_dispatch"],
        )? == "key_dispatch";
        let compression = match fields::one_of(
            p,
            "compression",
            "parameters.compression",
            &["no_compression", "gzip", "snappy", "lz4", "zstd"],
        )? {
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => Compression::NoCompression,
        };
        // rskafka's produce request always asks for acks from every in-sync
        // replica; the weaker settings cannot be honoured, so they are
        // refused rather than silently strengthened.
        fields::one_of(
            p,
            "required_acks",
            "parameters.required_acks",
            &["all_isr"],
        )
        .map_err(|e| {
            ConfigError::new(
                e.field,
                format!("{}; only all_isr: the Kafka client (rskafka) always waits for every in-sync replica", e.why),
            )
        })?;
        let max_batch_bytes = fields::bytesize(
            p,
            "max_batch_bytes",
            "parameters.max_batch_bytes",
            896 * 1024,
        )?
        .max(1) as usize;
        Ok(Arc::new(KafkaSink {
            shared: self.0.clone(),
            topic,
            key,
            value,
            timestamp,
            key_dispatch,
            compression,
            max_batch_bytes,
        }))
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.parts.lock().unwrap().take();
            self.0.client.lock().await.take();
            self.0.partitions.lock().await.clear();
        })
    }
}

struct KafkaSink {
    shared: Arc<Shared>,
    topic: Template,
    key: Template,
    value: Template,
    timestamp: Template,
    key_dispatch: bool,
    compression: Compression,
    max_batch_bytes: usize,
}

/// A value as record bytes: bytes as they are, anything else as template
/// text.
fn bytes_of(t: &Template, out: &Map) -> Vec<u8> {
    match t.value(out) {
        Some(Value::Bin(b)) => b.to_vec(),
        Some(Value::Str(s)) => s.into_bytes(),
        _ => t.render(out).into_bytes(),
    }
}

impl KafkaSink {
    fn record(&self, out: &Map) -> Record {
        let ms = match self.timestamp.value(out) {
            Some(Value::Int(n)) => Some(n),
            Some(Value::Str(s)) => s.trim().parse().ok(),
            _ => None,
        };
        // EMQX falls back to the time of sending for a timestamp that is not
        // a number of milliseconds.
        let timestamp: DateTime<Utc> = ms
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .unwrap_or_else(Utc::now);
        Record {
            key: Some(bytes_of(&self.key, out)),
            value: Some(bytes_of(&self.value, out)),
            headers: BTreeMap::new(),
            timestamp,
        }
    }
}

impl Sink for KafkaSink {
    /// Records are grouped by topic and partition, each group produced in
    /// requests of at most `max_batch_bytes`, in the batch's order. When a
    /// request fails, only the records not yet taken are sent again
    /// ([`SendError::Unsent`]): a partition never gets a record twice
    /// because another partition failed.
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            // Each group: its partition, its records and their places in
            // the batch.
            type Group = ((String, i32), Vec<(usize, Record)>);
            let mut groups: Vec<Group> = Vec::new();
            for (i, out) in batch.iter().enumerate() {
                let topic = self.topic.render(out);
                let partitions = self.shared.partitions_of(&topic).await?;
                let record = self.record(out);
                let p = if self.key_dispatch {
                    partition::by_key(record.key.as_deref().unwrap_or_default(), &partitions)
                } else {
                    partition::random(&partitions)
                };
                let key = (topic, p);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, records)) => records.push((i, record)),
                    None => groups.push((key, vec![(i, record)])),
                }
            }
            let mut unsent: Vec<usize> = Vec::new();
            let mut failed: Option<SendError> = None;
            for ((topic, p), records) in groups {
                if failed.is_some() {
                    unsent.extend(records.iter().map(|(i, _)| *i));
                    continue;
                }
                let (places, records): (Vec<usize>, Vec<Record>) = records.into_iter().unzip();
                let mut places = places.into_iter();
                let pc = match self.shared.partition(&topic, p).await {
                    Ok(pc) => pc,
                    Err(e) => {
                        unsent.extend(places);
                        failed = Some(e);
                        continue;
                    }
                };
                for chunk in partition::chunks(records, self.max_batch_bytes) {
                    let n = chunk.len();
                    if failed.is_some() {
                        unsent.extend(places.by_ref().take(n));
                        continue;
                    }
                    // rskafka has no request timeout of its own: a broker that
                    // keeps the connection open but never answers would hold
                    // the batch forever.
                    let timeout = self.shared.connect_timeout * 3;
                    let result =
                        match tokio::time::timeout(timeout, pc.produce(chunk, self.compression))
                            .await
                        {
                            Err(_) => Err(SendError::Retriable(format!(
                                "no answer to the produce request within {timeout:?}"
                            ))),
                            Ok(r) => r.map(|_| ()).map_err(|e| classify(&e)),
                        };
                    match result {
                        Ok(()) => {
                            places.by_ref().take(n).for_each(drop);
                        }
                        Err(e) => {
                            self.shared.forget(&topic, p).await;
                            unsent.extend(places.by_ref().take(n));
                            failed = Some(e);
                        }
                    }
                }
            }
            match failed {
                None => Ok(()),
                // Nothing was taken, or the error is not worth a retry.
                Some(e) if unsent.len() == batch.len() => Err(e),
                Some(SendError::Retriable(why)) => {
                    unsent.sort_unstable();
                    Err(SendError::Unsent { unsent, why })
                }
                Some(e) => Err(e),
            }
        })
    }

    /// With `key_dispatch`, a record's topic and key: one key's records go
    /// to one partition, and must reach it in the order the rule made them.
    fn order_key(&self, out: &Map) -> Option<u64> {
        if !self.key_dispatch {
            return None;
        }
        let mut h = std::hash::DefaultHasher::new();
        self.topic.render(out).hash(&mut h);
        bytes_of(&self.key, out).hash(&mut h);
        Some(h.finish())
    }
}
