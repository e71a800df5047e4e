//! The Schedule screen: the change calendar. One lane per environment over a day, a week or a
//! month: change windows shaded (`░`), freezes marked (`▓`), deployments as bars labelled by
//! release (scheduled, running and past; `!` and the warning colour when they conflict), a
//! "now" line (`│`); below, the selected bar's details and the next ten happenings.
//!
//! Symbols carry the meaning without colour. The conflicts shown are the calendar's own
//! (windows, freezes, same service, concurrency), computed by [`crate::domain::calendar`].

use crate::domain::calendar::{Entry, EntryKind};
use crate::tui::app::App;
use crate::tui::strings;
use crate::tui::widgets::{boxed, clip, put, wrap};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct ScheduleScreen<'a> {
    pub app: &'a App,
}

/// Maps instants of the period to columns of the timeline.
struct Axis {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    x: u16,
    width: u16,
}

impl Axis {
    /// The column of `t`, clamped into the timeline.
    fn col(&self, t: DateTime<Utc>) -> u16 {
        let span = (self.until - self.from).num_seconds().max(1);
        let at = (t - self.from).num_seconds().clamp(0, span);
        let w = i64::from(self.width);
        self.x + u16::try_from(at * w / span).unwrap_or(0).min(self.width.saturating_sub(1))
    }

    /// The columns `[start, end)` covers (at least one).
    fn cols(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> (u16, u16) {
        let a = self.col(start.max(self.from));
        let b = if end >= self.until { self.x + self.width } else { self.col(end) };
        (a, b.max(a + 1))
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.until
    }
}

/// The bars of one environment's lane: where each goes, and what has no row.
struct Lane<'a> {
    axis: &'a Axis,
    now: DateTime<Utc>,
    /// The lane's freezes: a label never runs over one (the freeze would vanish under it).
    freezes: &'a [&'a Entry],
}

/// A bar on its row, over the columns `extent`.
struct Placed<'a> {
    entry: &'a Entry,
    row: usize,
    extent: (u16, u16),
}

impl<'a> Lane<'a> {
    fn label(&self, e: &Entry) -> String {
        format!("{}{}", if e.conflicts.is_empty() { "" } else { "!" }, e.name)
    }

