//! The Metrics screen: a tile per delivery KPI (value, change against the previous period,
//! weekly sparkline, DORA band where DORA defines one), the improvement actions done in the
//! period (marked `◆` under the charts on tall screens), and the top failing services, models,
//! phases and steps, one of which `Enter` opens in History.
//!
//! The change says which way it went with an arrow and whether that is better with `✓` or `✗`;
//! colour only repeats it.

use crate::domain::duration;
use crate::domain::kpi::{Band, Group, Kpis, Metrics};
use crate::tui::app::App;
use crate::tui::app::metrics::TopKind;
use crate::tui::strings;
use crate::tui::theme::{HostState, Theme};
use crate::tui::widgets::{boxed, clip, put};
use chrono::TimeDelta;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Sparkline, Widget};

pub struct MetricsScreen<'a> {
    pub app: &'a App,
}

/// How a KPI's value reads and which way is better.
struct Tile {
    name: &'static str,
    value: fn(&Kpis) -> Option<f64>,
    show: fn(f64) -> String,
    /// Change as text (`+2.1pp`, `-12m`).
    delta: fn(f64) -> String,
    higher_is_better: bool,
    band: Option<fn(f64) -> Band>,
}

#[allow(clippy::cast_precision_loss)] // seconds and counts in KPIs are far below 2^52
fn secs(s: Option<i64>) -> Option<f64> {
    s.map(|s| s as f64)
}

#[allow(clippy::cast_possible_truncation)]
fn dur(v: f64) -> String {
    duration::format_coarse(TimeDelta::seconds(v.round() as i64))
}

fn signed_dur(v: f64) -> String {
    if v < 0.0 { format!("-{}", dur(-v)) } else { format!("+{}", dur(v)) }
}

#[allow(clippy::cast_precision_loss)]
const TILES: [Tile; 9] = [
    Tile {
        name: "Deploy frequency",
        value: |k| (k.deployments > 0).then_some(k.per_week),
        show: |v| format!("{v:.1}/week"),
        delta: |v| format!("{v:+.1}"),
        higher_is_better: true,
        band: Some(|v| Band::frequency(v / 7.0)),
    },
    Tile {
        name: "Success rate",
        value: |k| k.success_rate,
        show: |v| format!("{:.1}%", v * 100.0),
        delta: |v| format!("{:+.1}pp", v * 100.0),
        higher_is_better: true,
        band: None,
    },
    Tile {
        name: "Change failure rate",
        value: |k| k.change_failure_rate,
        show: |v| format!("{:.1}%", v * 100.0),
        delta: |v| format!("{:+.1}pp", v * 100.0),
        higher_is_better: false,
        band: Some(Band::change_failure_rate),
    },
    Tile {
        name: "Recovery time p50",
        value: |k| secs(k.recovery.time.median_s),
        show: dur,
        delta: signed_dur,
        higher_is_better: false,
        #[allow(clippy::cast_possible_truncation)]
        band: Some(|v| Band::recovery(v as i64)),
    },
    Tile {
        name: "Lead time p50",
        value: |k| secs(k.lead_time.total.median_s),
        show: dur,
        delta: signed_dur,
        higher_is_better: false,
        band: None,
    },
    Tile {
        name: "Approval wait p50",
        value: |k| secs(k.approval_wait.median_s),
        show: dur,
        delta: signed_dur,
        higher_is_better: false,
        band: None,
    },
    Tile {
        name: "First-time-right",
        value: |k| k.first_time_right_rate,
        show: |v| format!("{:.1}%", v * 100.0),
        delta: |v| format!("{:+.1}pp", v * 100.0),
        higher_is_better: true,
        band: None,
    },
    Tile {
        name: "Hosts failed/deploy",
        value: |k| k.hosts_failed_per_deployment,
        show: |v| format!("{v:.2}"),
        delta: |v| format!("{v:+.2}"),
        higher_is_better: false,
        band: None,
    },
    Tile {
        name: "Rollbacks",
        value: |k| (k.deployments > 0).then_some(k.rollbacks as f64),
        show: |v| format!("{v:.0}"),
        delta: |v| format!("{v:+.0}"),
        higher_is_better: false,
        band: None,
    },
];

