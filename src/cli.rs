//! The command line: `roost start` runs the broker, `roost check-config` validates a
//! configuration without starting anything, `roost ctl ...` talks to a running
//! broker's HTTP API (named like the `emqx` commands).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Roost, an MQTT 3.1 / 3.1.1 / 5.0 broker built as supervised actors.
///
/// Configuration comes from the built-in defaults (documented in config.yaml), then
/// the file given with --config, then environment variables ROOST__<SECTION>__<KEY>
/// (e.g. ROOST__MQTT__MAX_INFLIGHT=64). Logs go to stdout, filtered by RUST_LOG if
/// set, else by log.level.
#[derive(Debug, Parser)]
#[command(name = "roost", version, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `roost` should do. (Parsed once per process: the size of `ctl rules
/// test`'s options in the largest variant costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker in the foreground until SIGINT or SIGTERM, then stop gracefully.
    Start(ConfigArgs),
    /// Validate the configuration and print the effective configuration as YAML.
    CheckConfig(ConfigArgs),
    /// Operate a running broker through its HTTP API (http.bind), with emqx ctl's
    /// verbs: status, broker, clients, subscriptions, topics, retainer,
    /// listeners, admins, trace, rules, and Roost's actors, users, banned,
    /// cluster, connectors, actions, sources.
    Ctl(CtlArgs),
}

/// Where the configuration comes from (shared by every command that reads it).
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A YAML configuration file; keys left out keep their defaults.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `roost ctl`: where the broker's HTTP API is and how to log in.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// Base URL of the broker's HTTP listener (http.bind).
    #[arg(long, global = true, default_value = "http://127.0.0.1:18083")]
    pub url: String,
    /// HTTP basic auth user name [default: $ROOST_CTL_USERNAME, else admin].
    #[arg(long, global = true)]
    pub username: Option<String>,
    /// HTTP basic auth password [default: $ROOST_CTL_PASSWORD, else public].
    #[arg(long, global = true)]
    pub password: Option<String>,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// What `roost ctl` should do.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Whether the broker is up (GET /status; needs no credentials).
    Status,
    /// The broker's version, uptime and time; `broker stats|metrics` for its
    /// gauges and counters.
    Broker {
        #[command(subcommand)]
        command: Option<BrokerCommand>,
    },
    /// The same as `broker stats`.
    Stats,
    /// Connected clients: list, show, kick.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Subscriptions: list, show, add, del.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Routes of the topic index: list, show.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Retained messages: info, topics, clean.
    #[command(subcommand)]
    Retainer(RetainerCommand),
    /// The durable store: info (sizes, counts, last sync).
    #[command(subcommand)]
    Storage(StorageCommand),
    /// The MQTT listeners and their connections.
    Listeners,
    /// Dashboard users (the HTTP API's).
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Log trace: write one client's, topic's or address's packets and events
    /// to a file on the broker's machine.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// The live actor tree.
    #[command(subcommand)]
    Actors(ActorsCommand),
    /// Users of the built-in authenticators (password_based or scram).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Banned clients, by client id, user name or peer address.
    #[command(subcommand)]
    Banned(BannedCommand),
    /// The cluster as this node sees it; join or leave.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The rule engine's rules: list, show, and test SQL over a context.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Data integration's connectors (connection pools to external systems).
    #[command(subcommand)]
    Connectors(BridgeCommand),
    /// Data integration's actions (what rules send through a connector),
    /// with their metrics.
    #[command(subcommand)]
    Actions(BridgeCommand),
    /// Data integration's sources (messages brought in for rules), with their
    /// metrics.
    #[command(subcommand)]
    Sources(BridgeCommand),
}

