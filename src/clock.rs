//! The one source of "now".
//!
//! Every rule that depends on time (silence, bake time, windows, ages) asks a [`Clock`], so tests
//! can pin time and nothing drifts between two calls of `Utc::now()` in one decision.

use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always answers the same instant (tests, snapshots, reproducible demos).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A shareable clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock as a shareable handle.
#[must_use]
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Milliseconds since the Unix epoch, the unit every stored time uses.
#[must_use]
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of a stored millisecond timestamp.
#[must_use]
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A clock that starts at a chosen instant and runs `speed` times faster than real time (the
/// demo: bake times and windows pass at the demo's pace).
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: DateTime<Utc>,
    started: std::time::Instant,
    speed: f64,
}

impl ScaledClock {
    #[must_use]
    pub fn new(origin: DateTime<Utc>, speed: f64) -> Self {
        Self { origin, started: std::time::Instant::now(), speed }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.elapsed().as_secs_f64() * self.speed;
        #[allow(clippy::cast_possible_truncation)]
        let ms = (elapsed * 1_000.0) as i64;
        self.origin + chrono::TimeDelta::milliseconds(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_starts_at_its_origin_and_runs_faster() {
        let origin = DateTime::from_timestamp(1_790_000_000, 0).expect("valid");
        let c = ScaledClock::new(origin, 1_000.0);
        let first = c.now();
        assert!(first >= origin && first < origin + chrono::TimeDelta::seconds(5));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now() - first >= chrono::TimeDelta::seconds(10), "20 ms at 1000x is 20 s");
    }
}
