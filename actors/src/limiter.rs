//! The listeners' rate limits (EMQX's limiter: `max_conn_rate` per listener,
//! `messages_rate` and `bytes_rate` per client), as token buckets that hold
//! one second's worth: a quiet client may burst that much, and past it the
//! work waits (accepting, or reading the client's socket) until the bucket
//! has refilled. Waiting is the whole effect: nothing is refused or dropped,
//! the kernel's backlog and TCP hold the rest back.

use std::time::Duration;
use tokio::time::Instant;

/// The smallest read [`ClientLimiter::bytes_allowance`] allows.
pub const MIN_READ: usize = 1024;

/// A token bucket: `rate` tokens a second, at most one second's worth kept.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `rate` per second.
    pub fn new(rate: f64) -> Bucket {
        let capacity = rate.max(1.0);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// The whole tokens in the bucket now (refilled to now).
    pub fn available(&mut self) -> f64 {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.last = now;
        self.tokens.max(0.0).floor()
    }

    /// Takes `n` tokens, going into debt if there are not enough; returns how
    /// long to wait until the debt is paid (zero if there was none).
    pub fn take(&mut self, n: f64) -> Duration {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.last = now;
        self.tokens -= n;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// One client's limits, per second (`None` = no limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientRates {
    pub messages: Option<f64>,
    pub bytes: Option<f64>,
}

/// What a client's reader applies: its buckets.
#[derive(Debug, Default)]
pub struct ClientLimiter {
    messages: Option<Bucket>,
    bytes: Option<Bucket>,
}

impl ClientLimiter {
    pub fn new(rates: ClientRates) -> ClientLimiter {
        ClientLimiter {
            messages: rates.messages.map(Bucket::new),
            bytes: rates.bytes.map(Bucket::new),
        }
    }

    /// `publishes` PUBLISH packets were read; how long to stop reading.
    pub fn messages(&mut self, publishes: usize) -> Duration {
        match &mut self.messages {
            Some(b) if publishes > 0 => b.take(publishes as f64),
            _ => Duration::ZERO,
        }
    }

    /// The most the next read may take under `bytes_rate`: what the bucket
    /// holds, but at least [`MIN_READ`] (or the bucket's size if smaller), so
    /// an empty bucket is not read a byte per syscall: the rate is overshot
    /// by that much at most, and the debt is waited out after the read.
    /// Unbounded without a rate.
    pub fn bytes_allowance(&mut self) -> usize {
        match &mut self.bytes {
            Some(b) => {
                let floor = (b.capacity as usize).min(MIN_READ);
                (b.available() as usize).max(floor).max(1)
            }
            None => usize::MAX,
        }
    }

    /// `n` bytes were read; how long to stop reading.
    pub fn bytes(&mut self, n: usize) -> Duration {
        match &mut self.bytes {
            Some(b) if n > 0 => b.take(n as f64),
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_lets_a_burst_through_then_the_rate() {
        let mut b = Bucket::new(10.0);
        for _ in 0..10 {
            assert_eq!(b.take(1.0), Duration::ZERO);
        }
        // In debt by one: a tenth of a second.
        assert_eq!(b.take(1.0), Duration::from_millis(100));
        tokio::time::advance(Duration::from_secs(2)).await;
        // Refilled, but never past one second's worth.
        assert_eq!(b.take(10.0), Duration::ZERO);
        assert!(b.take(1.0) > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_is_no_larger_than_the_bytes_bucket_holds() {
        let mut l = ClientLimiter::new(ClientRates {
            messages: None,
            bytes: Some(10_000.0),
        });
        assert_eq!(l.bytes_allowance(), 10_000);
        assert_eq!(l.bytes(6_000), Duration::ZERO);
        assert_eq!(l.bytes_allowance(), 4_000);
        assert_eq!(l.bytes(3_500), Duration::ZERO);
        // Nearly empty: still a read of MIN_READ (the debt is waited out).
        assert_eq!(l.bytes_allowance(), MIN_READ);
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(l.bytes_allowance(), 3_500);
        // A bucket smaller than MIN_READ: its size.
        let mut small = ClientLimiter::new(ClientRates {
            messages: None,
            bytes: Some(100.0),
        });
        assert_eq!(small.bytes(100), Duration::ZERO);
        assert_eq!(small.bytes_allowance(), 100);
        assert_eq!(ClientLimiter::default().bytes_allowance(), usize::MAX);
    }
}