    /// Each bar on the first of `rows` rows where its label fits, else where the bar itself
    /// fits (label cut to the bar); the others are returned as hidden.
    fn place(&self, bars: &[&'a Entry], rows: usize) -> (Vec<Placed<'a>>, Vec<&'a Entry>) {
        let axis = self.axis;
        let end = axis.x + axis.width;
        let mut taken: Vec<Vec<(u16, u16)>> = Vec::new();
        let free = |row: &Vec<(u16, u16)>, (a, b): (u16, u16)| row.iter().all(|(x, y)| b <= *x || a >= *y);
        let (mut placed, mut hidden) = (Vec::new(), Vec::new());
        for e in bars {
            let (a, b) = axis.cols(e.start, e.end);
            // A scheduled bar's label may run past its end, up to the next freeze; others stay
            // within their bar.
            let label_end = a.saturating_add(u16::try_from(self.label(e).chars().count()).unwrap_or(u16::MAX));
            let freeze = self.freezes.iter().map(|f| axis.cols(f.start, f.end).0).filter(|x| *x >= b).min();
            let limit = freeze.unwrap_or(end).min(end);
            let wide = if e.start > self.now { (a, label_end.max(b).min(limit.max(b))) } else { (a, b) };
            // An existing row where the label fits, else where the bar fits, else a new row.
            let row = [wide, (a, b)]
                .into_iter()
                .find_map(|extent| taken.iter().position(|r| free(r, extent)).map(|row| (row, extent)))
                .or_else(|| {
                    (taken.len() < rows).then(|| {
                        taken.push(Vec::new());
                        (taken.len() - 1, wide)
                    })
                });
            match row {
                Some((row, extent)) => {
                    taken[row].push((extent.0, extent.1 + 1));
                    placed.push(Placed { entry: e, row, extent });
                }
                None => hidden.push(*e),
            }
        }
        (placed, hidden)
    }
}

fn applies(e: &Entry, env: &str) -> bool {
    e.environments.is_empty() || e.environments.iter().any(|x| x == env)
}

fn fill(buf: &mut Buffer, area: Rect, (a, b): (u16, u16), y: u16, symbol: &str, style: Style) {
    // One cell at a time: a bar or shade never spills past the timeline.
    for x in a..b.min(area.right()) {
        put(buf, area, x, y, symbol, style);
    }
}

/// Tick labels along the axis: hours for a day, days for a week or a month.
fn ticks(axis: &Axis, tz: Tz, month: bool) -> Vec<(DateTime<Utc>, String)> {
    let mut out = Vec::new();
    let span = axis.until - axis.from;
    let step = if span <= TimeDelta::hours(25) { TimeDelta::hours(3) } else { TimeDelta::days(1) };
    let mut t = axis.from;
    while t < axis.until {
        let local = t.with_timezone(&tz);
        let label = if step < TimeDelta::days(1) {
            local.format("%H:%M").to_string()
        } else if month {
            local.format("%-d").to_string()
        } else {
            local.format("%a %-d").to_string()
        };
        out.push((t, label));
        // Step in local time, so DST days keep their labels on midnight.
        let next = (local.naive_local() + step).and_local_timezone(tz).earliest().map(|d| d.with_timezone(&Utc));
        t = next.filter(|n| *n > t).unwrap_or(t + step);
    }
    out
}

impl Widget for ScheduleScreen<'_> {
    #[allow(clippy::too_many_lines)]
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let zone = app.session.config.timezone;
        let cal = &app.calendar;
        let (from, until) = cal.span(app.now, zone);
        let title = format!(
            " Change calendar · {} · {} – {} ",
            cal.zoom.name(),
            from.with_timezone(&zone).format("%a %-d %b %Y"),
            (until - TimeDelta::seconds(1)).with_timezone(&zone).format("%a %-d %b %Y")
        );
        let inner = boxed(area, buf, Line::from(Span::styled(title, t.title)), t.border, false);
        if inner.height < 3 || inner.width < 20 {
            return;
        }
        let Some(page) = cal.page.as_ref().filter(|p| p.from == from && p.until == until) else {
            put(buf, inner, inner.x + 1, inner.y, "reading the calendar…", t.dim);
            return;
        };
        let mut envs: Vec<String> = app.session.config.environments.iter().map(|e| e.name.clone()).collect();
        for e in page.entries.iter().filter(|e| e.kind == EntryKind::Deployment) {
            for env in &e.environments {
                if !envs.contains(env) {
                    envs.push(env.clone());
                }
            }
        }
        let label_w = envs.iter().map(|e| e.chars().count()).max().unwrap_or(4).clamp(4, 12);
        let lx = u16::try_from(label_w).unwrap_or(12) + 1;
        let axis = Axis { from, until, x: inner.x + lx, width: inner.width.saturating_sub(lx) };
        // Lanes take two rows each when the screen has room for them and the list below, and
        // as many more as their overlapping bars need while the screen has room.
        let lane_rows: u16 = if inner.height >= 8 + 3 * u16::try_from(envs.len()).unwrap_or(3) { 2 } else { 1 };
        let spare = inner.height.saturating_sub(10 + lane_rows * u16::try_from(envs.len()).unwrap_or(u16::MAX));
        let mut spare = usize::from(spare);
        let mut y = inner.y;
        let mut last = 0;
        for (at, label) in ticks(&axis, zone, cal.zoom == crate::tui::app::schedule::Zoom::Month) {
            let x = axis.col(at);
            if x >= last && x + u16::try_from(label.chars().count()).unwrap_or(0) <= axis.x + axis.width {
                put(buf, inner, x, y, "╷", t.dim);
                last = put(buf, inner, x + 1, y, &label, t.dim) + 1;
            }
        }
        let now_col = axis.contains(app.now).then(|| axis.col(app.now));
        if let Some(x) = now_col.filter(|x| buf.cell((*x, y)).is_some_and(|c| c.symbol() == " ")) {
            put(buf, inner, x, y, "▼", t.key);
        }
        y += 1;
        let selected = cal.selected.map(|k| k.to_string());
        for env in &envs {
            // Scheduled deployments get room first, then running ones, then the past.
            let mut bars: Vec<&Entry> =
                page.entries.iter().filter(|e| e.kind == EntryKind::Deployment && applies(e, env)).collect();
            bars.sort_by_key(|e| {
                (
                    if e.start > app.now {
                        0
                    } else if e.end > app.now {
                        1
                    } else {
                        2
                    },
                    e.start,
                )
            });
            let freezes: Vec<&Entry> =
                page.entries.iter().filter(|e| e.kind == EntryKind::Freeze && applies(e, env)).collect();
            let lane = Lane { axis: &axis, now: app.now, freezes: &freezes };
            let needed = lane.place(&bars, usize::MAX).0.iter().map(|p| p.row + 1).max().unwrap_or(0);
            let grow = needed.saturating_sub(usize::from(lane_rows)).min(spare);
            spare -= grow;
            let rows = lane_rows + u16::try_from(grow).unwrap_or(0);
            if y + rows > inner.bottom() {
                break;
            }
            put(buf, inner, inner.x, y, &clip(env, label_w), t.text);
            for row in 0..rows {
                fill(buf, inner, (axis.x, axis.x + axis.width), y + row, "·", t.dim);
            }
            for e in page.entries.iter().filter(|e| applies(e, env)) {
                let (symbol, style) = match e.kind {
                    EntryKind::Window => ("░", t.title),
                    EntryKind::Freeze => ("▓", t.warning),
                    EntryKind::Deployment => continue,
                };
                for row in 0..rows {
                    fill(buf, inner, axis.cols(e.start, e.end), y + row, symbol, style);
                }
            }
            if let Some(x) = now_col {
                for row in 0..rows {
                    put(buf, inner, x, y + row, "│", t.key);
                }
            }
            let (placed, hidden) = lane.place(&bars, usize::from(rows));
            for p in &placed {
                let e = p.entry;
                let style = if selected.is_some() && e.key == selected {
                    t.selected
                } else if !e.conflicts.is_empty() {
                    t.warning
                } else {
                    match e.status.as_deref() {
                        Some("scheduled" | "planned") => t.key,
                        Some("running" | "awaiting_approval" | "verifying") => t.title,
                        _ => t.dim,
                    }
                };
                let ry = y + u16::try_from(p.row).unwrap_or(0);
                let width = usize::from(p.extent.1 - p.extent.0);
                if width < 3 {
                    fill(buf, inner, p.extent, ry, "█", style);
                } else {
                    put(
                        buf,
                        inner,
                        p.extent.0,
                        ry,
                        &format!("{:<width$}", clip(&lane.label(e), width)),
                        style.reversed(),
                    );
                }
            }
            if !hidden.is_empty() {
                // What has no row: a mark where each starts, and how many in the label column.
                let ry = y + rows - 1;
                for e in &hidden {
                    let a = axis.col(e.start.max(axis.from));
                    if buf.cell((a, ry)).is_some_and(|c| ["·", "░", "▓", "│"].contains(&c.symbol())) {
                        let style = if e.conflicts.is_empty() { t.dim } else { t.warning };
                        put(buf, inner, a, ry, "▌", style);
                    }
                }
                let more = strings::more(hidden.len());
                let w = u16::try_from(more.chars().count()).unwrap_or(0);
                let at = if rows > 1 { (inner.x, ry) } else { ((axis.x + axis.width).saturating_sub(w), ry) };
                put(buf, inner, at.0, at.1, &clip(&more, label_w.max(more.chars().count())), t.warning);
            }
            y += rows;
        }
        if y < inner.bottom() {
            let legend = "░ window  ▓ freeze  █ deployment  ! conflict  │ now";
            put(buf, inner, inner.x, y, legend, t.dim);
            y += 1;
        }
        // Freezes in force now, by name: they hold every decision.
        let in_force: Vec<&Entry> = page
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Freeze && e.start <= app.now && app.now < e.end)
            .collect();
        for e in in_force {
            if y >= inner.bottom() {
                break;
            }
            let envs = if e.environments.is_empty() { "all".to_owned() } else { e.environments.join(",") };
            let until = e.end.with_timezone(&zone).format("%a %-d %b %H:%M");
            let kind = if e.emergency { "emergency freeze" } else { "freeze" };
            put(buf, inner, inner.x, y, &format!("▓ {kind} {} in force on {envs} until {until}", e.name), t.warning);
            y += 1;
        }
        if let Some(e) = cal.selected_entry().filter(|_| y < inner.bottom()) {
            let at = |d: DateTime<Utc>| d.with_timezone(&zone).format("%a %-d %b %H:%M").to_string();
            let line = format!(
                "{} {} → {} · {} · {} – {}",
                e.key.as_deref().unwrap_or(""),
                e.name,
                e.environments.join(","),
                e.status.as_deref().unwrap_or(""),
                at(e.start),
                at(e.end)
            );
            // The selected bar and its conflicts whole, wrapped: each is what a decision hangs on.
            let width = usize::from(inner.width.saturating_sub(4)).max(1);
            let lines = wrap(&line, width + 2).into_iter().map(|l| (0, l, t.text)).chain(
                e.conflicts
                    .iter()
                    .flat_map(|c| wrap(&format!("! {}", c.describe(zone)), width))
                    .map(|l| (2, l, t.warning)),
            );
            for (indent, l, style) in lines {
                if y >= inner.bottom() {
                    break;
                }
                put(buf, inner, inner.x + indent, y, &l, style);
                y += 1;
            }
        }
        if y + 1 < inner.bottom() {
            put(buf, inner, inner.x, y, "Next", t.title);
            y += 1;
            for (at, h) in &page.upcoming {
                if y >= inner.bottom() {
                    break;
                }
                let when = at.with_timezone(&zone).format("%a %-d %b %H:%M").to_string();
                put(buf, inner, inner.x, y, &format!("{when}  {}", h.describe()), t.text);
                y += 1;
            }
            if page.upcoming.is_empty() && y < inner.bottom() {
                put(buf, inner, inner.x, y, "nothing in the next 60 days", t.dim);
            }
        }
    }
}
