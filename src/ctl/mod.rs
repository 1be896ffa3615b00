//! `roost ctl`: operator commands against a running broker's HTTP API, with
//! `emqx ctl`'s verbs and output (status, broker, clients, subscriptions,
//! topics, retainer, listeners, admins, trace, rules) and Roost's own (actors,
//! users, banned, cluster, and data integration's connectors, actions and
//! sources).

mod access;
mod bridges;
mod http;
mod render;
mod rules;
mod trace;
mod tree;
mod verbs;

use crate::cli::{BrokerCommand, CtlArgs, CtlCommand};
pub use http::CtlError;

/// Runs one `ctl` command; what it prints goes to stdout.
pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CtlError::BadAnswer {
            url: args.url.clone(),
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(async {
        let client = http::Client::new(&args)?;
        match args.command {
            CtlCommand::Status => verbs::status(&client).await,
            CtlCommand::Broker { command } => verbs::broker(&client, command).await,
            CtlCommand::Stats => verbs::broker(&client, Some(BrokerCommand::Stats)).await,
            CtlCommand::Clients(cmd) => verbs::clients(&client, cmd).await,
            CtlCommand::Subscriptions(cmd) => verbs::subscriptions(&client, cmd).await,
            CtlCommand::Topics(cmd) => verbs::topics(&client, cmd).await,
            CtlCommand::Retainer(cmd) => verbs::retainer(&client, cmd).await,
            CtlCommand::Storage(cmd) => verbs::storage(&client, cmd).await,
            CtlCommand::Listeners => verbs::listeners(&client).await,
            CtlCommand::Admins(cmd) => verbs::admins(&client, cmd).await,
            CtlCommand::Trace(cmd) => trace::trace(&client, cmd).await,
            CtlCommand::Actors(cmd) => tree::actors(&client, cmd).await,
            CtlCommand::Users(cmd) => access::users(&client, cmd).await,
            CtlCommand::Banned(cmd) => access::banned(&client, cmd).await,
            CtlCommand::Cluster(cmd) => access::cluster(&client, cmd).await,
            CtlCommand::Rules(cmd) => rules::rules(&client, cmd).await,
            CtlCommand::Connectors(cmd) => {
                bridges::bridges(&client, bridges::Kind::Connectors, cmd).await
            }
            CtlCommand::Actions(cmd) => {
                bridges::bridges(&client, bridges::Kind::Actions, cmd).await
            }
            CtlCommand::Sources(cmd) => {
                bridges::bridges(&client, bridges::Kind::Sources, cmd).await
            }
        }
    })
}
