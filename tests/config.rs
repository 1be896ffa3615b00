//! The `roost` binary's handling of configuration, black-box: bad configuration must
//! stop start-up at once with a message naming the key, before any broker starts,
//! and `roost check-config` must accept the shipped `config.yaml`.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a loaded CI machine; a config error takes milliseconds.
const DEADLINE: Duration = Duration::from_secs(30);

/// The shipped reference configuration.
const SHIPPED_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml");

/// Runs `roost` with `args` and only the given environment (so a `ROOST__*`
/// variable of the machine running the tests cannot change the outcome), and kills
/// it if it has not exited by the deadline: a config error must never reach a
/// running broker.
fn roost(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn roost");
    let started = Instant::now();
    while child.try_wait().expect("wait for roost").is_none() {
        if started.elapsed() > DEADLINE {
            child.kill().ok();
            let output = child.wait_with_output().expect("collect roost output");
            panic!(
                "roost {args:?} still running after {DEADLINE:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect roost output")
}

/// A config file with `contents`, removed when dropped.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(name: &str, contents: &str) -> TempConfig {
        let path =
            std::env::temp_dir().join(format!("roost-test-{}-{name}.yaml", std::process::id()));
        std::fs::write(&path, contents).expect("write temp config");
        TempConfig(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

/// Asserts that `output` is a config error (exit code 2) whose one stderr line
/// starts with `expected`.
fn assert_config_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit status; stderr: {stderr}"
    );
    assert!(
        stderr.starts_with(&format!("roost: config error: {expected}")),
        "stderr should start with {expected:?}, got: {stderr}"
    );
}

#[test]
fn unknown_key_in_file_is_named() {
    let file = TempConfig::new("unknown-key", "mqtt:\n  max_inflght: 64\n");
    let output = roost(&["start", "--config", file.path()], &[]);
    assert_config_error(&output, "unknown key mqtt.max_inflght");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(file.path()), "names the file: {stderr}");
    assert!(
        stderr.contains("did you mean mqtt.max_inflight?"),
        "{stderr}"
    );
}

#[test]
fn nested_unknown_key_in_file_is_named() {
    let file = TempConfig::new(
        "nested-key",
        "listeners:\n  tcp:\n    bnd: \"127.0.0.1:2883\"\n",
    );
    let output = roost(&["start", "--config", file.path()], &[]);
    assert_config_error(&output, "unknown key listeners.tcp.bnd");
}

#[test]
fn unknown_key_in_env_is_named() {
    let output = roost(&["start"], &[("ROOST__MQTT__MAX_INFLGHT", "3")]);
    assert_config_error(
        &output,
        "unknown key mqtt.max_inflght (from environment variable ROOST__MQTT__MAX_INFLGHT)",
    );
}

#[test]
fn bad_value_in_env_is_named() {
    let output = roost(&["start"], &[("ROOST__MQTT__MAX_INFLIGHT", "abc")]);
    assert_config_error(
        &output,
        "mqtt.max_inflight: expected an integer, got string \"abc\"",
    );
}

#[test]
fn bad_value_in_file_is_named() {
    let file = TempConfig::new("bad-duration", "mqtt:\n  session_expiry_interval: soon\n");
    let output = roost(&["start", "--config", file.path()], &[]);
    assert_config_error(&output, "mqtt.session_expiry_interval: ");
}

#[test]
fn out_of_range_value_is_named() {
    let output = roost(&["start"], &[("ROOST__MQTT__MAX_QOS_ALLOWED", "3")]);
    assert_config_error(&output, "mqtt.max_qos_allowed: must be 0, 1 or 2, got 3");
}

#[test]
fn missing_config_file_is_named() {
    let output = roost(&["start", "--config", "/nonexistent/roost.yaml"], &[]);
    assert_config_error(&output, "cannot read /nonexistent/roost.yaml: ");
}

#[test]
fn check_config_accepts_the_shipped_config_and_shows_env_overrides() {
    let output = roost(
        &["check-config", "--config", SHIPPED_CONFIG],
        &[
            ("ROOST__MQTT__MAX_INFLIGHT", "64"),
            ("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:2883"),
            ("ROOST__MQTT__SESSION_EXPIRY_INTERVAL", "1h"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check-config failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\n  max_inflight: 64\n"), "{stdout}");
    assert!(
        stdout.contains("\n    bind: \"127.0.0.1:2883\"\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  session_expiry_interval: 1h\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\n  max_mqueue_len: 1000\n"), "{stdout}");
}

#[test]
fn check_config_without_a_file_uses_the_defaults() {
    let with_file = roost(&["check-config", "--config", SHIPPED_CONFIG], &[]);
    let without = roost(&["check-config"], &[]);
    assert!(without.status.success());
    assert_eq!(
        String::from_utf8_lossy(&without.stdout),
        String::from_utf8_lossy(&with_file.stdout),
        "config.yaml must hold exactly the built-in defaults"
    );
}

#[test]
fn no_subcommand_prints_help() {
    let output = roost(&[], &[]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("start") && text.contains("check-config"),
        "{text}"
    );
}
