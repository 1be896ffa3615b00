//! Real servers for tests (PostgreSQL 15, Redis, Mosquitto, tansu), each on
//! a free loopback port in a temp dir of its own, stopped and removed on
//! drop. Shared by bridges/tests and the binary's tests (`#[path]`).
//! A missing server binary fails the test with what to install: CI
//! installs them (.ci/run), so a skip would hide a broken setup.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod mosquitto;
mod sasl;
mod tansu;
// Each test binary uses some of the servers.
#[allow(unused_imports)]
pub use mosquitto::{Mosquitto, Subscriber};
#[allow(unused_imports)]
pub use sasl::PlainTansu;
#[allow(unused_imports)]
pub use tansu::{shared as shared_tansu, Scram, Tansu, TlsTansu};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "roost-{what}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

/// Polls until `addr` accepts a TCP connection, or panics at the deadline.
fn wait_listening(addr: SocketAddr, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {addr}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} not listening on {addr} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

/// Sends `signal` to `child` and waits for it to exit (SIGKILL after 10 s).
fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A throwaway CA (`ca.pem`) and a server certificate for `127.0.0.1` and
/// `localhost` signed by it (`server.pem`, `server.key`), written into `dir`.
pub fn write_pki(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Roost test CA");
    let ca = params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// A PostgreSQL 15 server: database `roost`, user `postgres` (trust auth on
/// loopback), run as `nobody` when the tests run as root (postgres refuses root).
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    as_user: Option<(u32, u32)>,
    /// Extra `-c name=value` settings (TLS).
    settings: Vec<String>,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(|_| Vec::new())
    }

    /// A server that also accepts TLS, its certificate (for `127.0.0.1`)
    /// signed by a throwaway CA; the CA's PEM file is [`Self::ca_file`].
    pub fn start_tls() -> Postgres {
        Postgres::start_with(|dir| {
            write_pki(dir);
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            vec![
                "ssl=on".into(),
                format!("ssl_cert_file={}", dir.join("server.pem").display()),
                format!("ssl_key_file={}", dir.join("server.key").display()),
            ]
        })
    }

    /// The CA that signed a [`Self::start_tls`] server's certificate.
    pub fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    fn start_with(settings: impl FnOnce(&Path) -> Vec<String>) -> Postgres {
        let initdb = Path::new(PG_BIN).join("initdb");
        assert!(
            initdb.exists(),
            "{} is missing: install PostgreSQL 15 (apt-get install postgresql)",
            initdb.display()
        );
        let dir = temp_dir("pg");
        let as_user = (uid() == 0).then_some((65534, 65534));
        if let Some((u, g)) = as_user {
            std::os::unix::fs::chown(&dir, Some(u), Some(g)).unwrap();
        }
        let data = dir.join("data");
        let mut cmd = Command::new(&initdb);
        cmd.args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some((u, g)) = as_user {
            cmd.uid(u).gid(g);
        }
        let out = cmd.output().expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let settings = settings(&dir);
        if let Some((u, g)) = as_user {
            for f in ["server.pem", "server.key"] {
                let _ = std::os::unix::fs::chown(dir.join(f), Some(u), Some(g));
            }
        }
        let mut pg = Postgres {
            port: free_port(),
            dir,
            child: None,
            as_user,
            settings,
        };
        pg.restart();
        pg.psql("postgres", "CREATE DATABASE roost");
        pg
    }

    /// `host:port` as a connector's `server`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the server again (after [`Self::stop`]) on the same port and data.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(Path::new(PG_BIN).join("postgres"));
        cmd.args([
            "-D",
            self.dir.join("data").to_str().unwrap(),
            "-p",
            &self.port.to_string(),
            "-k",
            self.dir.to_str().unwrap(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ])
        .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some((u, g)) = self.as_user {
            cmd.uid(u).gid(g);
        }
        let mut child = cmd.spawn().expect("postgres starts");
        wait_listening(([127, 0, 0, 1], self.port).into(), "postgres", &mut child);
        self.child = Some(child);
        // Listening comes a moment before accepting queries.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.try_psql("postgres", "SELECT 1").0 {
            assert!(
                Instant::now() < deadline,
                "postgres does not answer SELECT 1"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: connections are closed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, "-INT");
        }
    }

    fn try_psql(&self, db: &str, sql: &str) -> (bool, String) {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
            ])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql runs (apt-get install postgresql-client)");
        let text = if out.status.success() {
            out.stdout
        } else {
            out.stderr
        };
        (
            out.status.success(),
            String::from_utf8_lossy(&text).trim().to_string(),
        )
    }

    /// Runs `sql` with psql in database `db` and gives its output (rows one a
    /// line, columns split by `|`); panics on an error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let (ok, text) = self.try_psql(db, sql);
        assert!(ok, "psql {sql:?}: {text}");
        text
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis server without persistence.
pub struct Redis {
    pub port: u16,
    /// The TLS port of [`Self::start_tls`] (0 without TLS).
    pub tls_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            tls_port: 0,
            dir: temp_dir("redis"),
            child: None,
        };
        r.restart();
        r
    }

    /// A server with a TLS port too (clients need no certificate), its
    /// certificate signed by the CA in [`Self::ca_file`].
    pub fn start_tls() -> Redis {
        let mut r = Redis {
            port: free_port(),
            tls_port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        write_pki(&r.dir);
        r.restart();
        r
    }

    pub fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(if self.tls_port == 0 {
                Vec::new()
            } else {
                let f = |n: &str| self.dir.join(n).display().to_string();
                vec![
                    "--tls-port".to_string(),
                    self.tls_port.to_string(),
                    "--tls-cert-file".into(),
                    f("server.pem"),
                    "--tls-key-file".into(),
                    f("server.key"),
                    "--tls-ca-cert-file".into(),
                    f("ca.pem"),
                    "--tls-auth-clients".into(),
                    "no".into(),
                ]
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is missing: install it (apt-get install redis-server)");
        wait_listening(
            ([127, 0, 0, 1], self.port).into(),
            "redis-server",
            &mut child,
        );
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, "-TERM");
        }
    }

    /// Stops the server after it writes its data to `dump.rdb` in its dir,
    /// which [`Self::restart`] loads again (no other persistence is on).
    pub fn stop_saving(&mut self) {
        let _ = Command::new("redis-cli")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "SHUTDOWN",
                "SAVE",
            ])
            .output();
        self.stop();
    }

    /// Runs one command with redis-cli and gives its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs (apt-get install redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fault run through the delivery machinery (EMQX's resource_opts): 2 s
