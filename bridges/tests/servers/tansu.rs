//! tansu (crates.io, `~/.cargo/bin/tansu`), the Kafka-compatible broker of
//! the `kafka_producer` type's tests, with its memory storage on a free
//! loopback port: a restart starts empty (no topics, no records).
//!
//! Two more set-ups, for the connector's `ssl` and `authentication`:
//! - [`TlsTansu`]: tansu 0.6.0 never uses its own TLS acceptor, so stunnel
//!   (Debian `stunnel4`) terminates TLS in front of it, and tansu advertises
//!   stunnel's port: the cluster metadata sends every client to the TLS port.
//! - [`Tansu::start_scram`]: `--authentication` with SCRAM credentials.
//!   tansu keeps them in its storage and its memory storage cannot take any
//!   (a user is made only over an authenticated connection), so this one is
//!   tansu's `libsql` storage (`.ci/run` builds tansu with the `dynostore` and
//!   `libsql` features), on an SQLite file: the test inserts the
//!   credential row (salt, iterations, StoredKey, ServerKey, RFC 5802) into
//!   its `scram_credential` table with the `sqlite3` CLI (Debian).

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
        "{} is missing: cargo install --locked tansu --version {TANSU_VERSION} --features dynostore,libsql (CI's .ci/run does)",
        bin.display()
    );
    bin
}

/// The tansu with the `libsql` storage (SCRAM credentials in an SQLite file):
/// the same binary, `.ci/run` builds it with both features.
pub fn tansu_libsql_bin() -> PathBuf {
    tansu_bin()
}

/// A tansu broker on 127.0.0.1:`port`, killed on drop.
pub struct Tansu {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
    /// The port the cluster metadata gives (stunnel's, behind TLS).
    advertised: u16,
    bin: PathBuf,
    storage: String,
    /// Its working directory (the SQLite file's), removed on drop.
    dir: Option<PathBuf>,
}

impl Tansu {
    pub fn start() -> Tansu {
        Tansu::start_with(&[])
    }

    /// With extra `tansu broker` arguments (`--authentication`).
    pub fn start_with(args: &[&str]) -> Tansu {
        let port = free_port();
        let mut t = Tansu {
            port,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            advertised: port,
            bin: tansu_bin(),
            storage: "memory://tansu/".into(),
            dir: None,
        };
        t.restart();
        t
    }

    /// On a port of its own, advertising `advertised` (a front's port, see
    /// `servers::sasl`) in the cluster metadata.
    pub(super) fn advertising(advertised: u16) -> Tansu {
        let port = free_port();
        let mut t = Tansu {
            port,
            args: Vec::new(),
            child: None,
            advertised,
            bin: tansu_bin(),
            storage: "memory://tansu/".into(),
            dir: None,
        };
        t.restart();
        t
    }

    /// With `--authentication` (SASL required) and its SQLite storage, which
    /// [`Self::add_scram_user`] writes credentials into.
    pub fn start_scram() -> Tansu {
        let port = free_port();
        let mut t = Tansu {
            port,
            args: vec!["--authentication".into()],
            child: None,
            advertised: port,
            bin: tansu_libsql_bin(),
            storage: "sqlite://tansu.db".into(),
            dir: Some(super::temp_dir("tansu")),
        };
        t.restart();
        t
    }

    fn spawn(&self) -> Child {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised);
        let mut cmd = Command::new(&self.bin);
        cmd.args(["broker", "--storage-engine", &self.storage])
            .args(["--kafka-listener-url", &url])
            .args(["--kafka-advertised-listener-url", &advertised])
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
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
        self.child = Some(self.spawn());
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
        kcat_until(&self.hosts(), topic, partitions, want, &[])
    }
}

