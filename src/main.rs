//! The `roost` binary: reads the configuration, sets up logging, runs the broker
//! until a signal, and turns every failure into a message and an exit code.

mod cli;
mod config;
mod ctl;
mod log_escape;

use anyhow::Context as _;
use clap::Parser as _;
use cli::{Cli, Command, ConfigArgs};
use config::Config;
use roost_actors::broker::{Extension, Seams};
use roost_actors::{Broker, BrokerError};
use roost_core::cluster::ClusterLink;
use roost_core::hooks::{Hook, HookPoint, HooksBuilder, PublishAction};
use roost_core::metrics::MetricsHook;
use roost_core::{ClientInfo, Message};
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

/// Exit code for a configuration that cannot be used (nothing was started).
const EXIT_CONFIG: u8 = 2;

/// Exit code for a broker that failed to start or run.
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    // PostgreSQL and Redis authentication/authorization (roost-bridges), known
    // to access control before the configuration that names them is checked.
    roost_access::external::set_backends(roost_bridges::auth::backends());
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig(args) => match load(&args) {
            Ok(config) => match config::render(&config) {
                Ok(yaml) => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("roost: cannot write the configuration as YAML: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            },
            Err(code) => code,
        },
        Command::Ctl(args) => match ctl::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("roost ctl: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Start(args) => {
            let config = match load(&args) {
                Ok(config) => config,
                Err(code) => return code,
            };
            if let Err(code) = init_logging(&config) {
                return code;
            }
            match start(config) {
                Ok(()) => ExitCode::SUCCESS,
                // An unusable certificate, key or CA file is a configuration error.
                Err(e) => {
                    let config_problem = match e.downcast_ref::<BrokerError>() {
                        Some(BrokerError::Listener(problem)) => Some(problem.to_string()),
                        _ => e
                            .downcast_ref::<roost_admin::HttpsError>()
                            .map(ToString::to_string)
                            .or_else(|| {
                                e.downcast_ref::<roost_bridges::StartError>()
                                    .map(ToString::to_string)
                            }),
                    };
                    match config_problem {
                        Some(problem) => {
                            eprintln!("roost: config error: {problem}");
                            ExitCode::from(EXIT_CONFIG)
                        }
                        None => {
                            eprintln!("roost: {e:#}");
                            ExitCode::from(EXIT_FAILURE)
                        }
                    }
                }
            }
        }
    }
}

