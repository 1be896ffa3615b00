//! Starting and stopping the real `roost` binary, one per test, on a free port.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the broker may take to log `listener_ready`.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `roost start` child process. Killed (SIGKILL) on drop.
pub struct Broker {
    child: Option<Child>,
    addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    drains: Vec<std::thread::JoinHandle<()>>,
    /// This broker's own `node.data_dir` (removed on drop), unless the test set one.
    data_dir: Option<std::path::PathBuf>,
}

impl Broker {
    /// Starts the broker with the default configuration on `127.0.0.1:0`.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts the broker with extra environment overrides such as
    /// `("ROOST__MQTT__MAX_INFLIGHT", "4")`. Panics if it does not log
    /// `listener_ready` within [`START_TIMEOUT`].
    pub fn start_with(env: &[(&str, &str)]) -> Broker {
        let data_dir = unique_data_dir();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.arg("start")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
            // Every test broker gets its own HTTP port too (the default 18083 is shared).
            .env("ROOST__HTTP__BIND", "127.0.0.1:0")
            // ...and its own tables (users, bans): tests run in parallel.
            .env("ROOST__NODE__DATA_DIR", &data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the roost binary");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let drains = vec![
            spawn_drain(stdout, logs.clone(), tx.clone()),
            spawn_drain(stderr, logs.clone(), tx),
        ];

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = parse_listener_ready(&line) {
                        break addr;
                    }
                }
                Err(_) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    let _ = child.wait();
                    std::thread::sleep(Duration::from_millis(50));
                    let logs = logs.lock().unwrap().join("\n");
                    panic!(
                        "broker did not log listener_ready within {START_TIMEOUT:?} \
                         (exit status: {status:?}); output so far:\n{logs}"
                    );
                }
            }
        };
        let own_dir = !env.iter().any(|(k, _)| *k == "ROOST__NODE__DATA_DIR");
        Broker {
            child: Some(child),
            addr,
            logs,
            drains,
            data_dir: own_dir.then_some(data_dir),
        }
    }

    /// The TCP listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id of the broker.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Every line the broker printed so far (stdout and stderr, ANSI stripped).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Whether some log line so far contains `needle`.
    pub fn has_log(&self, needle: &str) -> bool {
        self.logs.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Polls the captured log until a line contains `needle`; returns that line,
    /// or `None` after `timeout`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return Some(l.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit. Returns
    /// its exit status, or `None` if it was still running (it is then killed).
    /// On exit, every line the broker printed is in [`Broker::logs`].
    pub fn stop_graceful(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                // The pipes are closed: wait for the last lines to be captured.
                for d in self.drains.drain(..) {
                    let _ = d.join();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Broker {
    /// Kills the broker; when the test is failing, its last log lines are printed
    /// (libtest shows them with the failure).
    fn drop(&mut self) {
        let still_running = self.is_running();
        let pid = self.pid();
        self.kill();
        // When debugging a test: every line the broker printed, kept in
        // $ROOST_TEST_LOG_DIR/<pid>.log (failing tests print only the last 60).
        if let Some(dir) = std::env::var_os("ROOST_TEST_LOG_DIR") {
            let _ = std::fs::create_dir_all(&dir);
            let path = std::path::Path::new(&dir).join(format!("{pid}.log"));
            let _ = std::fs::write(path, self.logs().join("\n"));
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let from = logs.len().saturating_sub(60);
            eprintln!(
                "---- broker log (last {} of {} lines; broker was {}) ----",
                logs.len() - from,
                logs.len(),
                if still_running {
                    "running"
                } else {
                    "already exited"
                }
            );
            for l in &logs[from..] {
                eprintln!("{l}");
            }
        }
    }
}

/// A fresh directory name under the system temp dir (not created).
pub fn unique_data_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "roost-test-data-{}-{n}-{nanos}",
        std::process::id()
    ))
}

fn spawn_drain<R: Read + Send + 'static>(
    r: R,
    logs: Arc<Mutex<Vec<String>>>,
    tx: mpsc::Sender<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = strip_ansi(&String::from_utf8_lossy(&raw));
                    let line = line.trim_end().to_string();
                    if std::env::var_os("ROOST_TEST_ECHO").is_some() {
                        eprintln!("[roost] {line}");
                    }
                    logs.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            }
        }
    })
}

/// Removes ANSI escape sequences (tracing's fmt layer may colour its output).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The address of a `listener_ready` line of the TCP listener, e.g.
/// `... INFO roost_actors::listener: listener_ready listener="tcp" addr=127.0.0.1:40123`.
pub fn parse_listener_ready(line: &str) -> Option<SocketAddr> {
    if !line.contains("listener_ready") {
        return None;
    }
    if line.contains("listener=") && !field(line, "listener").is_some_and(|v| v.starts_with("tcp"))
    {
        return None;
    }
    field(line, "addr")?.parse().ok()
}

/// The value of `key=value` in a log line, without quotes or a trailing `,` / `}`.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let i = line.find(&format!("{key}="))?;
    let v = line[i + key.len() + 1..].split_whitespace().next()?;
    Some(v.trim_matches(|c| c == '"' || c == ',' || c == '}'))
}

impl Broker {
    /// The HTTP listener's address (from its `listener_ready` line, which may
    /// come after the TCP one). Panics if it is not logged within [`START_TIMEOUT`].
    pub fn http_addr(&self) -> SocketAddr {
        self.listener_addr("http").unwrap_or_else(|| {
            panic!(
                "no listener_ready line for the http listener within {START_TIMEOUT:?}; logs:\n{}",
                self.logs().join("\n")
            )
        })
    }

    /// The address a named listener (`tcp`, `http`...) logged in its latest
    /// `listener_ready` line, waiting up to [`START_TIMEOUT`] for it.
    pub fn listener_addr(&self, listener: &str) -> Option<SocketAddr> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find_map(|l| parse_listener_ready_for(l, listener));
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The address of a `listener_ready` line of the listener named `listener`
/// (exactly that name, quoted or not), e.g. `listener=http addr=127.0.0.1:40124`.
pub fn parse_listener_ready_for(line: &str, listener: &str) -> Option<SocketAddr> {
    if !line.contains("listener_ready") || field(line, "listener")? != listener {
        return None;
    }
    field(line, "addr")?.parse().ok()
}