/// Every record of `topic`'s partitions `0..partitions` (kcat with `extra`
/// arguments), polled until at least `want` are there (at most 20 s).
pub(super) fn kcat_until(
    hosts: &str,
    topic: &str,
    partitions: u32,
    want: usize,
    extra: &[&str],
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: Vec<String> = (0..partitions)
            .flat_map(|p| kcat_consume_with(hosts, topic, p, extra))
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

/// `kcat -C ... -e`: reads partition `p` of `topic` from offset 0 to its
/// end, once.
pub fn kcat_consume(hosts: &str, topic: &str, p: u32) -> Vec<String> {
    kcat_consume_with(hosts, topic, p, &[])
}

/// [`kcat_consume`] with more kcat arguments (`-X security.protocol=ssl`).
pub fn kcat_consume_with(hosts: &str, topic: &str, p: u32, extra: &[&str]) -> Vec<String> {
    let out = Command::new("kcat")
        .args(KCAT_COMPAT)
        .args(extra)
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
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The SASL mechanisms tansu's SCRAM takes, as Kafka numbers them in its
/// `scram_credential` table.
#[derive(Debug, Clone, Copy)]
pub enum Scram {
    Sha256,
    Sha512,
}

impl Tansu {
    /// Stores `user`'s SCRAM credential for `mechanism` (RFC 5802's
    /// SaltedPassword, StoredKey and ServerKey, 4096 iterations) in the
    /// running broker's storage (see [`Tansu::start_scram`]).
    pub fn add_scram_user(&self, user: &str, password: &str, mechanism: Scram) {
        use hmac::{KeyInit as _, Mac as _};
        use sha2::Digest as _;
        let dir = self.dir.as_ref().expect("a tansu of start_scram");
        let salt: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let iterations = 4096u32;
        // (StoredKey, ServerKey) of `password` with hash `$d`.
        macro_rules! keys {
            ($d:ty) => {{
                let mut salted = vec![0u8; <$d>::output_size()];
                pbkdf2::pbkdf2_hmac::<$d>(password.as_bytes(), &salt, iterations, &mut salted);
                let hmac = |text: &[u8]| {
                    let mut m = hmac::Hmac::<$d>::new_from_slice(&salted).unwrap();
                    m.update(text);
                    m.finalize().into_bytes().to_vec()
                };
                let stored_key = <$d>::digest(hmac(b"Client Key")).to_vec();
                (stored_key, hmac(b"Server Key"))
            }};
        }
        let (number, (stored_key, server_key)) = match mechanism {
            Scram::Sha256 => (1, keys!(sha2::Sha256)),
            Scram::Sha512 => (2, keys!(sha2::Sha512)),
        };
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let sql = format!(
            "INSERT INTO scram_credential (cluster, username, mechanism, salt, iterations, stored_key, server_key) \
             SELECT id, '{user}', {number}, X'{}', {iterations}, X'{}', X'{}' FROM cluster;",
            hex(&salt),
            hex(&stored_key),
            hex(&server_key)
        );
        // The broker registers its cluster (the row joined here) as it starts.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("sqlite3")
                .arg(dir.join("tansu.db"))
                .args([".timeout 5000", &sql, "SELECT changes();"])
                .output()
                .expect("sqlite3 is missing: apt-get install sqlite3 (CI's .ci/run does)");
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.trim() == "1" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "inserting {user}'s credential: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// tansu behind stunnel: clients speak TLS to [`Self::port`], whose
/// certificate (for 127.0.0.1) a throwaway CA signed ([`Self::ca_file`]);
/// tansu advertises that port, so the cluster metadata leads there too.
/// Topics are made on tansu's own (plain) port.
pub struct TlsTansu {
    pub tansu: Tansu,
    /// stunnel's TLS port.
    pub port: u16,
    dir: PathBuf,
    stunnel: Child,
}

impl TlsTansu {
    pub fn start() -> TlsTansu {
        let dir = super::temp_dir("stunnel");
        super::write_pki(&dir);
        let port = free_port();
        let plain = free_port();
        let tansu = Tansu {
            port: plain,
            args: Vec::new(),
            child: None,
            advertised: port,
            bin: tansu_bin(),
            storage: "memory://tansu/".into(),
            dir: None,
        };
        let mut tansu = tansu;
        tansu.restart();
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 3\n[kafka]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{plain}\ncert = {}\nkey = {}\n",
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("stunnel4");
        cmd.arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let stunnel = cmd
            .spawn()
            .expect("stunnel4 is missing: apt-get install stunnel4 (CI's .ci/run does)");
        wait_listening(port);
        TlsTansu {
            tansu,
            port,
            dir,
            stunnel,
        }
    }

    /// `host:port` of the TLS side, as a connector's `bootstrap_hosts`.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA that signed the server's certificate.
    pub fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// Like [`Tansu::kcat`], with kcat speaking TLS and checking the
    /// server's certificate against [`Self::ca_file`].
    pub fn kcat(&self, topic: &str, partitions: u32, want: usize) -> Vec<String> {
        let ca = format!("ssl.ca.location={}", self.ca_file());
        let tls = ["-X", "security.protocol=ssl", "-X", &ca];
        kcat_until(&self.hosts(), topic, partitions, want, &tls)
    }
}

impl Drop for TlsTansu {
    fn drop(&mut self) {
        let _ = self.stunnel.kill();
        let _ = self.stunnel.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
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
            let t = Tansu {
                port,
                args: Vec::new(),
                child: None,
                advertised: port,
                bin: tansu_bin(),
                storage: "memory://tansu/".into(),
                dir: None,
            };
            let mut child = t.spawn();
            tx.send(port).unwrap();
            let _ = child.wait();
        });
        let port = rx.recv().unwrap();
        wait_listening(port);
        port
    })
}
