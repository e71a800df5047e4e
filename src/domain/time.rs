//! Instants as people read them: one zone, one way of writing a time.
//!
//! Times are stored and sent as UTC (JSON keeps RFC 3339). Everything a person reads — CLI
//! text, refusals, notifications, the audit's policy text, the dashboard — writes them through
//! these functions in the configured zone, so one screen never mixes two zones.
//!
//! A time at which something becomes possible or ends ([`until`]) is written to the second when
//! it does not fall on a whole minute: "approval is possible from 00:52" said at 00:52:00, of an
//! instant at 00:52:30, would tell the reader to try again now and be refused again.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

/// A moment people read (when something happened, was planned or decided): to the minute,
/// `2026-11-27 08:36 CET`.
#[must_use]
pub fn at(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// A time from which something is possible, or until which it holds: `2026-11-27 08:36 CET`
/// on a whole minute, else to the second (`2026-11-27 08:36:30 CET`), never earlier than `t`.
#[must_use]
pub fn until(t: DateTime<Utc>, zone: Tz) -> String {
    let t = whole_second(t);
    let format = if t.second() == 0 { "%Y-%m-%d %H:%M %Z" } else { "%Y-%m-%d %H:%M:%S %Z" };
    t.with_timezone(&zone).format(format).to_string()
}

/// [`until`] in a few characters, for a list's column: the time of day (`18:00`, `08:36:30`),
/// with the weekday when it is not on `now`'s day (`Fri 18:00`).
#[must_use]
pub fn until_short(t: DateTime<Utc>, zone: Tz, now: DateTime<Utc>) -> String {
    until_on(t, zone, now, "%a")
}

/// [`until`] as a dashboard line writes it: the time of day on `now`'s day, else preceded by
/// the day written with `day` (a `strftime` format such as `%a %d %b`).
#[must_use]
pub fn until_on(t: DateTime<Utc>, zone: Tz, now: DateTime<Utc>, day: &str) -> String {
    let t = whole_second(t);
    let (local, today) = (t.with_timezone(&zone), now.with_timezone(&zone).date_naive());
    let time = if t.second() == 0 { "%H:%M" } else { "%H:%M:%S" };
    let format = if local.date_naive() == today { time.to_owned() } else { format!("{day} {time}") };
    local.format(&format).to_string()
}

/// `t`, or the next whole second when it falls between two: a time given as "possible from"
/// is never one at which it is not possible yet.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    if t.nanosecond() == 0 { t } else { t.with_nanosecond(0).map_or(t, |s| s + TimeDelta::seconds(1)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    #[test]
    fn a_time_that_is_not_on_a_whole_minute_is_given_to_the_second() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(until(utc("2026-11-26T23:52:00Z"), berlin), "2026-11-27 00:52 CET");
        assert_eq!(until(utc("2026-11-26T23:52:30Z"), berlin), "2026-11-27 00:52:30 CET");
        // Between two seconds: the next one, never a time at which it is not possible yet.
        assert_eq!(until(utc("2026-11-26T23:52:30.250Z"), berlin), "2026-11-27 00:52:31 CET");
        assert_eq!(until(utc("2026-11-26T23:52:59.500Z"), berlin), "2026-11-27 00:53 CET");
        assert_eq!(at(utc("2026-11-26T23:52:30Z"), berlin), "2026-11-27 00:52 CET");
        let now = utc("2026-11-26T23:52:00Z");
        assert_eq!(until_short(utc("2026-11-26T23:52:30Z"), berlin, now), "00:52:30");
        assert_eq!(until_short(utc("2026-11-27T17:00:00Z"), berlin, now), "18:00");
        assert_eq!(until_short(utc("2026-11-28T17:00:00Z"), berlin, now), "Sat 18:00");
    }
}
