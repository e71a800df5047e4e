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