/// Loads the configuration, or prints why not and gives the exit code.
fn load(args: &ConfigArgs) -> Result<Config, ExitCode> {
    config::load(args.config.as_deref(), std::env::vars_os()).map_err(|e| {
        eprintln!("roost: config error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Logs go to stdout as plain lines (tests and log shippers parse them); colours
/// only when a person is watching a terminal and `NO_COLOR` is not set. `RUST_LOG`
/// wins over `log.level` so a one-off debug run needs no config change.
fn init_logging(config: &Config) -> Result<(), ExitCode> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => config::log_filter(&directives)
            .map_err(|e| format!("RUST_LOG: {directives:?} is not a log filter: {e}")),
        _ => config::log_filter(&config.log.level).map_err(|e| format!("log.level: {e}")),
    };
    let filter = filter.map_err(|message| {
        eprintln!("roost: config error: {message}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    let ansi = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        // Control characters in client ids and user names are escaped.
        .with_writer(log_escape::EscapedStdout { ansi })
        .init();
    Ok(())
}

/// Puts the broker together: the counters, access control on its hook
/// points, the REST API, and the cluster if enabled.
/// Set to `1`, the broker registers [`NoopHook`] on `message.publish` and
/// `message.delivered`: what one registered hook costs the publish path is
/// measured with it (docs/benchmarks.md). Not a configuration key on purpose.
const NOOP_HOOKS_ENV: &str = "ROOST_BENCH_NOOP_HOOKS";

/// A hook that lets every message pass and notes no delivery.
struct NoopHook;

impl Hook for NoopHook {
    fn message_publish(&self, _msg: &Arc<Message>) -> PublishAction {
        PublishAction::Pass
    }

    fn message_delivered(&self, _client: &Arc<ClientInfo>, _msg: &Message) {}
}

/// Opens the durable store under `<node.data_dir>/store`.
fn open_store(config: &Config) -> anyhow::Result<Arc<roost_storage::Store>> {
    let dir = std::path::Path::new(&config.node.data_dir).join("store");
    let store = roost_storage::Store::open(&dir, &config.durable_storage)
        .map_err(|e| anyhow::anyhow!("durable_storage: cannot open the store: {e}"))?;
    // A store an older Roost left readable by all is closed to others (its
    // files hold password hashes): its directory becomes 0700.
    use std::os::unix::fs::PermissionsExt as _;
    let private = std::fs::Permissions::from_mode(0o700);
    std::fs::set_permissions(&dir, private)
        .with_context(|| format!("cannot make {} private", dir.display()))?;
    Ok(store)
}

/// Moves the tables an earlier Roost kept as JSON files in `node.data_dir`
/// (`users.json`, `bans.json`...) into the store, once: a document already in
/// the store wins, and the file is renamed `<name>.json.imported`.
fn import_json_tables(config: &Config, durable: &roost_storage::Store) -> anyhow::Result<()> {
    use roost_core::storage::ObjectStore as _;
    let Ok(dir) = std::fs::read_dir(&config.node.data_dir) else {
        return Ok(());
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if !path.is_file() || durable.get(name).ok().flatten().is_some() {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        durable
            .put(name, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot import {}: {e}", path.display()))?;
        let _ = std::fs::rename(&path, path.with_extension("json.imported"));
        tracing::info!(document = name, file = %path.display(), "json_table_imported");
    }
    Ok(())
}

/// The runtime's stores: retained messages on disc (`retainer.storage_type:
/// disc`) and durable sessions (`durable_sessions.enable`), both in `durable`.
fn stores(
    config: &Config,
    durable: &Arc<roost_storage::Store>,
    metrics: &Arc<roost_core::Metrics>,
) -> anyhow::Result<roost_actors::context::Stores> {
    use roost_core::storage::{RetainedStore, SessionStore};
    let retained: Option<Arc<dyn RetainedStore>> = match config.retainer.storage_type {
        roost_actors::config::RetainerStorage::Ram => None,
        roost_actors::config::RetainerStorage::Disc => {
            let limits = roost_storage::RetainLimits {
                max_retained_messages: config.retainer.max_retained_messages,
                max_retained_bytes: config.retainer.retained_bytes(),
                max_payload_size: config.retainer.max_payload_size,
                msg_expiry_interval: config.retainer.msg_expiry_interval,
            };
            let r = roost_storage::DiscRetainer::open(durable.clone(), limits, metrics.clone())
                .map_err(|e| anyhow::anyhow!("retainer: cannot load the retained messages: {e}"))?;
            tracing::info!(retained = r.len(), "retained_messages_loaded");
            Some(Arc::new(r))
        }
    };
    let sessions: Option<Arc<dyn SessionStore>> = config
        .durable_sessions
        .enable
        .then(|| durable.clone() as Arc<dyn SessionStore>);
    let status: Arc<dyn roost_core::storage::StorageStatus> = durable.clone();
    Ok(roost_actors::context::Stores {
        retained,
        sessions,
        status: Some(status),
    })
}

fn seams(config: &Config, durable: &Arc<roost_storage::Store>) -> anyhow::Result<Seams> {
    // What the API creates (users, ACL rules, bans, API keys, dashboard
    // users) is kept in the durable store, as documents.
    import_json_tables(config, durable)?;
    let store: Arc<dyn roost_core::storage::ObjectStore> = durable.clone();
    let access = roost_access::Access::new(
        &config.authentication,
        config.allow_anonymous,
        &config.authorization,
        &roost_access::config::Guards {
            flapping_detect: config.flapping_detect.clone(),
            authentication_throttle: config.authentication_throttle.clone(),
        },
        store.clone(),
    )
    .map_err(BrokerError::Extension)?;
    let mut hooks = HooksBuilder::default();
    // The client and session events are counted at their hook points.
    let metrics = Arc::new(roost_core::Metrics::default());
    let counting = Arc::new(roost_core::metrics::MetricsHook(metrics.clone()));
    hooks.add_all(&MetricsHook::POINTS, MetricsHook::PRIORITY, counting);
    access.register(&mut hooks);
    let bans = access.ban_list();
    // The rule engine: on message.publish and the event points; the rules
    // created through the API are the document `rules` of the same store.
    let rules = roost_rules::RuleEngine::new(&config.rules, Some(store.clone()), metrics.clone())
        .map_err(|e| anyhow::anyhow!("rules: {e}"))?;
    rules.register(&mut hooks);
    if std::env::var_os(NOOP_HOOKS_ENV).is_some_and(|v| v == "1") {
        tracing::warn!("{NOOP_HOOKS_ENV}=1: no-op hooks on message.publish and message.delivered (a benchmark of the hook seam)");
        let noop = Arc::new(NoopHook);
        hooks.add_all(
            &[HookPoint::MessagePublish, HookPoint::MessageDelivered],
            0,
            noop,
        );
    }
    let (cluster, mut extensions) = extensions(config)?;
    if let Some(link) = &cluster {
        rules.replicate_through(link.clone());
    }
    let engine = rules.clone();
    extensions.push(Box::new(move |api| Ok(engine.start(api))));
    // Data integration: connectors, actions and sources of config.yaml and
    // of the API (the document `bridges` of the same store); rules reach the
    // actions as "type:name", sources reach the rules as "$bridges/type:name".
    // A type's field that is wrong stops start-up here (exit code 2).
    let bridges: Arc<roost_bridges::Bridges> = roost_bridges::Bridges::new(
        &config.bridges(),
        Some(store.clone()),
        roost_bridges::drivers(),
        roost_bridges::BridgesContext {
            node: config.node.name.clone(),
            data_dir: config.node.data_dir.clone().into(),
        },
    )?;
    bridges.attach(&rules);
    if let Some(link) = &cluster {
        bridges.replicate_through(link.clone());
    }
    let owner = bridges.clone();
    extensions.push(Box::new(move |_api| {
        Ok(roost_bridges::registry::child_spec(owner))
    }));
    if config.http.enabled {
        let socket = roost_admin::bind(&config.http).map_err(|error| BrokerError::Bind {
            listener: "http".into(),
            addr: config.http.bind.clone(),
            error,
        })?;
        let https = roost_admin::https_settings(&config.http.ssl)?;
        let auth = roost_admin::AdminAuth::open(&config.http, store.clone())
            .map_err(|e| anyhow::anyhow!("http: dashboard users and API keys: {e}"))?;
        let (chaos, auth, max_body_size) = (
            config.chaos.clone(),
            Arc::new(auth),
            config.http.max_body_size,
        );
        let monitor = roost_admin::Monitor::new(&config.dashboard);
        let storage: Arc<dyn roost_core::storage::StorageStatus> = durable.clone();
        let manage: Arc<dyn roost_bridges::BridgesManage> = bridges.clone();
        extensions.push(Box::new(move |api| {
            let admin = Arc::new(roost_admin::Admin {
                api: api.clone(),
                access,
                chaos,
                auth,
                max_body_size,
                monitor,
                rules,
                storage: Some(storage),
                bridges: Some(manage),
            });
            Ok(roost_admin::child_spec(roost_admin::HttpArgs {
                admin,
                socket,
                https,
            }))
        }));
    }
    let stores = stores(config, durable, &metrics)?;
    Ok(Seams {
        metrics,
        hooks,
        authz: config.authorization.policy(),
        cluster,
        bans: Some(bans),
        extensions,
        stores,
    })
}

/// The cluster the broker routes through, if any, and what starts with the broker.
type Extensions = (Option<Arc<dyn ClusterLink>>, Vec<Extension>);

/// What the broker is built with besides its core: the cluster, if enabled. The
/// router routes through it from the start, and its supervisor starts with the
/// broker (given the broker's API). A taken `cluster.bind` fails here, before
/// the broker starts, as a bind error of the listener `cluster`.
fn extensions(config: &Config) -> anyhow::Result<Extensions> {
    #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
    let mut out: Vec<Extension> = Vec::new();
    #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
    let mut link: Option<Arc<dyn ClusterLink>> = None;
    if config.cluster.enabled {
        #[cfg(feature = "cluster")]
        {
            let cluster =
                roost_cluster::Cluster::new(&config.node, &config.cluster, &config.supervision)
                    .map_err(|e| match e {
                        roost_cluster::ClusterError::Bind(addr, error) => BrokerError::Bind {
                            listener: "cluster".into(),
                            addr,
                            error,
                        },
                    })?;
            link = Some(cluster.clone());
            out.push(Box::new(move |api| Ok(cluster.start(api))));
        }
        #[cfg(not(feature = "cluster"))]
        anyhow::bail!("cluster.enabled: this roost was built without the `cluster` feature");
    }
    Ok((link, out))
}

/// Every file and directory the broker creates is its owner's alone (files 0600,
/// directories 0700): the store under `node.data_dir` holds password hashes,
/// admin users and API keys (umask 077, as PostgreSQL does).
fn private_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Runs the broker on a multi-thread runtime until SIGINT or SIGTERM, then stops it
/// gracefully. A second signal during the graceful stop ends the process at once.
fn start(config: Config) -> anyhow::Result<()> {
    private_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("roost")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Installed before the broker starts so a signal during start-up is not lost.
        let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let node = config.node.name.clone();
        let started = std::time::Instant::now();
        let durable = open_store(&config)?;
        let seams = seams(&config, &durable)?;
        let broker = Broker::start_with(config.broker(), seams).await?;
        tracing::info!(
            node = %node,
            version = env!("CARGO_PKG_VERSION"),
            startup_ms = started.elapsed().as_millis() as u64,
            "broker_started"
        );
        let name = tokio::select! {
            _ = sigint.recv() => "SIGINT",
            _ = sigterm.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "broker_stopping");
        tokio::select! {
            () = broker.shutdown() => {}
            _ = sigint.recv() => anyhow::bail!("stopped without a graceful shutdown (second signal)"),
            _ = sigterm.recv() => anyhow::bail!("stopped without a graceful shutdown (second signal)"),
        }
        // What the stop wrote (sessions detached, wills taken) is synced.
        let _ = tokio::task::spawn_blocking(move || durable.close()).await;
        tracing::info!(node = %node, "broker_stopped");
        Ok(())
    })
}
