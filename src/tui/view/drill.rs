//! The failure drill-down: one deployment's timeline on a time axis, its error groups, step
//! durations against the model's usual, decisions and review.
//!
//! Built from the same [`Report`] as `shipdeck report`, so screen and change record agree. Wide
//! terminals get two columns (what happened | what failed); narrow ones one column to scroll.

use crate::domain::report::{Moment, Report};
use crate::tui::app::App;
use crate::tui::strings;
use crate::tui::theme::{HostState, Theme};
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, put};
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// Two columns from this width on.
const TWO_COLUMNS: u16 = 140;

/// The drill-down screen.
pub struct DrillScreen<'a> {
    pub app: &'a App,
}

impl Widget for DrillScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let Some(drill) = app.history.drill.as_ref() else { return };
        let title = Line::from(vec![
            Span::styled(format!(" {} {} ", strings::DRILL, drill.key), t.title),
            Span::styled(
                format!(
                    "· {} back · {} review · ↑↓ scroll ",
                    app.keymap.label(crate::keymap::Action::Back),
                    app.keymap.label(crate::keymap::Action::WriteReview)
                ),
                t.dim,
            ),
        ]);
        let inner = boxed(area, buf, title, t.border, false);
        let Some(report) = drill.report.as_deref() else {
            put(buf, inner, inner.x + 1, inner.y, strings::LOADING, t.dim);
            return;
        };
        if inner.height < 3 {
            return;
        }
        let mut y = inner.y;
        put(buf, inner, inner.x + 1, y, &headline(report), t.text);
        y += 1;
        axis(app, report, Rect::new(inner.x + 1, y, inner.width.saturating_sub(2), 2), buf);
        y += 2;
        if let Some((_, error)) = &drill.draft {
            put(
                buf,
                inner,
                inner.x + 1,
                y,
                &format!("{} {error}{}", strings::REVIEW_INVALID, strings::REVIEW_KEPT),
                t.warning,
            );
            y += 1;
        }
        let body = Rect::new(inner.x + 1, y, inner.width.saturating_sub(2), inner.bottom().saturating_sub(y));
        let (timeline, record, failed) = sections(app, report);
        let scroll = u16::try_from(drill.scroll).unwrap_or(u16::MAX);
        if body.width >= TWO_COLUMNS {
            let half = body.width / 2;
            let l = Rect::new(body.x, body.y, half - 1, body.height);
            let r = Rect::new(body.x + half + 1, body.y, body.width - half - 1, body.height);
            let mut left = timeline;
            left.extend(record);
            Paragraph::new(left).wrap(Wrap { trim: false }).scroll((scroll, 0)).render(l, buf);
            Paragraph::new(failed).wrap(Wrap { trim: false }).scroll((scroll, 0)).render(r, buf);
        } else {
            // One column: what happened, what failed, then the record of who did and said what.
            let mut all = timeline;
            all.extend(failed);
            all.push(Line::default());
            all.extend(record);
            Paragraph::new(all).wrap(Wrap { trim: false }).scroll((scroll, 0)).render(body, buf);
        }
    }
}

fn headline(r: &Report) -> String {
    let d = &r.deployment;
    format!(
        "{}@{} → {} · {} · {} · requested by {} · {}/{} hosts failed · review {}",
        d.release, d.version, d.environment, d.model, d.status, d.requested_by, d.failed, d.targets, r.review_state
    )
}

fn glyph(kind: Moment) -> char {
    match kind {
        Moment::Planned => '○',
        Moment::GateOpened => '◇',
        Moment::Decision => '◆',
        Moment::PhaseStarted => '▸',
        Moment::FirstFailure | Moment::BudgetExceeded => '✗',
        Moment::PhaseSucceeded => '✓',
        Moment::Finished => '■',
    }
}

fn moment_style(kind: Moment, t: &Theme) -> Style {
    match kind {
        Moment::FirstFailure | Moment::BudgetExceeded => t.host(HostState::Failed),
        Moment::PhaseSucceeded => t.host(HostState::Succeeded),
        Moment::Decision | Moment::GateOpened => t.warning,
        _ => t.text,
    }
}

/// The timeline on a time axis: a marker per moment at its place between the first and last,
/// the two ends labelled below.
fn axis(app: &App, r: &Report, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (Some(first), Some(last)) = (r.timeline.first(), r.timeline.last()) else { return };
    if area.width < 10 || area.height < 2 {
        return;
    }
    let span = (last.at - first.at).num_milliseconds().max(1);
    let width = i64::from(area.width - 1);
    for x in 0..area.width {
        put(buf, area, area.x + x, area.y, "─", t.dim);
    }
    for e in &r.timeline {
        let offset = (e.at - first.at).num_milliseconds() * width / span;
        let x = area.x + u16::try_from(offset.clamp(0, width)).unwrap_or(0);
        put(buf, area, x, area.y, &glyph(e.kind).to_string(), moment_style(e.kind, t));
    }
    let from = stamp(app, first.at);
    let to = stamp(app, last.at);
    put(buf, area, area.x, area.y + 1, &from, t.dim);
    let to_w = u16::try_from(to.chars().count()).unwrap_or(0);
    if area.width > to_w + u16::try_from(from.chars().count()).unwrap_or(0) + 2 {
        put(buf, area, area.right().saturating_sub(to_w), area.y + 1, &to, t.dim);
    }
}

