//! The three brokers under comparison: installing what is missing, writing their
//! configuration, starting them on loopback ports with a raised descriptor limit,
//! and stopping them.

use anyhow::{bail, Context};
use std::fs;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Roost,
    Mosquitto,
    Rumqttd,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Roost => "roost",
            Kind::Mosquitto => "mosquitto",
            Kind::Rumqttd => "rumqttd",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Kind> {
        match s {
            "roost" => Ok(Kind::Roost),
            "mosquitto" => Ok(Kind::Mosquitto),
            "rumqttd" => Ok(Kind::Rumqttd),
            _ => bail!("unknown broker {s:?} (roost, mosquitto, rumqttd)"),
        }
    }
}

/// Finds `name` on PATH or in the usual places of Debian and cargo.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/bin".into());
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    if let Some(ch) = std::env::var_os("CARGO_HOME") {
        dirs.push(Path::new(&ch).join("bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn run_visible(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("compare: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Makes sure the broker's program exists, installing it unless `no_install`.
pub fn ensure_installed(kind: Kind, roost_bin: &Path, no_install: bool) -> anyhow::Result<PathBuf> {
    match kind {
        Kind::Roost => {
            if roost_bin.is_file() {
                Ok(roost_bin.to_path_buf())
            } else {
                bail!(
                    "{} not found: build it with `cargo build --release -p roost` or pass --roost-bin",
                    roost_bin.display()
                )
            }
        }
        Kind::Mosquitto => {
            if let Some(p) = find_program("mosquitto") {
                return Ok(p);
            }
            if no_install {
                bail!("mosquitto is not installed (--no-install given)");
            }
            eprintln!("compare: mosquitto is missing; installing the Debian package");
            run_visible(Command::new("apt-get").args(["install", "-y", "mosquitto"]))?;
            find_program("mosquitto").context("mosquitto still missing after apt-get install")
        }
        Kind::Rumqttd => {
            if let Some(p) = find_program("rumqttd") {
                return Ok(p);
            }
            if no_install {
                bail!("rumqttd is not installed (--no-install given)");
            }
            // Without --locked: the crate's own lock file no longer builds on current toolchains.
            eprintln!(
                "compare: rumqttd is missing; building it with cargo install (a few minutes)"
            );
            run_visible(Command::new("cargo").args(["install", "rumqttd"]))?;
            find_program("rumqttd").context("rumqttd still missing after cargo install")
        }
    }
}

/// A running broker process, killed on drop if not stopped.
pub struct BrokerProcess {
    pub kind: Kind,
    pub child: Child,
    /// The port a 3.1.1 client connects to.
    pub port_v3: u16,
    /// The port a 5.0 client connects to.
    pub port_v5: u16,
    pub log: PathBuf,
}

/// Lets the broker open as many descriptors as the hard limit allows.
fn raise_nofile_in_child(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls (getrlimit/setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            Ok(())
        });
    }
}

/// Writes the broker's configuration into `dir` and starts it on `port` (and
/// `port + 1` for rumqttd's 5.0 listener), with `env` added to its
/// environment; waits until it accepts connections.
pub fn start(
    kind: Kind,
    program: &Path,
    port: u16,
    dir: &Path,
    env: &[(String, String)],
) -> anyhow::Result<BrokerProcess> {
    fs::create_dir_all(dir)?;
    let log = dir.join(format!("{}.log", kind.name()));
    let mut cmd = Command::new(program);
    let (port_v3, port_v5) = match kind {
        Kind::Roost => {
            cmd.arg("start")
                .env("ROOST__LISTENERS__TCP__BIND", format!("127.0.0.1:{port}"))
                .env("NO_COLOR", "1");
            (port, port)
        }
        Kind::Mosquitto => {
            // max_inflight_messages 32 (default 20) because a 3.1.1 publisher with 32 QoS 2
            // messages in flight otherwise loses the ones past 20 although they are acked;
            // set_tcp_nodelay because Roost does not use Nagle either.
            let conf = dir.join("mosquitto.conf");
            fs::write(
                &conf,
                format!(
                    "# generated by roost-bench compare\n\
                     listener {port} 127.0.0.1\n\
                     allow_anonymous true\n\
                     persistence false\n\
                     max_connections -1\n\
                     max_queued_messages 100000\n\
                     max_inflight_messages 32\n\
                     set_tcp_nodelay true\n\
                     user root\n"
                ),
            )?;
            cmd.arg("-c").arg(&conf);
            (port, port)
        }
        Kind::Rumqttd => {
            let conf = dir.join("rumqttd.toml");
            let listener = |version: &str, port: u16| {
                format!(
                    "[{version}.1]\nname = \"{version}-1\"\nlisten = \"127.0.0.1:{port}\"\n\
                     next_connection_delay_ms = 0\n\
                     [{version}.1.connections]\nconnection_timeout_ms = 60000\n\
                     max_payload_size = 1048576\nmax_inflight_count = 100\ndynamic_filters = true\n\n"
                )
            };
            fs::write(
                &conf,
                format!(
                    "# generated by roost-bench compare\nid = 0\n\n[router]\nid = 0\n\
                     max_connections = 30000\nmax_outgoing_packet_count = 1000\n\
                     max_segment_size = 104857600\nmax_segment_count = 10\n\n{}{}",
                    listener("v4", port),
                    listener("v5", port + 1)
                ),
            )?;
            cmd.arg("-q").arg("-c").arg(&conf);
            (port, port + 1)
        }
    };
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = fs::File::create(&log)?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    raise_nofile_in_child(&mut cmd);
    eprintln!("compare: starting {} on 127.0.0.1:{port}", kind.name());
    let child = cmd
        .spawn()
        .with_context(|| format!("spawn {}", program.display()))?;
    let mut broker = BrokerProcess {
        kind,
        child,
        port_v3,
        port_v5,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if !broker.alive() {
            bail!(
                "{} exited at start; see {}",
                kind.name(),
                broker.log.display()
            );
        }
        if TcpStream::connect(("127.0.0.1", port_v3)).is_ok() {
            return Ok(broker);
        }
        if Instant::now() > deadline {
            bail!("{} did not accept connections within 20 s", kind.name());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl BrokerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, up to 5 s of grace, then SIGKILL.
    pub fn stop(mut self) {
        if !self.alive() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