/// `roost ctl connectors|actions|sources ...`; an id is `<type>:<name>`.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Every one, one `Connector{id=..., enabled=..., status=...}` line each.
    List,
    /// One: its status, its fields, and (actions, sources) its metrics.
    Show { id: String },
    /// Start it and store `enable: true`.
    Enable { id: String },
    /// Stop it and store `enable: false`.
    Disable { id: String },
    /// Delete it (refused while something depends on it).
    Delete { id: String },
}

/// `roost ctl rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule, one `Rule{id=..., name=..., enabled=..., descr=...}` line each.
    List,
    /// One rule: its SQL, actions, FROM list and metrics.
    Show { id: String },
    /// Run SQL once over a context (POST /api/v5/rule_test) and print what it
    /// selects as JSON, or fail with `SQL Not Match`. The context is the
    /// options below, over the JSON of --context.
    Test(RuleTestArgs),
}

/// The SQL and context of `roost ctl rules test`.
#[derive(Debug, clap::Args)]
pub struct RuleTestArgs {
    /// The rule SQL, e.g. 'SELECT payload.t AS t FROM "t/#" WHERE payload.t > 30'.
    #[arg(long)]
    pub sql: String,
    /// A JSON object of the event's columns, e.g. '{"topic": "t/1", "payload": "{}"}'.
    #[arg(long)]
    pub context: Option<String>,
    /// message_publish (the default), client_connected, session_subscribed...
    #[arg(long)]
    pub event_type: Option<String>,
    #[arg(long)]
    pub topic: Option<String>,
    /// The payload, as text (JSON is decoded by the rule's paths).
    #[arg(long)]
    pub payload: Option<String>,
    #[arg(long)]
    pub clientid: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: Option<u8>,
}

/// `roost ctl users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (its password is hashed by the broker).
    Add {
        user_id: String,
        /// The user's password (named apart from the global --password, the API's).
        #[arg(value_name = "PASSWORD")]
        user_password: String,
        /// The user bypasses authorization.
        #[arg(long)]
        superuser: bool,
        /// password_based:built_in_database or scram:built_in_database.
        #[arg(long, default_value = "password_based:built_in_database")]
        authenticator: String,
    },
    /// Delete a user.
    Del {
        user_id: String,
        #[arg(long, default_value = "password_based:built_in_database")]
        authenticator: String,
    },
    /// List the users.
    List {
        #[arg(long, default_value = "password_based:built_in_database")]
        authenticator: String,
    },
}

/// `roost ctl banned ...`.
#[derive(Debug, Subcommand)]
pub enum BannedCommand {
    /// Ban a client; a connected client the ban covers is disconnected.
    Add {
        /// clientid, username or peerhost (an IP address or CIDR range).
        #[arg(value_name = "AS")]
        kind: String,
        who: String,
        /// How long the ban lasts (e.g. 10m, 1h, 7d); forever if left out.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a ban.
    Del {
        #[arg(value_name = "AS")]
        kind: String,
        who: String,
    },
    /// List the bans in force.
    List,
}

/// `roost ctl cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, their state (self, up, suspect, down), address, last heartbeat
    /// and route count.
    Status,
    /// Join the cluster of the node at ADDRESS (its cluster address, host:port):
    /// this node dials it from now on, like a seed.
    Join {
        /// e.g. 10.0.0.2:4370
        address: String,
    },
    /// Leave the cluster: peers drop this node's routes; it stops dialling
    /// until the next join.
    Leave,
}

/// `roost ctl actors ...`.
#[derive(Debug, Subcommand)]
pub enum ActorsCommand {
    /// Print the actor tree (kind, restarts, mailbox, uptime), or the part of it
    /// under PREFIX (e.g. roost/sessions/session:dev; the leading roost/ may be left out).
    Tree {
        /// Only actors whose path starts with this.
        prefix: Option<String>,
        /// Levels below the root to list.
        #[arg(long)]
        depth: Option<usize>,
    },
    /// Kill the actor at PATH the way a crash would (its supervisor restarts it);
    /// needs chaos.enabled on the broker.
    Kill {
        /// e.g. roost/router/shard-0
        path: String,
    },
}

