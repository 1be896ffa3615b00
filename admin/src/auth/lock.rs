//! Failed-login throttling, as EMQX's login lock: `max_attempts` failures of
//! one user name within `interval` lock that name for `lock_duration`. Roost
//! counts the source address the same way, so one address cannot try many
//! names either. A lock refuses even the right password until it runs out.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What is counted: a user name, or the address a request came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    User(String),
    Addr(IpAddr),
}

#[derive(Debug, Default)]
struct Record {
    /// Failures within the interval, oldest first.
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// The failures and locks of every user name and address.
pub struct LoginLock {
    max_attempts: u32,
    interval: Duration,
    lock_duration: Duration,
    records: Mutex<HashMap<Subject, Record>>,
}

/// Records kept before old ones are dropped (an attacker trying random
/// names must not grow the table without end).
const PRUNE_ABOVE: usize = 10_000;

impl LoginLock {
    pub fn new(max_attempts: u32, interval: Duration, lock_duration: Duration) -> LoginLock {
        LoginLock {
            max_attempts,
            interval,
            lock_duration,
            records: Mutex::default(),
        }
    }

    /// How long `user` or `addr` is still locked for, if either is.
    pub fn locked(&self, user: &str, addr: IpAddr, now: Instant) -> Option<Duration> {
        let records = self.records.lock();
        [Subject::User(user.into()), Subject::Addr(addr)]
            .iter()
            .filter_map(|s| records.get(s)?.locked_until)
            .filter(|&until| until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed login of `user` from `addr`; locks either once it
    /// reaches `max_attempts` within the interval.
    pub fn failed(&self, user: &str, addr: IpAddr, now: Instant) {
        let mut records = self.records.lock();
        if records.len() > PRUNE_ABOVE {
            let interval = self.interval;
            records.retain(|_, r| {
                r.locked_until.is_some_and(|u| u > now)
                    || r.failures.back().is_some_and(|&t| now - t < interval)
            });
        }
        for subject in [Subject::User(user.into()), Subject::Addr(addr)] {
            let r = records.entry(subject.clone()).or_default();
            while r
                .failures
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= self.interval)
            {
                r.failures.pop_front();
            }
            r.failures.push_back(now);
            if r.failures.len() >= self.max_attempts as usize {
                r.failures.clear();
                r.locked_until = Some(now + self.lock_duration);
                let (username, address) = match &subject {
                    Subject::User(u) => (Some(u.as_str()), None),
                    Subject::Addr(a) => (None, Some(a.to_string())),
                };
                tracing::warn!(
                    username,
                    address,
                    max_attempts = self.max_attempts,
                    lock_duration = ?self.lock_duration,
                    "dashboard_user_login_locked"
                );
            }
        }
    }

    /// A successful login of `user` forgets its failures (not its address's).
    pub fn succeeded(&self, user: &str) {
        self.records.lock().remove(&Subject::User(user.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 8));

    #[test]
    fn max_failures_in_the_interval_lock_the_name_until_the_lock_runs_out() {
        let l = LoginLock::new(3, Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        l.failed("admin", A, t0);
        l.failed("admin", B, t0 + Duration::from_secs(1));
        assert_eq!(l.locked("admin", A, t0 + Duration::from_secs(2)), None);
        l.failed("admin", B, t0 + Duration::from_secs(2));
        let left = l.locked("admin", A, t0 + Duration::from_secs(3));
        assert_eq!(left, Some(Duration::from_secs(599)), "the name is locked");
        assert_eq!(l.locked("other", A, t0 + Duration::from_secs(3)), None);
        assert_eq!(l.locked("admin", A, t0 + Duration::from_secs(602)), None);
    }

    #[test]
    fn failures_older_than_the_interval_do_not_count() {
        let l = LoginLock::new(2, Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        l.failed("admin", A, t0);
        l.failed("admin", B, t0 + Duration::from_secs(61));
        assert_eq!(l.locked("admin", A, t0 + Duration::from_secs(62)), None);
    }

    #[test]
    fn one_address_trying_many_names_is_locked() {
        let l = LoginLock::new(3, Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        for name in ["a", "b", "c"] {
            l.failed(name, A, t0);
        }
        assert!(l.locked("d", A, t0).is_some(), "the address is locked");
        assert_eq!(l.locked("d", B, t0), None, "another address is not");
    }

    #[test]
    fn success_forgets_the_names_failures() {
        let l = LoginLock::new(2, Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        l.failed("admin", A, t0);
        l.succeeded("admin");
        l.failed("admin", B, t0);
        assert_eq!(l.locked("admin", B, t0), None);
    }
}
