//! The command line: `roost start` runs the broker, `roost check-config` validates a
//! configuration without starting anything (named like the `emqx` commands).

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
}

/// Where the configuration comes from (shared by every command that reads it).
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A YAML configuration file; keys left out keep their defaults.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}