impl Widget for MetricsScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let m = &app.metrics;
        let scope = m
            .data
            .as_deref()
            .and_then(|d| d.ask.environment.clone())
            .or_else(|| m.wanted.as_ref().and_then(|w| w.environment.clone()))
            .unwrap_or_else(|| "all environments".into());
        let title = format!(" Metrics · {} · {scope} ", m.period_label());
        let inner = boxed(area, buf, Line::from(Span::styled(title, t.title)), t.border, false);
        let Some(data) = m.data.as_deref() else {
            put(buf, inner, inner.x + 1, inner.y, "reading the log…", t.dim);
            return;
        };
        put(
            buf,
            inner,
            inner.x + 1,
            inner.y,
            &format!("{} deployments · change against the {} before", data.current.deployments, m.period_label()),
            t.dim,
        );
        if data.current.deployments == 0 {
            put(buf, inner, inner.x + 1, inner.y + 2, "no deployments in this period", t.text);
            return;
        }
        let cols: u16 = if inner.width >= 150 { 5 } else { 3 };
        let tile_h: u16 = if inner.height >= 40 { 6 } else { 3 };
        let tile_w = inner.width.saturating_sub(1) / cols;
        let mut y = inner.y + 1;
        for (i, tile) in TILES.iter().enumerate() {
            let (col, row) = (u16::try_from(i).unwrap_or(0) % cols, u16::try_from(i).unwrap_or(0) / cols);
            let r = Rect::new(inner.x + 1 + col * tile_w, inner.y + 1 + row * tile_h, tile_w.saturating_sub(2), tile_h);
            if r.bottom() > inner.bottom() {
                break;
            }
            draw_tile(tile, data, r, buf, t);
            y = y.max(r.bottom());
        }
        // The improvement actions done in the period, the ◆ marks of the charts.
        if y < inner.bottom() && !data.actions_done.is_empty() {
            let tz = app.session.config.timezone;
            let text: Vec<String> = data
                .actions_done
                .iter()
                .rev()
                .map(|(at, text)| format!("◆ {} {}", at.with_timezone(&tz).format("%m-%d"), text))
                .collect();
            put(buf, inner, inner.x + 1, y, &format!("actions done: {}", text.join("  ")), t.dim);
            y += 1;
        }
        let rest = Rect::new(inner.x, y, inner.width, inner.bottom().saturating_sub(y));
        if m.show_review {
            model_review(app, rest, buf);
        } else {
            top_failing(app, data, rest, buf);
        }
    }
}

/// The model review of the period: a line per model, then the suggestions (the selected one with
/// why, in numbers), which `i` records as improvement actions.
fn model_review(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let m = &app.metrics;
    if area.height < 2 {
        return;
    }
    let Some((_, review)) = m.review.as_ref() else {
        put(buf, area, area.x + 1, area.y, "Model review: reading the log…", t.dim);
        return;
    };
    let hint = if app.read_only { "m: top failing" } else { "i: record as an action · m: top failing" };
    let x = put(buf, area, area.x + 1, area.y, &format!("Model review ({})", m.period_label()), t.title);
    put(buf, area, x + 2, area.y, hint, t.dim);
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let s = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| dur(secs(Some(v)).unwrap_or(0.0)));
    // Room for the models: what the suggestions (at least three lines) leave.
    let models_room = usize::from(area.height.saturating_sub(5)).min(review.models.len());
    let mut y = area.y + 1;
    for md in review.models.iter().take(models_room) {
        let worst = md.phases.iter().filter(|p| p.failed_runs > 0).max_by_key(|p| p.failed_runs);
        let gate = md.gates.iter().max_by_key(|g| g.approval_wait.median_s);
        let line = format!(
            "{:<10} {:>4} runs {:>4} ok · lead p50 {:>6} · fails in {} · step {} · slowest gate {}",
            clip(&md.model, 10),
            md.runs,
            pct(md.success_rate),
            s(md.lead_time.median_s),
            worst.map_or_else(|| "-".to_owned(), |p| format!("{} ({}/{})", p.name, p.failed_runs, p.runs)),
            md.failing_steps.first().map_or_else(|| "-".to_owned(), |c| format!("{} ({})", c.name, c.count)),
            gate.map_or_else(|| "-".to_owned(), |g| format!("{} p50 {}", g.phase, s(g.approval_wait.median_s))),
        );
        put(buf, area, area.x + 1, y, &line, t.text);
        y += 1;
    }
    if review.models.is_empty() {
        put(buf, area, area.x + 1, y, "no deployments in this period", t.text);
        y += 1;
    }
    let list = Rect::new(area.x, y, area.width, area.bottom().saturating_sub(y));
    if review.suggestions.is_empty() {
        put(buf, list, list.x + 1, list.y, "Suggestions: none, no rule found anything to change", t.dim);
        return;
    }
    put(buf, list, list.x + 1, list.y, &format!("Suggestions ({})", review.suggestions.len()), t.title);
    // The selected suggestion's why follows the list; the list scrolls to keep it in view.
    let rows = usize::from(list.height.saturating_sub(2));
    let first = m.suggestion.saturating_sub(rows.saturating_sub(1));
    let mut below = list.y + 1;
    for (row, sg) in (list.y + 1..).zip(review.suggestions.iter().skip(first).take(rows)) {
        let style = if sg.n == m.suggestion + 1 { t.selected } else { t.text };
        put(
            buf,
            list,
            list.x + 1,
            row,
            &clip(&format!("{:>2}. {}", sg.n, sg.text), usize::from(list.width) - 2),
            style,
        );
        below = row + 1;
    }
    if let Some(sg) = review.suggestions.get(m.suggestion) {
        put(buf, list, list.x + 1, below.min(list.bottom().saturating_sub(1)), &format!("why: {}", sg.why), t.dim);
    }
}

