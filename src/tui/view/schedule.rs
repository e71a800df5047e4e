//! The Schedule screen: the configured change windows (and when each next opens) and freezes.
//!
//! The full change calendar (planned deployments against windows, conflicts) comes later; this
//! already answers "when may I deploy to production?" from the config.

use crate::domain::schedule::{ChangeWindow, Freeze, WindowTimes};
use crate::tui::app::App;
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, put};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct ScheduleScreen<'a> {
    pub app: &'a App,
}

fn envs(list: &[String]) -> String {
    if list.is_empty() { "all environments".to_owned() } else { list.join(", ") }
}

fn when(w: &ChangeWindow, zone: Tz) -> String {
    match &w.times {
        WindowTimes::Weekly { days, start, end, zone } => {
            let days: Vec<String> = days.iter().map(ToString::to_string).collect();
            format!("{} {}-{} {zone}", days.join(" "), start.format("%H:%M"), end.format("%H:%M"))
        }
        WindowTimes::Once { from, until } => format!("{} → {}", local(*from, zone), local(*until, zone)),
    }
}

fn local(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone).format("%a %Y-%m-%d %H:%M").to_string()
}

fn next(w: &ChangeWindow, now: DateTime<Utc>, zone: Tz) -> (String, bool) {
    match (w.open_at(now), w.next_open(now)) {
        (Some((_, until)), _) => (format!("open now, until {}", local(until, zone)), true),
        (None, Some((from, _))) => (format!("next opens {}", local(from, zone)), false),
        (None, None) => ("closed, no future opening".to_owned(), false),
    }
}

fn freeze_state(f: &Freeze, now: DateTime<Utc>) -> (&'static str, bool) {
    if f.from <= now && now < f.until {
        ("IN FORCE", true)
    } else if now < f.from {
        ("upcoming", false)
    } else {
        ("over", false)
    }
}

impl Widget for ScheduleScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let config = &app.session.config;
        let zone = config.timezone;
        let half = (area.height / 2).max(3).min(area.height);
        let top = Rect::new(area.x, area.y, area.width, half);
        let bottom = Rect::new(area.x, area.y + half, area.width, area.height - half);
        let title = |s: &str| Line::from(Span::styled(format!(" {s} "), t.title));
        let inner = boxed(top, buf, title(&format!("Change windows ({})", config.windows.len())), t.border, false);
        let name_w = config.windows.iter().map(|w| w.name.len()).max().unwrap_or(0).min(24);
        for (y, w) in (inner.y..inner.bottom()).step_by(2).zip(&config.windows) {
            let (state, open) = next(w, app.now, zone);
            let name = clip(&w.name, name_w);
            let line = format!("{name:<name_w$}  {:<16}  {}", clip(&envs(&w.environments), 16), when(w, zone));
            put(buf, inner, inner.x + 1, y, &line, t.text);
            put(buf, inner, inner.x + 3, y + 1, &state, if open { t.title } else { t.dim });
        }
        if config.windows.is_empty() {
            put(
                buf,
                inner,
                inner.x + 1,
                inner.y,
                "No change windows configured: deployments may start any time.",
                t.dim,
            );
        }
        let inner = boxed(bottom, buf, title(&format!("Freezes ({})", config.freezes.len())), t.border, false);
        let name_w = config.freezes.iter().map(|f| f.name.len()).max().unwrap_or(0).min(24);
        for (y, f) in (inner.y..inner.bottom()).step_by(2).zip(&config.freezes) {
            let (state, active) = freeze_state(f, app.now);
            let name = clip(&f.name, name_w);
            let env = clip(&envs(&f.environments), 16);
            let line = format!("{name:<name_w$}  {env:<16}  {} → {}", local(f.from, zone), local(f.until, zone));
            put(buf, inner, inner.x + 1, y, &line, t.text);
            let x = put(buf, inner, inner.x + 3, y + 1, state, if active { t.warning } else { t.dim });
            put(buf, inner, x + 2, y + 1, &f.reason, t.dim);
        }
        if config.freezes.is_empty() {
            put(buf, inner, inner.x + 1, inner.y, "No freezes configured.", t.dim);
        }
        if inner.height >= 2 {
            let note = "The change calendar (planned deployments, conflicts) is coming soon.";
            put(buf, inner, inner.x + 1, inner.bottom() - 1, note, t.dim);
        }
    }
}