/// `roost ctl broker ...`.
#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// Gauges: connections, sessions, topics, subscriptions, retained (GET /api/v5/stats).
    Stats,
    /// Counters: bytes, packets, messages, deliveries (GET /api/v5/metrics).
    Metrics,
}

/// `roost ctl clients ...`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Every client, one `Client(...)` line each.
    List,
    /// One client.
    Show { client_id: String },
    /// Disconnect a client (DISCONNECT 0x98 to a 5.0 client).
    Kick { client_id: String },
}

/// `roost ctl subscriptions ...`.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Every subscription.
    List,
    /// One client's subscriptions.
    Show { client_id: String },
    /// Subscribe a client to a topic filter, as if it had sent SUBSCRIBE.
    Add {
        client_id: String,
        topic: String,
        /// 0, 1 or 2.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=2))]
        qos: u8,
    },
    /// Unsubscribe a client from a topic filter.
    Del { client_id: String, topic: String },
}

/// `roost ctl topics ...`.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Every route: `<topic> -> <node>`.
    List,
    /// The route of one topic filter.
    Show { topic: String },
}

/// `roost ctl retainer ...`.
#[derive(Debug, Subcommand)]
pub enum RetainerCommand {
    /// How many retained messages there are.
    Info,
    /// The topics of the retained messages.
    Topics,
    /// Delete the retained message of TOPIC, or every retained message.
    Clean { topic: Option<String> },
}

/// `roost ctl storage ...`.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Where the store is, its size against its limit, what it holds, its
    /// sync policy and last sync.
    Info,
}

/// `roost ctl admins ...`.
#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// Change a dashboard user's password. The old password sent is ctl's own
    /// --password, so given the user ctl logs in as (--username) this changes
    /// ctl's own password; for another user, Roost's API takes the calling
    /// user's password as the confirmation.
    Passwd {
        /// Named apart from the global --username (ctl's own login).
        #[arg(value_name = "USERNAME")]
        user: String,
        #[arg(value_name = "NEW_PASSWORD")]
        new_password: String,
    },
}

/// What a trace follows, as emqx ctl names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceKind {
    /// A client id.
    Client,
    /// A topic filter (wildcards allowed).
    Topic,
    /// The clients connected from an IP address.
    #[value(name = "ip_address")]
    IpAddress,
}

/// `roost ctl trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Start writing what KIND names to FILE, a path on the broker's machine
    /// (made absolute from this directory: ctl usually runs on that machine).
    Start {
        kind: TraceKind,
        /// The client id, topic filter or IP address.
        value: String,
        file: std::path::PathBuf,
        /// How payloads are written: text, hex or hidden.
        #[arg(long, default_value = "text")]
        payload_encode: String,
        /// How long the trace runs (e.g. 30m, 2h).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
        duration: std::time::Duration,
    },
    /// Stop the trace of KIND VALUE (its file stays).
    Stop { kind: TraceKind, value: String },
    /// Every trace, with its status.
    List,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A subcommand's argument named like a global one would take its value
    /// (clap keys both by name): `admins passwd bob` must not log in as bob.
    #[test]
    fn positional_names_do_not_shadow_the_global_login() {
        let cli = Cli::try_parse_from([
            "roost",
            "ctl",
            "--username",
            "admin",
            "--password",
            "old",
            "admins",
            "passwd",
            "bob",
            "new",
        ])
        .unwrap();
        let Command::Ctl(args) = cli.command else {
            panic!("not ctl")
        };
        assert_eq!(args.username.as_deref(), Some("admin"));
        assert_eq!(args.password.as_deref(), Some("old"));
        let CtlCommand::Admins(AdminsCommand::Passwd { user, new_password }) = args.command else {
            panic!("not admins passwd")
        };
        assert_eq!((user.as_str(), new_password.as_str()), ("bob", "new"));
    }
}
