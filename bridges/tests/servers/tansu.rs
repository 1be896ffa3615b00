//! tansu (crates.io, `~/.cargo/bin/tansu`), the Kafka-compatible broker of
//! the `kafka_producer` type's tests, with its memory storage on a free
//! loopback port: a restart starts empty (no topics, no records).

use super::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The version `.ci/run` installs.
pub const TANSU_VERSION: &str = "0.6.0";

pub fn tansu_bin() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let bin = PathBuf::from(home).join(".cargo/bin/tansu");
    assert!(
        bin.exists(),
        "{} is missing: cargo install --locked tansu --version {TANSU_VERSION} --features dynostore (CI's .ci/run does)",
        bin.display()
    );
    bin
}

/// A tansu broker on 127.0.0.1:`port`, killed on drop.
pub struct Tansu {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Tansu {
    pub fn start() -> Tansu {
        Tansu::start_with(&[])
    }

    /// With extra `tansu broker` arguments (`--authentication`).
    pub fn start_with(args: &[&str]) -> Tansu {
        let mut t = Tansu {
            port: free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        t.restart();
        t
    }

    fn spawn(port: u16, args: &[String]) -> Child {
        let url = format!("tcp://127.0.0.1:{port}");
        let mut cmd = Command::new(tansu_bin());
        cmd.args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--kafka-listener-url", &url])
            .args(["--kafka-advertised-listener-url", &url])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Killed with the test binary even when it is the shared one (a
        // static is never dropped): SIGKILL on the death of the thread
        // that spawned it, which lives as long as the process (see shared()).
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        cmd.spawn().expect("start tansu")
    }

    /// Starts it again (after [`Self::stop`]) on the same port, empty.
    pub fn restart(&mut self) {
        self.child = Some(Tansu::spawn(self.port, &self.args));
        wait_listening(self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `host:port` as a connector's `bootstrap_hosts`.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Tansu {
    /// Creates `topic` with `tansu topic create`.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let out = Command::new(tansu_bin())
            .args(["topic", "create", topic, "--partitions"])
            .arg(partitions.to_string())
            .args(["--broker", &format!("tcp://{}", self.hosts())])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every record of `topic`'s partitions `0..partitions`, read back
    /// with kcat as `partition|key|value|timestamp` lines, polled until at
    /// least `want` are there (at most 20 s).
    pub fn kcat(&self, topic: &str, partitions: u32, want: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines: Vec<String> = (0..partitions)
                .flat_map(|p| kcat_consume(&self.hosts(), topic, p))
                .collect();
            if lines.len() >= want {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "kcat read {} of {want} records from {topic}",
                lines.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `kcat -C ... -e`: reads partition `p` of `topic` from offset 0 to its
/// end, once.
pub fn kcat_consume(hosts: &str, topic: &str, p: u32) -> Vec<String> {
    let out = Command::new("kcat")
        .args(KCAT_COMPAT)
        .args(["-C", "-b", hosts, "-t", topic, "-p", &p.to_string()])
        .args(["-o", "0", "-e", "-q", "-f", "%p|%k|%s|%T\\n"])
        .output()
        .expect("kcat is missing: apt-get install kcat (CI's .ci/run does)");
    assert!(
        out.status.success(),
        "kcat on {topic}/{p}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What kcat (Debian's 1.7.1, librdkafka 2.0.2) needs to talk to tansu
/// 0.6.0. Its first request, ApiVersions v3, fails: tansu's response ends
/// with four tagged fields (SupportedFeatures, FinalizedFeaturesEpoch,
/// FinalizedFeatures, ZkMigrationReady, all at their defaults, which Apache
/// Kafka leaves out), and librdkafka before 2.2 skips one byte too few of
/// each tagged field (fixed by confluentinc/librdkafka#4278), so it reads a
/// length of 2^57 + 2^56 - 2 and gives up ("Protocol read buffer underflow
/// for ApiVersion v3 at 267/272"). `api.version.request=false` alone does
/// not help: a `broker.version.fallback` of 0.10 or later turns the
/// ApiVersion feature back on, so the request is sent anyway. With 0.9.0
/// it is not, and librdkafka uses Metadata v0 and Fetch v1, which tansu
/// answers; but not ListOffsets v0 (tansu's answer lacks the v0 offsets
/// array), hence a partition and an absolute offset (`-p`, `-o 0`) rather
/// than `-o beginning`.
pub const KCAT_COMPAT: &[&str] = &[
    "-X",
    "api.version.request=false",
    "-X",
    "broker.version.fallback=0.9.0",
];

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The broker a test binary's tests share, started once, from a thread
/// that lives as long as the process (its death kills tansu).
pub fn shared() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let port = free_port();
            let mut child = Tansu::spawn(port, &[]);
            tx.send(port).unwrap();
            let _ = child.wait();
        });
        let port = rx.recv().unwrap();
        wait_listening(port);
        port
    })
}
