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

/// What `roost` should do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker in the foreground until SIGINT or SIGTERM, then stop gracefully.
    Start(ConfigArgs),
    /// Validate the configuration and print the effective configuration as YAML.
    CheckConfig(ConfigArgs),
    /// Operate a running broker through its HTTP API (http.bind): actor tree, kill, stats.
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
    /// The live actor tree.
    #[command(subcommand)]
    Actors(ActorsCommand),
    /// Connections, sessions, routes, retained messages and every counter.
    Stats,
    /// Users of the built-in authenticators (password_based or scram).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Banned clients, by client id, user name or peer address.
    #[command(subcommand)]
    Banned(BannedCommand),
    /// The cluster as this node sees it; join or leave.
    #[command(subcommand)]
    Cluster(ClusterCommand),
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
