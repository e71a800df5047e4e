//! The Live rollouts screen: the deployment list, and the selected deployment's phase pipeline,
//! host heatmap and event tail.
//!
//! Only what is on screen is built: the visible list rows, the visible heatmap rows and the last
//! lines of the tail, so the cost of a frame does not grow with the size of the deployment.

use super::target;
use crate::tui::app::{App, Focus};
use crate::tui::layout::Geometry;
use crate::tui::strings;
use crate::tui::theme::{HostState, deployment_symbol};
use crate::tui::widgets::boxed;
use crate::tui::widgets::gauge::{Part, bar};
use crate::tui::widgets::heatmap::{GroupedHeatmap, Heatmap, host_state, label_width, tally};
use crate::tui::widgets::pipeline::Pipeline;
use crate::tui::widgets::shapes::{ParallelPipeline, RollingPipeline};
use crate::tui::widgets::tail::EventTail;
use crate::tui::widgets::{clip, clip_release, put};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// The Live rollouts screen.
pub struct LiveScreen<'a> {
    pub app: &'a App,
}

impl Widget for LiveScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let g = Geometry::of(area, self.app.live.shown.len());
        self.list(&g, buf);
        self.detail(&g, buf);
    }
}

/// Widths of the list columns (KEY, RELEASE, ENV, MODEL, PHASE, PROGRESS, FAIL, AGE) after the
/// status symbol, for an inner width. Every column has a least width; when they do not all fit,
/// columns are dropped (width 0) by priority, MODEL first, then AGE, ENV and FAIL, so cells never
/// run into each other. What is left over widens RELEASE and PROGRESS, all of it.
fn columns(width: u16) -> [u16; 8] {
    let avail = width.saturating_sub(2);
    let mut w: [u16; 8] = [8, 10, 12, 9, 9, 10, 5, 4];
    for drop in [3, 7, 2, 6] {
        if w.iter().sum::<u16>() <= avail {
            break;
        }
        w[drop] = 0;
    }
    // Every spare column goes to the flexible ones: a wide terminal shows whole names, not a
    // margin of blanks.
    let rest = avail.saturating_sub(w.iter().sum());
    let release = rest / 2;
    w[1] += release;
    w[5] += rest - release;
    w
}

