//! Real PostgreSQL 15 and Redis servers for tests, each on a free loopback
//! port in a temp dir of its own, stopped and removed on drop. Shared by
//! bridges/tests and the binary's tests/authn_pgsql_redis.rs (`#[path]`).
//! A missing server binary fails the test with what to install: CI
//! installs them (.ci/run), so a skip would hide a broken setup.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A PostgreSQL 15 server: database `roost`, user `postgres` (trust auth on
/// loopback), run as `nobody` when the tests run as root (postgres refuses root).
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    as_user: Option<(u32, u32)>,
}

impl Postgres {
    pub fn start() -> Postgres {
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
        let mut pg = Postgres {
            port: free_port(),
            dir,
            child: None,
            as_user,
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
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        r.restart();
        r
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