/// of messages with the server up, 10 s with it down (`stop`), then up again
/// (`start`). Every message must arrive afterwards (`count` reads how many
/// the server holds), the action must have reported `disconnected` with a
/// reason meanwhile, and the metrics must account for every message.
pub mod fault {
    use roost_bridges::manage::Status;
    use roost_bridges::resource::{Buffer, Counters, ResourceOpts};
    use roost_bridges::{Connector, Sink};
    use roost_rules::{Map, Value};
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    pub const TOTAL: u64 = 240;

    fn output(i: u64) -> Map {
        let mut m = Map::new();
        m.insert("clientid".into(), Value::Str(format!("c{}", i % 7)));
        m.insert("payload".into(), Value::Str(format!("{{\"id\": {i}}}")));
        m
    }

    pub async fn run(
        connector: Arc<dyn Connector>,
        sink: Arc<dyn Sink>,
        stop: impl FnOnce(),
        start: impl FnOnce(),
        count: impl Fn() -> u64,
    ) {
        let opts = ResourceOpts::from_json(Some(&serde_json::json!({
            "batch_size": 10, "batch_time": "20ms", "health_check_interval": "500ms",
            "worker_pool_size": 2, "buffer_mode": "memory_only", "request_ttl": "2m"
        })))
        .unwrap();
        let counters = Arc::new(Counters::default());
        let buffer = Buffer::start("fault:test", &opts, sink, connector, None, counters.clone());
        let mut stop = Some(stop);
        let mut seen_down = None;
        for i in 0..TOTAL {
            if i == 40 {
                (stop.take().unwrap())();
            }
            buffer.push(&output(i));
            tokio::time::sleep(Duration::from_millis(50)).await;
            let h = buffer.health();
            if h.status == Status::Disconnected {
                seen_down = h.reason;
            }
        }
        let reason =
            seen_down.expect("the action never reported disconnected while the server was down");
        assert!(!reason.is_empty());
        start();
        let deadline = Instant::now() + Duration::from_secs(60);
        while counters.success.load(Relaxed) < TOTAL {
            assert!(
                Instant::now() < deadline,
                "not all delivered after the restart: {}",
                counters.snapshot()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(count(), TOTAL, "messages on the server");
        let m = counters.snapshot();
        assert_eq!(m["matched"], TOTAL, "{m}");
        assert_eq!(m["success"], TOTAL, "{m}");
        assert_eq!(m["failed"], 0, "{m}");
        assert_eq!(m["dropped"], 0, "{m}");
        assert_eq!(m["queuing"], 0, "{m}");
        assert_eq!(m["inflight"], 0, "{m}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while buffer.health().status != Status::Connected {
            assert!(
                Instant::now() < deadline,
                "not connected again: {:?}",
                buffer.health()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