fn stamp(app: &App, at: DateTime<Utc>) -> String {
    super::approvals::when(app, at)
}

/// The timeline; the record (decisions, notifications, review); what failed (error groups,
/// durations, silent hosts).
fn sections<'a>(app: &App, r: &'a Report) -> (Vec<Line<'a>>, Vec<Line<'a>>, Vec<Line<'a>>) {
    let t = &app.theme;
    let heading = |s: &str| Line::styled(s.to_owned(), t.title);
    let text = |s: String| Line::styled(crate::domain::text::sanitize(&s).into_owned(), t.text);
    let mut left = vec![heading(strings::TIMELINE)];
    for e in &r.timeline {
        left.push(Line::from(vec![
            Span::styled(format!("{:>12} ", stamp(app, e.at)), t.dim),
            Span::styled(format!("{} ", glyph(e.kind)), moment_style(e.kind, t)),
            Span::styled(crate::domain::text::sanitize(&e.text).into_owned(), t.text),
        ]));
    }
    left.push(Line::default());
    let timeline = std::mem::take(&mut left);
    left.push(heading(strings::DECISIONS));
    if r.decisions.is_empty() {
        left.push(Line::styled(strings::NO_DECISIONS, t.dim));
    }
    for a in &r.decisions {
        let role = a.role.as_deref().map_or(String::new(), |x| format!(" as {x}"));
        // A refused attempt is labelled so (`approve (refused)`) and says the rule: it never
        // reads as a decision that counted.
        let why = a
            .refusal(app.session.config.timezone)
            .map(|r| format!(": {r}"))
            .or_else(|| a.reason.as_deref().or(a.comment.as_deref()).map(|w| format!(": {w}")))
            .unwrap_or_default();
        left.push(text(format!("{} {} {} by {}{role}{why}", stamp(app, a.decided_at), a.phase, a.label(), a.person)));
    }
    left.push(Line::default());
    left.push(heading(strings::NOTIFIED));
    if r.notifications.is_empty() {
        left.push(Line::styled(strings::NOBODY_NOTIFIED, t.dim));
    }
    for n in &r.notifications {
        left.push(text(format!("{} {} → {}: {}", stamp(app, n.created_at), n.kind, n.recipient, n.subject)));
    }
    left.push(Line::default());
    left.push(heading(strings::REVIEW));
    match &r.review {
        None => left.push(Line::styled(
            format!("{} — {} writes it", r.review_state, app.keymap.label(crate::keymap::Action::WriteReview)),
            t.dim,
        )),
        Some(v) => {
            let c = &v.content;
            left.push(text(format!("{} by {}: {}", c.state.as_str(), v.authors.join(", "), c.summary)));
            left.push(text(format!("cause: {} — {}", c.cause_category, c.root_cause)));
            if !c.lessons.is_empty() {
                left.push(text(format!("lessons: {}", c.lessons)));
            }
            for (i, a) in c.actions.iter().enumerate() {
                let done = if a.done { "✓" } else { "·" };
                left.push(text(format!("{done} {}. {} ({}, due {})", i + 1, a.text, a.owner, a.due)));
            }
        }
    }

    let mut right = vec![heading(strings::ERROR_GROUPS)];
    if r.error_groups.is_empty() {
        right.push(Line::styled(strings::NO_ERRORS, t.dim));
    }
    for g in &r.error_groups {
        right.push(Line::from(vec![
            Span::styled(format!("{:>5} ", g.hosts), t.host(HostState::Failed)),
            Span::styled(crate::domain::text::sanitize(&g.pattern).into_owned(), t.text),
        ]));
        // Host names can come from agents: shown, not obeyed.
        let detail = format!(
            "      {} · {}–{} · {}",
            g.steps.join(", "),
            stamp(app, g.first_at),
            stamp(app, g.last_at),
            clip(&g.sample_hosts.join(", "), 60)
        );
        right.push(Line::styled(crate::domain::text::sanitize(&detail).into_owned(), t.dim));
    }
    // Where the failures were, by label: a rack or a site that failed together shows.
    for l in &r.failed_by_label {
        let values: Vec<String> = l.values.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let line = format!("      failed by {}: {}", l.label, values.join(" · "));
        right.push(Line::styled(crate::domain::text::sanitize(&clip(&line, 100)).into_owned(), t.dim));
    }
    if !r.step_durations.is_empty() {
        right.push(Line::default());
        right.push(heading(strings::DURATIONS));
        for s in &r.step_durations {
            let usual = s.usual_p50_s.map_or("-".to_owned(), |u| format!("{u:.0}s"));
            let style = if s.outlier { t.warning } else { t.text };
            let flag = if s.outlier { "  ⚠ slow" } else { "" };
            right.push(Line::styled(
                format!(
                    "{:<10} {:<10} p50 {:>5.0}s p95 {:>5.0}s usual {usual:>5} ({} hosts){flag}",
                    s.phase, s.step, s.p50_s, s.p95_s, s.hosts
                ),
                style,
            ));
        }
    }
    if !r.silent_hosts.is_empty() {
        right.push(Line::default());
        right.push(heading(strings::SILENT_HOSTS));
        right.push(text(format!("{}: {}", r.silent_hosts.len(), clip(&r.silent_hosts.join(", "), 200))));
    }
    (timeline, left, right)
}
