//! The listeners' rate limits (EMQX's limiter: `max_conn_rate` per listener,
//! `messages_rate` and `bytes_rate` per client), as token buckets that hold
//! one second's worth: a quiet client may burst that much, and past it the
//! work waits (accepting, or reading the client's socket) until the bucket
//! has refilled. Waiting is the whole effect: nothing is refused or dropped,
//! the kernel's backlog and TCP hold the rest back.

use std::time::Duration;
use tokio::time::Instant;

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
}
