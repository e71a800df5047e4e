//! Change windows and freezes: when deployments may happen in an environment.
//!
//! A window is recurring weekly (days and local start/end in a time zone; an end before the
//! start runs past midnight) or one-off (two instants). A freeze is a one-off range in which no
//! deployment may proceed. Local times are resolved in the window's own zone, so DST changes
//! move the window with the wall clock, as people expect.

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The change windows and freezes in force: the one set every decision, the inbox, refusals and
/// conformance flags are checked against.
///
/// The windows and freezes are those stored with the log's team (so a caller's own config, the
/// receiver's included, counts for nothing), with the emergency freezes declared at run time
/// merged in by [`TimeRules::in_force`]. [`super::gate::timing::window_state`] and
/// [`TimeRules::freeze_at`] are the one window check and the one freeze check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeRules {
    pub windows: Vec<ChangeWindow>,
    pub freezes: Vec<Freeze>,
}

impl TimeRules {
    /// The one merge: the rules stored with the team (`None`: none stored, so no window
    /// binds) and the emergency freezes declared in the log.
    #[must_use]
    pub fn in_force(stored: Option<Self>, emergency: Vec<Freeze>) -> Self {
        let mut rules = stored.unwrap_or_default();
        rules.freezes.extend(emergency);
        rules
    }

    /// The freeze of `environment` in force at `at`, if any.
    #[must_use]
    pub fn freeze_at(&self, environment: &str, at: DateTime<Utc>) -> Option<super::gate::ActiveFreeze<'_>> {
        super::gate::active_freeze(&self.freezes, environment, at)
    }
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowTimes {
    Weekly { days: Vec<Weekday>, start: NaiveTime, end: NaiveTime, zone: Tz },
    Once { from: DateTime<Utc>, until: DateTime<Utc> },
}

/// A named change window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeWindow {
    pub name: String,
    /// Environments it applies to; empty means all.
    pub environments: Vec<String>,
    pub times: WindowTimes,
}

/// A period in which deployments to some environments must not proceed: once (`from` to
/// `until`), or recurring (`repeat`; then `from` and `until` bound when it recurs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freeze {
    pub name: String,
    pub environments: Vec<String>,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
    /// How it recurs; `None`: once, from `from` to `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
}

/// How a freeze recurs, in its own zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Repeat {
    /// Every week on these days, from `start` to `end` local time (an end before the start runs
    /// past midnight), like a weekly window.
    Weekly { days: Vec<Weekday>, start: NaiveTime, end: NaiveTime, zone: Tz },
    /// Every year from one local date and time to another (an end before the start runs into
    /// the next year). A 29 February that does not exist is 1 March.
    Yearly { from: YearDay, until: YearDay, zone: Tz },
}

/// A month, a day and a time of day, every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct YearDay {
    pub month: u32,
    pub day: u32,
    pub time: NaiveTime,
}

impl YearDay {
    /// Parses `MM-DD` (midnight) or `MM-DDTHH:MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (date, time) = match text.split_once(['T', ' ']) {
            Some((d, t)) => (d, NaiveTime::parse_from_str(t, "%H:%M").ok()?),
            None => (text, NaiveTime::MIN),
        };
        let (m, d) = date.split_once('-')?;
        let (month, day): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
        // Valid in a leap year (so 02-29 is allowed).
        chrono::NaiveDate::from_ymd_opt(2024, month, day)?;
        Some(Self { month, day, time })
    }

    /// This day in `year` (29 February of a common year is 1 March).
    fn in_year(self, year: i32) -> Option<chrono::NaiveDateTime> {
        chrono::NaiveDate::from_ymd_opt(year, self.month, self.day)
            .or_else(|| chrono::NaiveDate::from_ymd_opt(year, 3, 1).filter(|_| self.month == 2 && self.day == 29))
            .map(|d| d.and_time(self.time))
    }
}

fn applies(envs: &[String], env: &str) -> bool {
    envs.is_empty() || envs.iter().any(|e| e == env)
}

impl ChangeWindow {
    #[must_use]
    pub fn applies_to(&self, env: &str) -> bool {
        applies(&self.environments, env)
    }