fn draw_tile(tile: &Tile, data: &Metrics, r: Rect, buf: &mut Buffer, t: &Theme) {
    let now = (tile.value)(&data.current);
    let before = (tile.value)(&data.previous);
    put(buf, r, r.x, r.y, tile.name, t.dim);
    let mut x = put(buf, r, r.x, r.y + 1, &now.map_or_else(|| "-".to_owned(), tile.show), t.title) + 1;
    if let (Some(now), Some(before)) = (now, before) {
        let d = now - before;
        let (arrow, better) = if d.abs() < 1e-9 {
            ("=", None)
        } else if d > 0.0 {
            ("▲", Some(tile.higher_is_better))
        } else {
            ("▼", Some(!tile.higher_is_better))
        };
        let (mark, style) = match better {
            Some(true) => ("✓", t.host(HostState::Succeeded)),
            Some(false) => ("✗", t.host(HostState::Failed)),
            None => ("", t.dim),
        };
        let delta = if better.is_some() { (tile.delta)(d) } else { String::new() };
        x = put(buf, r, x, r.y + 1, &format!("{arrow}{delta}{mark}"), style) + 1;
    } else if now.is_some() {
        x = put(buf, r, x, r.y + 1, "vs -", t.dim) + 1;
    }
    if let (Some(band), Some(v)) = (tile.band, now) {
        put(buf, r, x, r.y + 1, band(v).as_str(), t.key);
    }
    let chart = Rect::new(r.x, r.y + 2, r.width, r.height.saturating_sub(if r.height > 3 { 3 } else { 2 }).max(1));
    let width = usize::from(chart.width);
    let shown = data.weeks.len().min(width);
    // Each week as wide as the chart allows, so a month fills the tile like a year does.
    let bar = (width / shown.max(1)).clamp(1, 4);
    let series: Vec<Option<u64>> =
        weekly(&data.weeks, tile, width).into_iter().flat_map(|v| std::iter::repeat_n(v, bar)).take(width).collect();
    Sparkline::default().data(&series).style(t.gauge_done).render(chart, buf);
    // Under a tall chart: ◆ in the week an improvement action was done.
    if r.height > 3 {
        let first = data.weeks.len() - shown;
        for (at, _) in &data.actions_done {
            if let Some(i) = data.weeks[first..].iter().rposition(|w| w.start <= *at) {
                let x = r.x + u16::try_from(i * bar).unwrap_or(0);
                put(buf, r, x, chart.bottom(), "◆", t.warning);
            }
        }
    }
}

/// The tile's value per week, the newest `width` weeks, scaled to integers; weeks without a
/// value are absent bars, not zeros.
fn weekly(weeks: &[Group], tile: &Tile, width: usize) -> Vec<Option<u64>> {
    let shown = &weeks[weeks.len().saturating_sub(width)..];
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    shown.iter().map(|w| (tile.value)(&w.kpis).map(|v| (v.max(0.0) * 1000.0) as u64)).collect()
}

