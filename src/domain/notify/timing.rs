//! When a delivery may go out: quiet hours in the recipient's zone, digests, and which
//! happenings are urgent enough to ignore both.
//!
//! A stakeholder rule may say `quiet_hours = "22:00-07:00"` (in the person's zone) and
//! `digest = "15m"`. Both only move a delivery's not-before time (`due_ms` in the outbox): a
//! quiet delivery is due when the quiet period ends; a digest collects the deliveries of one
//! period per (recipient, channel) into one row that is due at the period's end. Urgent
//! happenings (see [`is_urgent`]) are never held back.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A daily quiet period, `start` inclusive to `end` exclusive, in local time; it crosses
/// midnight when `start` is after `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// Quiet hours that do not parse; the message names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a quiet period (use HH:MM-HH:MM in the person's zone, e.g. \"22:00-07:00\")")]
pub struct BadQuietHours(pub String);

impl std::str::FromStr for QuietHours {
    type Err = BadQuietHours;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadQuietHours(text.to_owned());
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(bad());
        }
        Ok(Self { start, end })
    }
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

impl QuietHours {
    fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }

    /// When a delivery due at `at` may go out: `at` itself outside the quiet period, else the
    /// end of the period it falls in, both read in `zone` (so a quiet night is as long as the
    /// clock on the person's wall says, also on the nights daylight saving time changes).
    #[must_use]
    pub fn release(&self, at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&zone);
        let time = local.time();
        if !self.contains(time) {
            return at;
        }
        let day = local.date_naive();
        // Crossing midnight and already past the start: the period ends tomorrow.
        let end_day = if self.start > self.end && time >= self.start { day.succ_opt().unwrap_or(day) } else { day };
        local_instant(zone, end_day, self.end).max(at)
    }
}

/// The first instant at or after the wall-clock time `time` on `day` in `zone`: a time that
/// the clocks skip (spring forward) is the moment they resume; one they show twice, the first.
fn local_instant(zone: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut naive = day.and_time(time);
    for _ in 0..=180 {
        if let Some(t) = zone.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += TimeDelta::minutes(1);
    }
    Utc.from_utc_datetime(&day.and_time(time))
}

/// How a stakeholder rule wants its deliveries timed, as stored with its subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timing {
    /// `HH:MM-HH:MM`, in `zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<String>,
    /// The person's zone (IANA name) the quiet hours are read in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The digest period in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_ms: Option<i64>,
}

impl Timing {
    /// When a delivery made at `now` may go out under this rule (not counting a digest).
    /// Quiet hours that no longer parse (a log written by another version) hold nothing back
    /// rather than hold a notification forever.
    #[must_use]
    pub fn release(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some(quiet) = self.quiet_hours.as_deref().and_then(|q| q.parse::<QuietHours>().ok()) else { return now };
        let zone = self.zone.as_deref().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(chrono_tz::UTC);
        quiet.release(now, zone)
    }
}

/// What several matching rules give one (recipient, channel): the least held back wins (a
/// rule without quiet hours sends now; a digest only when every rule asks for one, the
/// shortest period).
///
/// Returns when the delivery is due (a digest: the end of its period, then past quiet hours)
/// and the digest period, if any.
#[must_use]
pub fn merge(rules: &[Timing], now: DateTime<Utc>) -> (DateTime<Utc>, Option<TimeDelta>) {
    let digest = if rules.is_empty() || rules.iter().any(|t| t.digest_ms.is_none()) {
        None
    } else {
        rules.iter().filter_map(|t| t.digest_ms).min().map(TimeDelta::milliseconds)
    };
    let base = now + digest.unwrap_or_default();
    let release = rules.iter().map(|t| t.release(base)).min().unwrap_or(base);
    (release, digest)
}