    /// The open interval that contains `at`, if the window is open then.
    #[must_use]
    pub fn open_at(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match &self.times {
            WindowTimes::Once { from, until } => (*from <= at && at < *until).then_some((*from, *until)),
            WindowTimes::Weekly { .. } => {
                // An occurrence that contains `at` started at most a day before it.
                self.occurrences_from(at - TimeDelta::days(2))
                    .take_while(|(s, _)| *s <= at)
                    .find(|(s, e)| *s <= at && at < *e)
            }
        }
    }

    /// The next opening at or after `at` (the current interval if open now).
    #[must_use]
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if let Some(now) = self.open_at(at) {
            return Some(now);
        }
        match &self.times {
            WindowTimes::Once { from, until } => (*from > at).then_some((*from, *until)),
            WindowTimes::Weekly { .. } => self.occurrences_from(at).find(|(s, _)| *s > at),
        }
    }

    /// Weekly occurrences whose local start day is on or after the day of `from`, for 8 weeks.
    fn occurrences_from(&self, from: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let (days, start, end, zone) = match &self.times {
            WindowTimes::Weekly { days, start, end, zone } => (days.as_slice(), *start, *end, *zone),
            WindowTimes::Once { .. } => (&[][..], NaiveTime::MIN, NaiveTime::MIN, Tz::UTC),
        };
        weekly(days, start, end, zone, from)
    }

    /// Every opening that overlaps `[from, until)`, in order.
    #[must_use]
    pub fn openings(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        match &self.times {
            WindowTimes::Once { from: f, until: u } => {
                if *f < until && *u > from {
                    vec![(*f, *u)]
                } else {
                    Vec::new()
                }
            }
            WindowTimes::Weekly { days, start, end, zone } => weekly_span(days, *start, *end, *zone, from, until),
        }
    }
}

/// Weekly occurrences whose local start day is on or after the day of `from`, for 8 weeks.
fn weekly(
    days: &[Weekday],
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
    from: DateTime<Utc>,
) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
    let first_day = from.with_timezone(&zone).date_naive();
    (0..57).filter_map(move |offset| {
        let day = first_day + TimeDelta::days(offset);
        if !days.contains(&day.weekday()) {
            return None;
        }
        let end_day = if end <= start { day + TimeDelta::days(1) } else { day };
        let s = local(zone, day.and_time(start))?;
        let e = local(zone, end_day.and_time(end))?;
        Some((s, e))
    })
}

/// Weekly occurrences overlapping `[from, until)`, however long the span.
fn weekly_span(
    days: &[Weekday],
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let first_day = (from - TimeDelta::days(2)).with_timezone(&zone).date_naive();
    let last_day = until.with_timezone(&zone).date_naive();
    let mut out = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        if days.contains(&day.weekday()) {
            let end_day = if end <= start { day + TimeDelta::days(1) } else { day };
            if let (Some(s), Some(e)) = (local(zone, day.and_time(start)), local(zone, end_day.and_time(end)))
                && s < until
                && e > from
            {
                out.push((s, e));
            }
        }
        day += TimeDelta::days(1);
    }
    out
}

/// A local wall time in a zone as UTC: in a DST gap the first valid instant after it, in an
/// overlap the earlier instant.
fn local(zone: Tz, t: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=120)
        .find_map(|minutes| zone.from_local_datetime(&(t + TimeDelta::minutes(minutes))).earliest())
        .map(|d| d.with_timezone(&Utc))
}

impl Freeze {
    #[must_use]
    pub fn applies_to(&self, env: &str) -> bool {
        applies(&self.environments, env)
    }