fn top_failing(app: &App, data: &Metrics, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if area.height < 2 {
        return;
    }
    put(buf, area, area.x + 1, area.y, "Top failing (Enter: in History)", t.title);
    let entries = app.metrics.entries();
    let col_w = area.width.saturating_sub(1) / 4;
    // Where the time goes, when there is room for it: the waits of lead time and each gate.
    let below = area.y + 8;
    if area.bottom() > below + 2 {
        let k = &data.current;
        let s = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| dur(secs(Some(v)).unwrap_or(0.0)));
        put(buf, area, area.x + 1, below, "Lead time: where it goes (means, they add up)", t.title);
        put(
            buf,
            area,
            area.x + 1,
            below + 1,
            &format!(
                "mean {} = waiting for approval {} + for a window or freeze {} + for bake {} + running {}",
                s(k.lead_time.mean_s),
                s(k.lead_time.approval_wait_mean_s),
                s(k.lead_time.window_wait_mean_s),
                s(k.lead_time.bake_wait_mean_s),
                s(k.lead_time.running_mean_s)
            ),
            t.text,
        );
        // Per gate, then per role, each under its own heading: side by side when both fit.
        let beside = area.width >= 150;
        let (mut x, mut y) = (area.x + 1, below + 3);
        for (heading, waits) in
            [(strings::WAIT_PER_GATE, &k.approval_wait_by_gate), (strings::WAIT_PER_ROLE, &k.approval_wait_by_role)]
        {
            if waits.is_empty() && heading == strings::WAIT_PER_ROLE {
                continue;
            }
            put(buf, area, x, y, heading, t.title);
            for (row, w) in (1..).zip(waits) {
                let line = format!(
                    "{:<28} p50 {:>8}  p90 {:>8}  ({} approvals)",
                    w.name,
                    s(w.wait.median_s),
                    s(w.wait.p90_s),
                    w.wait.count
                );
                put(buf, area, x, y + row, &line, t.text);
            }
            if beside {
                x += area.width / 2;
            } else {
                y += u16::try_from(waits.len()).unwrap_or(u16::MAX).saturating_add(2);
            }
        }
    }
    for (k, kind) in TopKind::ALL.into_iter().enumerate() {
        let x = area.x + 1 + u16::try_from(k).unwrap_or(0) * col_w;
        let col = Rect::new(x, area.y + 1, col_w.saturating_sub(1), area.height.saturating_sub(1));
        put(buf, col, col.x, col.y, kind.title(), t.dim);
        let y = col.y + 1;
        let mine: Vec<(usize, &(TopKind, &str, usize))> =
            entries.iter().enumerate().filter(|(_, e)| e.0 == kind).collect();
        if mine.is_empty() {
            put(buf, col, col.x, y, "none", t.dim);
        }
        // The count before its name, so it can only be read with its own name (at the end of
        // a column it stood beside the next column's).
        let count_w = mine.iter().map(|(_, (_, _, n))| n.to_string().len()).max().unwrap_or(1);
        for (y, (i, (_, name, n))) in (y..).zip(mine) {
            let style = if i == app.metrics.selected { t.selected } else { t.text };
            let name_w = usize::from(col.width).saturating_sub(count_w + 2);
            let text = format!("{n:>count_w$} {:<name_w$}", clip(name, name_w));
            put(buf, col, col.x, y, &text, style);
        }
    }
}

/// The dialog that records a suggestion as an improvement action: what it is, why, and the
/// owner and due date being typed; then "recording…" or why it was not recorded.
pub struct RecordOverlay<'a> {
    pub app: &'a App,
    pub dialog: &'a crate::tui::app::metrics::RecordDialog,
}

impl Widget for RecordOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (d, t) = (self.dialog, &self.app.theme);
        let w = area.width.saturating_sub(4).min(96);
        let r = crate::tui::layout::centered(area, w, 9);
        let inner = crate::tui::widgets::boxed(
            r,
            buf,
            Line::from(Span::styled(" Record an improvement action ", t.title)),
            t.border,
            true,
        );
        let width = usize::from(inner.width.saturating_sub(2));
        put(buf, inner, inner.x + 1, inner.y, &clip(&d.suggestion.text, width), t.text);
        put(buf, inner, inner.x + 1, inner.y + 1, &clip(&format!("why: {}", d.suggestion.why), width), t.dim);
        for (i, (label, value)) in
            [("owner (a person of the team)", &d.owner), ("due (YYYY-MM-DD)", &d.due)].into_iter().enumerate()
        {
            let y = inner.y + 3 + u16::try_from(i).unwrap_or(0);
            let active = d.field == i && !d.sending;
            let x = put(buf, inner, inner.x + 1, y, &format!("{label:<30}"), if active { t.key } else { t.dim });
            put(buf, inner, x, y, &format!("> {value}{}", if active { "▏" } else { "" }), t.text);
        }
        let last = inner.y + 6;
        if d.sending {
            put(buf, inner, inner.x + 1, last, "recording…", t.dim);
        } else if let Some(e) = &d.error {
            put(buf, inner, inner.x + 1, last, &clip(e, width), t.host(HostState::Failed));
        } else {
            put(buf, inner, inner.x + 1, last, "Tab: next field · Enter: record · Esc: cancel", t.dim);
        }
    }
}