/// Happenings that are never delayed by quiet hours nor collected into a digest: something
/// failed and a person must act now (`phase_failed`, `deployment_failed`, `hosts_silent`), the
/// deployment waits for this very person (`gate_pending` to someone who may approve it), or a
/// reminder that would be worthless once held past what it reminds of (`start_approaching`).
#[must_use]
pub fn is_urgent(kind: &str, recipient_may_act: bool) -> bool {
    match kind {
        "phase_failed" | "deployment_failed" | "hosts_silent" | "start_approaching" => true,
        "gate_pending" => recipient_may_act,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("valid").with_timezone(&Utc)
    }

    fn quiet(text: &str) -> QuietHours {
        text.parse().expect("parses")
    }

    #[test]
    fn quiet_hours_parse_and_refuse_what_is_not_a_period() {
        assert_eq!(quiet("22:00-07:00").to_string(), "22:00-07:00");
        assert_eq!(quiet(" 12:30 - 13:15 ").to_string(), "12:30-13:15");
        for bad in ["22:00", "22-07", "25:00-07:00", "22:00-07:60", "07:00-07:00", ""] {
            let err = bad.parse::<QuietHours>().expect_err(bad);
            assert!(err.to_string().contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn a_delivery_in_a_quiet_night_waits_for_its_end_across_midnight() {
        let q = quiet("22:00-07:00");
        let berlin = chrono_tz::Europe::Berlin;
        // 23:30 local (CET, UTC+1) on 27 Nov: released at 07:00 local on the 28th.
        assert_eq!(q.release(utc("2026-11-27T22:30:00Z"), berlin), utc("2026-11-28T06:00:00Z"));
        // 03:00 local, after midnight: the same morning's 07:00.
        assert_eq!(q.release(utc("2026-11-28T02:00:00Z"), berlin), utc("2026-11-28T06:00:00Z"));
        // 21:59 and 07:00 local are not quiet.
        assert_eq!(q.release(utc("2026-11-27T20:59:00Z"), berlin), utc("2026-11-27T20:59:00Z"));
        assert_eq!(q.release(utc("2026-11-28T06:00:00Z"), berlin), utc("2026-11-28T06:00:00Z"));
        // Quiet at noon (not crossing midnight).
        let lunch = quiet("12:00-13:00");
        assert_eq!(lunch.release(utc("2026-11-27T11:15:00Z"), berlin), utc("2026-11-27T12:00:00Z"));
    }

    #[test]
    fn quiet_nights_when_daylight_saving_time_changes_end_at_the_wall_clock_time() {
        let q = quiet("22:00-07:00");
        let berlin = chrono_tz::Europe::Berlin;
        // Spring forward (29 Mar 2026, 02:00 -> 03:00): 23:00 CET is 22:00 UTC, 07:00 CEST 05:00 UTC.
        assert_eq!(q.release(utc("2026-03-28T22:00:00Z"), berlin), utc("2026-03-29T05:00:00Z"));
        // Fall back (25 Oct 2026, 03:00 -> 02:00): 23:00 CEST is 21:00 UTC, 07:00 CET 06:00 UTC.
        assert_eq!(q.release(utc("2026-10-24T21:00:00Z"), berlin), utc("2026-10-25T06:00:00Z"));
        // An end the clocks skip (02:30 on 29 Mar) is when they resume, 03:00 CEST.
        let early = quiet("01:00-02:30");
        assert_eq!(early.release(utc("2026-03-29T00:30:00Z"), berlin), utc("2026-03-29T01:00:00Z"));
        // The same night in New York, whose clocks change on other dates, is still EST.
        let ny = chrono_tz::America::New_York;
        assert_eq!(q.release(utc("2026-03-29T03:00:00Z"), ny), utc("2026-03-29T11:00:00Z"));
    }

    #[test]
    fn several_rules_hold_a_delivery_back_only_as_much_as_the_least_holding_one() {
        let now = utc("2026-11-27T22:30:00Z");
        let night = Timing { quiet_hours: Some("22:00-07:00".into()), zone: Some("UTC".into()), digest_ms: None };
        let digest = Timing { digest_ms: Some(900_000), ..Timing::default() };
        assert_eq!(merge(std::slice::from_ref(&night), now), (utc("2026-11-28T07:00:00Z"), None));
        assert_eq!(merge(&[night.clone(), Timing::default()], now), (now, None), "one rule sends now");
        let quarter = TimeDelta::minutes(15);
        assert_eq!(
            merge(std::slice::from_ref(&digest), now),
            (now + quarter, Some(quarter)),
            "due at the period's end"
        );
        assert_eq!(merge(&[digest.clone(), night.clone()], now).1, None, "a digest only when every rule asks for one");
        // A digest of a quiet rule: due at the end of the quiet night.
        let both = Timing { digest_ms: Some(900_000), ..night };
        assert_eq!(merge(&[both], now), (utc("2026-11-28T07:00:00Z"), Some(quarter)));
    }

    #[test]
    fn failures_and_a_gate_waiting_for_this_person_are_urgent() {
        assert!(is_urgent("phase_failed", false) && is_urgent("deployment_failed", false));
        assert!(is_urgent("hosts_silent", false));
        assert!(is_urgent("start_approaching", false), "a reminder held past the start is no reminder");
        assert!(is_urgent("gate_pending", true) && !is_urgent("gate_pending", false));
        assert!(!is_urgent("deployment_succeeded", true) && !is_urgent("budget_nearly_used", false));
    }
}