    #[must_use]
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.occurrence_at(at).is_some()
    }

    /// The occurrence in force at `at`, if any.
    #[must_use]
    pub fn occurrence_at(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.occurrences(at, at + TimeDelta::milliseconds(1)).into_iter().find(|(s, e)| *s <= at && at < *e)
    }

    /// Every occurrence that overlaps `[from, until)`, in order, clipped to the freeze's bounds.
    #[must_use]
    pub fn occurrences(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let raw = match &self.repeat {
            None => vec![(self.from, self.until)],
            Some(Repeat::Weekly { days, start, end, zone }) => weekly_span(days, *start, *end, *zone, from, until),
            Some(Repeat::Yearly { from: a, until: b, zone }) => {
                let first = from.with_timezone(zone).year() - 1;
                let last = until.with_timezone(zone).year();
                (first..=last)
                    .filter_map(|y| {
                        let end_year = if *b <= *a { y + 1 } else { y };
                        let s = local(*zone, a.in_year(y)?)?;
                        let e = local(*zone, b.in_year(end_year)?)?;
                        Some((s, e))
                    })
                    .collect()
            }
        };
        raw.into_iter()
            .map(|(s, e)| (s.max(self.from), e.min(self.until)))
            .filter(|(s, e)| s < e && *s < until && *e > from)
            .collect()
    }

    /// The occurrence in force at `at`, else the next one to start (within `horizon`).
    #[must_use]
    pub fn next_occurrence(&self, at: DateTime<Utc>, horizon: TimeDelta) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.occurrences(at, at + horizon).into_iter().find(|(_, e)| *e > at)
    }

    /// Whether it recurs.
    #[must_use]
    pub fn recurs(&self) -> bool {
        self.repeat.is_some()
    }
}

/// The earliest instant a recurring freeze may be bounded by (its `from` when it has no start).
#[must_use]
pub fn forever_from() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest instant a recurring freeze may be bounded by (its `until` when it has no end).
#[must_use]
pub fn forever_until() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    fn weekly(days: &[Weekday], start: &str, end: &str) -> ChangeWindow {
        ChangeWindow {
            name: "w".into(),
            environments: vec![],
            times: WindowTimes::Weekly {
                days: days.to_vec(),
                start: start.parse().expect("time"),
                end: end.parse().expect("time"),
                zone: chrono_tz::Europe::Berlin,
            },
        }
    }

    #[test]
    fn a_weekly_window_opens_in_its_own_zone() {
        let w = weekly(&[Weekday::Thu], "18:00:00", "22:00:00");
        // 2026-11-26 is a Thursday; Berlin is UTC+1 in November.
        assert!(w.open_at(utc("2026-11-26T16:59:00Z")).is_none());
        assert_eq!(
            w.open_at(utc("2026-11-26T17:00:00Z")),
            Some((utc("2026-11-26T17:00:00Z"), utc("2026-11-26T21:00:00Z")))
        );
        assert!(w.open_at(utc("2026-11-26T21:00:00Z")).is_none());
        assert_eq!(w.next_open(utc("2026-11-26T22:00:00Z")).map(|o| o.0), Some(utc("2026-12-03T17:00:00Z")));
    }

    #[test]
    fn a_window_across_midnight_belongs_to_its_start_day() {
        let w = weekly(&[Weekday::Sat], "22:00:00", "04:00:00");
        assert!(w.open_at(utc("2026-11-29T02:00:00Z")).is_some(), "Sunday 03:00 Berlin is inside Saturday's window");
        assert!(w.open_at(utc("2026-11-29T03:00:00Z")).is_none());
        assert!(w.open_at(utc("2026-11-28T20:00:00Z")).is_none());
    }

    #[test]
    fn dst_moves_the_window_with_the_wall_clock() {
        let w = weekly(&[Weekday::Sun], "01:00:00", "05:00:00");
        // 2027-03-28: Berlin jumps from 02:00 CET to 03:00 CEST; the window is 3 hours long.
        let (s, e) = w.next_open(utc("2027-03-27T12:00:00Z")).expect("opens");
        assert_eq!((s, e), (utc("2027-03-28T00:00:00Z"), utc("2027-03-28T03:00:00Z")));
        // In summer, 01:00 local is 23:00 UTC the day before.
        let (s, _) = w.next_open(utc("2027-06-01T00:00:00Z")).expect("opens");
        assert_eq!(s, utc("2027-06-05T23:00:00Z"));
    }

    #[test]
    fn freezes_are_half_open_and_per_environment() {
        let f = Freeze {
            name: "year-end".into(),
            environments: vec!["production".into()],
            from: utc("2026-12-20T00:00:00Z"),
            until: utc("2027-01-04T00:00:00Z"),
            reason: "holidays".into(),
            repeat: None,
        };
        assert!(f.active_at(utc("2026-12-20T00:00:00Z")) && !f.active_at(utc("2027-01-04T00:00:00Z")));
        assert!(f.applies_to("production") && !f.applies_to("staging"));
    }
}
