//! Notifications on their way out: who is told over which channel, the state of each delivery,
//! and the retry schedule (exponential backoff with jitter).

use super::DeploymentKey;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

pub mod failure;
pub mod timing;

/// The kind of a delivery that carries a digest of several notifications.
pub const DIGEST: &str = "digest";

/// One person told about a happening, and over which channels (`in_app` first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Told {
    pub person: String,
    pub kind: String,
    pub subject: String,
    pub channels: Vec<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Queued,
    /// Claimed by a worker, being sent.
    Sending,
    /// An attempt failed; another is due later.
    Retrying,
    Sent,
    /// Every attempt failed.
    Failed,
}

impl DeliveryState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Retrying => "retrying",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "retrying" => Self::Retrying,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            other => return Err(format!("unknown delivery state \"{other}\"")),
        })
    }
}

/// The notification a delivery carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    pub recipient: String,
    pub kind: String,
    #[serde(serialize_with = "key_text")]
    pub deployment: Option<DeploymentKey>,
    pub phase: Option<String>,
    pub subject: String,
    pub body: String,
}

fn key_text<S: serde::Serializer>(k: &Option<DeploymentKey>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.collect_str(k),
        None => s.serialize_none(),
    }
}

/// One (notification, recipient, channel) in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub notification: i64,
    pub channel: String,
    pub state: DeliveryState,
    /// Attempts started so far (a claim counts as one).
    pub attempts: u32,
    /// The channel's limit, known once an attempt failed.
    pub max_attempts: Option<u32>,
    /// When the next attempt is due (for `sending`: when the worker's lease ends).
    pub due_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Sent with every attempt, so a receiver can drop resends.
    pub idempotency_key: String,
    #[serde(flatten)]
    pub outgoing: Outgoing,
    /// A digest's notifications, oldest first (empty for a delivery of one notification).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Outgoing>,
}

impl Delivery {
    /// Makes this delivery the digest of `items`: kind `digest`, a subject that counts them,
    /// and a body listing their subjects.
    pub fn into_digest(mut self, items: Vec<Outgoing>) -> Self {
        let n = items.len();
        let first = items.first().map(|i| i.subject.clone()).unwrap_or_default();
        self.outgoing.kind = DIGEST.into();
        self.outgoing.subject = match n {
            0 | 1 => first,
            _ => format!("{n} notifications: {first} and {} more", n - 1),
        };
        self.outgoing.body = items.iter().map(|i| format!("- {}", i.subject)).collect::<Vec<_>>().join("\n");
        self.outgoing.phase = None;
        if items.iter().any(|i| i.deployment != items[0].deployment) {
            self.outgoing.deployment = None;
        }
        self.items = items;
        self
    }

    /// One short line: `sent 10:02:03`, `retrying 2/6: HTTP 500`, `failed 6/6: timed out`, `queued`.
    #[must_use]
    pub fn state_text(&self, zone: chrono_tz::Tz) -> String {
        let of = self.max_attempts.map_or_else(|| self.attempts.to_string(), |m| format!("{}/{m}", self.attempts));
        let error = self.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        match self.state {
            DeliveryState::Queued if self.due_at > self.created_at + TimeDelta::seconds(1) => {
                format!("queued until {}", self.due_at.with_timezone(&zone).format("%Y-%m-%d %H:%M"))
            }
            DeliveryState::Queued => "queued".into(),
            DeliveryState::Sending => format!("sending (attempt {})", self.attempts),
            DeliveryState::Sent => {
                let at = self.sent_at.map(|t| t.with_timezone(&zone).format(" %Y-%m-%d %H:%M:%S").to_string());
                format!("sent{}", at.unwrap_or_default())
            }
            DeliveryState::Retrying => format!("retrying {of}{error}"),
            DeliveryState::Failed => format!("failed {of}{error}"),
        }
    }
}

/// The wait before attempt `attempt + 1` after `attempt` failed: `base` doubled per attempt, at
/// most `max`, then scaled by `jitter` in `[0, 1)` to between half and all of it, so receivers
/// that came back are not hit by every sender at once.
#[must_use]
pub fn backoff(attempt: u32, base: TimeDelta, max: TimeDelta, jitter: f64) -> TimeDelta {
    let doublings = attempt.saturating_sub(1).min(30);
    let full = base.checked_mul(1 << doublings).unwrap_or(max).min(max);
    let ms = full.num_milliseconds();
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let scaled = (ms as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as i64;
    TimeDelta::milliseconds(scaled.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max_with_jitter_between_half_and_all() {
        let s = TimeDelta::seconds;
        assert_eq!(backoff(1, s(2), s(60), 1.0 - f64::EPSILON).num_seconds(), 1, "just under 2s");
        assert_eq!(backoff(1, s(2), s(60), 0.0), TimeDelta::seconds(1));
        assert_eq!(backoff(3, s(2), s(60), 0.0), TimeDelta::seconds(4), "8s halved");
        assert_eq!(backoff(10, s(2), s(60), 0.0), TimeDelta::seconds(30), "capped at 60s, halved");
        assert!(backoff(3, s(2), s(60), 0.999) > s(7));
        assert_eq!(backoff(40, s(2), s(60), 0.0), s(30), "no overflow after many attempts");
    }

    #[test]
    fn a_delivery_says_where_it_stands() {
        let mut d = Delivery {
            id: 1,
            notification: 1,
            channel: "ops".into(),
            state: DeliveryState::Retrying,
            attempts: 2,
            max_attempts: Some(6),
            due_at: crate::store::testing::t0(),
            last_error: Some("HTTP 500".into()),
            sent_at: None,
            created_at: crate::store::testing::t0(),
            idempotency_key: "k".into(),
            outgoing: Outgoing {
                recipient: "dana".into(),
                kind: "gate_pending".into(),
                deployment: Some(DeploymentKey(1)),
                phase: None,
                subject: "s".into(),
                body: String::new(),
            },
            items: Vec::new(),
        };
        assert_eq!(d.state_text(chrono_tz::UTC), "retrying 2/6: HTTP 500");
        d.state = DeliveryState::Failed;
        d.attempts = 6;
        assert_eq!(d.state_text(chrono_tz::UTC), "failed 6/6: HTTP 500");
        d.state = DeliveryState::Sent;
        d.sent_at = Some(crate::store::testing::t0());
        assert!(d.state_text(chrono_tz::UTC).starts_with("sent 20"), "{}", d.state_text(chrono_tz::UTC));
    }
}