impl LiveScreen<'_> {
    fn list(&self, g: &Geometry, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let live = &app.live;
        let mut title = vec![Span::styled(
            format!(" {} {}/{} ", strings::DEPLOYMENTS, live.shown.len(), live.deployments.len()),
            t.title,
        )];
        if live.sort != crate::tui::app::SortBy::Status {
            title.push(Span::styled(format!("{} {} ", strings::SORTED_BY, live.sort.label()), t.dim));
        }
        if live.filtering || !live.filter.is_empty() {
            let cursor = if live.filtering { "▏" } else { "" };
            title.push(Span::styled(format!("/{}{cursor} ", live.filter), t.warning));
        }
        let border = if live.focus == Focus::List { t.title } else { t.border };
        let inner = boxed(g.list, buf, Line::from(title), border, false);
        if inner.height == 0 {
            return;
        }
        if live.shown.is_empty() {
            let text = if live.deployments.is_empty() { strings::NO_DEPLOYMENTS } else { strings::NO_MATCH };
            put(buf, inner, inner.x + 1, inner.y, text, t.dim);
            return;
        }
        let widths = columns(inner.width);
        let mut x = inner.x + 2;
        for (w, h) in widths.iter().zip(&strings::LIST_HEADER[1..]) {
            if *w > 0 {
                put(buf, inner, x, inner.y, &clip(h, usize::from(w.saturating_sub(1))), t.dim);
            }
            x += w;
        }
        // One bar width for the whole list: the widest `done/total` decides it.
        let count_w = live
            .shown
            .iter()
            .map(|&i| {
                let d = &live.deployments[i];
                format!(" {}/{}", d.succeeded + d.failed, d.targets).len()
            })
            .max()
            .unwrap_or(0);
        let count_w = u16::try_from(count_w).unwrap_or(u16::MAX);
        let bar_w = widths[5].saturating_sub(1).saturating_sub(count_w);
        let rows = (inner.y + 1)..inner.bottom();
        let selected = live.selected_row();
        for (y, (row, &i)) in rows.zip(live.shown.iter().enumerate().skip(live.list_offset)) {
            let d = &live.deployments[i];
            let line = Rect::new(inner.x, y, inner.width, 1);
            if Some(row) == selected {
                buf.set_style(line, t.selected);
            }
            let mut sym = [0u8; 4];
            put(buf, line, inner.x, y, deployment_symbol(d.status).encode_utf8(&mut sym), t.deployment(d.status));
            let release = clip_release(&d.release, &d.version, usize::from(widths[1].saturating_sub(1)));
            let phase = d.current_phase.as_deref().unwrap_or("-");
            let cells: [(&str, Style); 5] = [
                (&d.key.to_string(), t.text),
                (&release, t.text),
                (&d.environment, t.text),
                (&d.model, t.dim),
                (phase, t.text),
            ];
            let mut x = inner.x + 2;
            for ((text, style), w) in cells.iter().zip(widths) {
                if w > 0 {
                    put(buf, line, x, y, &clip(text, usize::from(w.saturating_sub(1))), *style);
                }
                x += w;
            }
            let done = d.succeeded + d.failed;
            let count = clip(&format!(" {done}/{}", d.targets), usize::from(widths[5].saturating_sub(bar_w + 1)));
            let parts = [
                Part { count: d.succeeded, symbol: '█', style: t.gauge_done },
                Part { count: d.failed, symbol: '▓', style: t.gauge_failed },
            ];
            let at = Rect::new(x, y, bar_w, 1).intersection(line);
            bar(buf, at, d.targets, &parts, Part { count: 0, symbol: '░', style: t.gauge_empty });
            put(buf, line, x + bar_w, y, &count, t.text);
            x += widths[5];
            let fail_style = if d.failed > 0 { t.host(HostState::Failed) } else { t.dim };
            if widths[6] > 0 {
                put(buf, line, x, y, &clip(&d.failed.to_string(), usize::from(widths[6] - 1)), fail_style);
            }
            x += widths[6];
            let age = d.started_at.map_or_else(|| "-".to_owned(), |since| strings::age(app.now - since));
            if widths[7] > 0 {
                put(buf, line, x, y, &clip(&age, usize::from(widths[7])), t.dim);
            }
        }
    }

    fn detail(&self, g: &Geometry, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let live = &app.live;
        // In replay, the deployment and its silence are as they were at the cursor.
        let replayed = app.replay.as_ref().filter(|m| m.replay.is_some());
        let summary = replayed.and_then(|m| m.summary.as_ref()).or(live.summary());
        let now = replayed.and_then(|m| m.at()).unwrap_or(app.now);
        let (Some(summary), Some(detail)) = (summary, live.detail.as_ref()) else {
            let text = if live.selected.is_some() { strings::LOADING } else { strings::NO_SELECTION };
            put(buf, g.title, g.title.x + 1, g.title.y, text, t.dim);
            return;
        };
        let title = format!(
            "{} {}@{} → {} · {} · {} · requested by {}",
            summary.key,
            summary.release,
            summary.version,
            summary.environment,
            summary.model,
            summary.status.as_str().replace('_', " "),
            summary.requested_by
        );
        let mut x = put(buf, g.title, g.title.x + 1, g.title.y, &title, t.title);
        // What verifies it, when there is room: flags first (red), then the checklist and the
        // release record.
        let v = &detail.verification;
        let fits = |x: u16, text: &str| usize::from(x) + 2 + text.chars().count() <= usize::from(g.title.right());
        let mut extras: Vec<(String, ratatui::style::Style)> = Vec::new();
        if let Some(sup) = detail.shape.supervised {
            extras.push((sup.to_string(), t.warning));
        }
        if !v.conformance.is_empty() {
            extras.push((strings::flags(&v.conformance), t.host(HostState::Failed)));
        }
        if !v.checklist.is_empty() {
            extras.push((strings::checklist(&v.checklist), t.dim));
        }
        if let Some(change) = summary.change_ref.as_deref() {
            extras.push((change.to_owned(), t.dim));
        }
        if let Some(r) = v.release_record.as_ref().filter(|r| !r.components.is_empty() || !r.evidence.is_empty()) {
            extras.push((strings::release_record(r), t.dim));
        }
        for (text, style) in extras {
            if fits(x, &text) {
                x = put(buf, g.title, x + 2, g.title.y, &text, style);
            }
        }
        match (summary.technique.as_str(), &detail.shape.switch) {
            ("parallel", Some(switch)) => ParallelPipeline {
                phases: &detail.phases,
                switch,
                now: app.now,
                tz: app.session.config.timezone,
                theme: t,
            }
            .render(g.pipeline, buf),
            ("rolling", _) => RollingPipeline { phases: &detail.phases, theme: t }.render(g.pipeline, buf),
            _ => Pipeline { phases: &detail.phases, theme: t, analysis: detail.analysis.as_ref() }
                .render(g.pipeline, buf),
        }

        let silent_before = now - app.session.config.dashboard.silent_after;
        let counts = tally(&detail.targets, silent_before);
        let mut spans = vec![Span::styled(format!(" {} {} ", strings::HOSTS, detail.targets.len()), t.title)];
        if let Some(key) = &live.group_by {
            spans.push(Span::styled(format!("by {} ", crate::domain::text::sanitize(key)), t.warning));
        }
        for (state, n) in HostState::ALL.iter().zip(counts) {
            if n > 0 {
                spans.push(Span::styled(format!("{}{n} ", state.symbol()), t.host(*state)));
            }
        }
        let border = if live.focus == Focus::Hosts { t.title } else { t.border };
        let inner = boxed(g.hosts, buf, Line::from(spans), border, false);
        let grid = Rect::new(inner.x, inner.y, inner.width, u16::try_from(g.host_rows).unwrap_or(0).min(inner.height));
        let cursor = (live.focus == Focus::Hosts).then_some(detail.cursor);
        match (&live.group_by, live.group_rows(&app.geometry())) {
            (Some(key), Some(rows)) => GroupedHeatmap {
                targets: &detail.targets,
                rows: &rows,
                label_width: label_width(&detail.targets, key),
                cursor,
                offset_rows: detail.host_offset,
                silent_before,
                theme: t,
            }
            .render(grid, buf),
            _ => Heatmap { targets: &detail.targets, cursor, offset_rows: detail.host_offset, silent_before, theme: t }
                .render(grid, buf),
        }
        if detail.targets.is_empty() {
            put(buf, inner, inner.x, inner.y, strings::NO_TARGETS, t.dim);
        }
        if inner.height >= 2 && live.focus != Focus::Hosts {
            let mut x = inner.x;
            for state in HostState::ALL {
                let mut sym = [0u8; 4];
                x = put(buf, inner, x, inner.bottom() - 1, state.symbol().encode_utf8(&mut sym), t.host(state));
                x = put(buf, inner, x, inner.bottom() - 1, state.short(), t.dim) + 1;
            }
        } else if let (Some(target), true) = (detail.cursor_target(), inner.height >= 2) {
            let state = host_state(target, silent_before);
            let step = match (&target.last_step, target.last_status) {
                (Some(s), Some(st)) => format!(" {s} {st}"),
                _ => String::new(),
            };
            let info = format!("{} {} {}{step}", target.name, target.phase, state.label());
            put(buf, inner, inner.x, inner.bottom() - 1, &info, t.host(state));
        }

        let mut title = vec![Span::styled(format!(" {} ", strings::EVENTS), t.title)];
        if detail.tail_scroll > 0 {
            let waiting = format!("{} new · {} ", detail.unseen, strings::FOLLOW_HINT);
            title.push(Span::styled(waiting, t.warning));
        }
        let inner = boxed(g.events, buf, Line::from(title), t.border, false);
        if detail.tail.is_empty() {
            put(buf, inner, inner.x, inner.y, strings::NO_EVENTS, t.dim);
        }
        EventTail {
            events: &detail.tail,
            scroll: detail.tail_scroll,
            zone: app.session.config.timezone,
            now,
            show_target: true,
            theme: t,
        }
        .render(inner, buf);

        if let Some(pane) = &live.target {
            let area = g.hosts.union(g.events);
            let found = detail.target_named(&pane.name);
            target::TargetOverlay { app, pane, target: found, silent_before }.render(area, buf);
        }
    }
}
