//! The Schedule view's state: which period the change calendar shows (a day, a week or a month,
//! moved with the arrow keys, `t` back to now), the calendar read for it, and the selected bar.

use crate::domain::DeploymentKey;
use crate::domain::calendar::{Entry, EntryKind};
use crate::keymap::Action;
use crate::tui::model::{CalendarPage, Cmd};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// How long a period the calendar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zoom {
    Day,
    #[default]
    Week,
    Month,
}

impl Zoom {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    fn shorter(self) -> Self {
        match self {
            Self::Month => Self::Week,
            _ => Self::Day,
        }
    }

    fn longer(self) -> Self {
        match self {
            Self::Day => Self::Week,
            _ => Self::Month,
        }
    }
}

/// The Schedule view.
#[derive(Debug, Default)]
pub struct Calendar {
    pub zoom: Zoom,
    /// Periods away from the one that holds now (negative: the past).
    pub offset: i32,
    pub page: Option<CalendarPage>,
    /// The selected deployment bar, by key.
    pub selected: Option<DeploymentKey>,
}

/// Local midnight of `day` in `tz` (the first valid instant of the day).
fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=120)
        .find_map(|m| tz.from_local_datetime(&(t + TimeDelta::minutes(m))).earliest())
        .map_or_else(|| t.and_utc(), |d| d.with_timezone(&Utc))
}

/// The period `zoom` shows `offset` periods from the one holding `now`, in the local calendar.
#[must_use]
pub fn period(zoom: Zoom, offset: i32, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let (first, next) = match zoom {
        Zoom::Day => {
            let d = today + TimeDelta::days(i64::from(offset));
            (d, d + TimeDelta::days(1))
        }
        Zoom::Week => {
            let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
            let d = monday + TimeDelta::weeks(i64::from(offset));
            (d, d + TimeDelta::weeks(1))
        }
        Zoom::Month => {
            let first = today.with_day(1).unwrap_or(today);
            let months = Months::new(offset.unsigned_abs());
            let d = if offset >= 0 { first.checked_add_months(months) } else { first.checked_sub_months(months) };
            let d = d.unwrap_or(first);
            (d, d.checked_add_months(Months::new(1)).unwrap_or(d + TimeDelta::days(31)))
        }
    };
    (midnight(tz, first), midnight(tz, next))
}

impl Calendar {
    /// The period shown now.
    #[must_use]
    pub fn span(&self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        period(self.zoom, self.offset, now, tz)
    }

    /// Asks for the calendar of the period shown, unless it is already there.
    pub fn load(&self, now: DateTime<Utc>, tz: Tz) -> Vec<Cmd> {
        let (from, until) = self.span(now, tz);
        if self.page.as_ref().is_some_and(|p| p.from == from && p.until == until) {
            return Vec::new();
        }
        vec![Cmd::LoadCalendar(from, until)]
    }

    /// A calendar read for a period (ignored when another period is shown by now).
    pub fn apply(&mut self, page: CalendarPage) {
        self.page = Some(page);
        if self.selected.is_some_and(|k| !self.bars().iter().any(|e| e.key.as_deref() == Some(&k.to_string()))) {
            self.selected = None;
        }
    }

    /// The deployments in the period, in time order.
    #[must_use]
    pub fn bars(&self) -> Vec<&Entry> {
        self.page
            .as_ref()
            .map_or_else(Vec::new, |p| p.entries.iter().filter(|e| e.kind == EntryKind::Deployment).collect())
    }

    /// The selected bar's deployment.
    #[must_use]
    pub fn selected_entry(&self) -> Option<&Entry> {
        let key = self.selected?.to_string();
        self.bars().into_iter().find(|e| e.key.as_deref() == Some(key.as_str()))
    }

    /// A key in the Schedule view: zoom, move, back to now, select a bar. `Some(key)` when
    /// `Enter` opens a deployment.
    pub fn action(&mut self, action: Action, now: DateTime<Utc>, tz: Tz) -> (Vec<Cmd>, Option<DeploymentKey>) {
        match action {
            Action::ZoomIn | Action::ZoomOut => {
                // Keep now in view when it was, else the start of what was shown.
                let (from, until) = self.span(now, tz);
                let anchor = if from <= now && now < until { now } else { from };
                self.zoom = if action == Action::ZoomIn { self.zoom.shorter() } else { self.zoom.longer() };
                self.offset = (-3000..3000).find(|o| period(self.zoom, *o, now, tz).1 > anchor).unwrap_or(0);
            }
            Action::Today => self.offset = 0,
            Action::Left => self.offset -= 1,
            Action::Right => self.offset += 1,
            Action::Up | Action::Down => {
                let keys: Vec<DeploymentKey> =
                    self.bars().iter().filter_map(|e| e.key.as_deref().and_then(|k| k.parse().ok())).collect();
                let at = self.selected.and_then(|k| keys.iter().position(|x| *x == k));
                let next = match (at, action == Action::Down) {
                    (None, _) => keys.first(),
                    (Some(i), true) => keys.get(i + 1).or(keys.get(i)),
                    (Some(i), false) => keys.get(i.saturating_sub(1)),
                };
                self.selected = next.copied();
                return (Vec::new(), None);
            }
            Action::Open => return (Vec::new(), self.selected),
            _ => return (Vec::new(), None),
        }
        (self.load(now, tz), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    #[test]
    fn periods_follow_the_local_calendar_and_zooming_keeps_the_place() {
        let tz = chrono_tz::Europe::Berlin;
        let now = utc("2026-11-26T10:00:00Z");
        assert_eq!(period(Zoom::Day, 0, now, tz), (utc("2026-11-25T23:00:00Z"), utc("2026-11-26T23:00:00Z")));
        assert_eq!(period(Zoom::Week, 0, now, tz), (utc("2026-11-22T23:00:00Z"), utc("2026-11-29T23:00:00Z")));
        assert_eq!(period(Zoom::Month, 1, now, tz), (utc("2026-11-30T23:00:00Z"), utc("2026-12-31T23:00:00Z")));
        // The week of the spring-forward Sunday is an hour short.
        let (a, b) = period(Zoom::Week, 0, utc("2027-03-25T10:00:00Z"), tz);
        assert_eq!(b - a, TimeDelta::hours(7 * 24 - 1));
        let mut c = Calendar { zoom: Zoom::Month, offset: 1, ..Calendar::default() };
        let (cmds, _) = c.action(Action::ZoomIn, now, tz);
        assert_eq!((c.zoom, c.offset), (Zoom::Week, 1), "the week holding 1 December");
        assert_eq!(cmds, vec![Cmd::LoadCalendar(utc("2026-11-29T23:00:00Z"), utc("2026-12-06T23:00:00Z"))]);
        c.action(Action::Today, now, tz);
        assert_eq!(c.offset, 0);
    }
}
