//! The Approvals screen ("needs me"): every pending gate and failed phase, what the operator can
//! act on first, and for the selected one the context to decide — the previous phase's result
//! and top errors, approvals so far, what is still missing, the next phase's size and ETA with
//! its window and freeze risk, and what the operator may do about it. Below the gates, the
//! failure reviews the operator owes and the improvement actions past their due date.

use crate::domain::gate::view::ActionKind;
use crate::domain::gate::{Decision, Refusal};
use crate::domain::text::sanitize;
use crate::tui::app::App;
use crate::tui::app::approvals::timing::{EtaWarning, Timing, WindowState, timing};
use crate::tui::app::approvals::{FollowUp, action_of};
use crate::tui::model::Pending;
use crate::tui::strings::{self, gates as text};
use crate::tui::theme::{HostState, phase_host_state};
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, clip_release, put};
use chrono::{DateTime, TimeDelta, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// The Approvals screen.
pub struct ApprovalsScreen<'a> {
    pub app: &'a App,
}

impl Widget for ApprovalsScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let rows = u16::try_from(self.app.approvals.items.len().max(1) + 3).unwrap_or(u16::MAX);
        let list_h = rows.clamp(5, (area.height * 2 / 5).max(5)).min(area.height);
        let list = Rect::new(area.x, area.y, area.width, list_h);
        let follow_ups = u16::try_from(self.app.approvals.follow_ups()).unwrap_or(u16::MAX);
        let follow_h =
            if follow_ups == 0 { 0 } else { (follow_ups + 2).min(area.height / 4).max(3).min(area.height - list_h) };
        let follow = Rect::new(area.x, area.y + list_h, area.width, follow_h);
        let detail = Rect::new(area.x, follow.bottom(), area.width, area.height - list_h - follow_h);
        self.list(list, buf);
        if follow_h > 0 {
            self.follow_ups(follow, buf);
        }
        self.detail(detail, buf);
    }
}

/// A time in the display zone: `18:00` today, `Fri 27 Nov 18:00` on another day.
pub fn when(app: &App, t: DateTime<Utc>) -> String {
    let zone = app.session.config.timezone;
    let (local, today) = (t.with_timezone(&zone), app.now.with_timezone(&zone));
    if local.date_naive() == today.date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %d %b %H:%M").to_string()
    }
}

/// A time from which something holds (a bake's end, a window's opening), as [`when`] writes
/// it but to the second when it is not on a whole minute ([`crate::domain::time::until`]).
fn until(app: &App, t: DateTime<Utc>) -> String {
    crate::domain::time::until_on(t, app.session.config.timezone, app.now, "%a %d %b")
}

/// `5m`, `1h 20m`: a duration for people.
fn span_of(d: TimeDelta) -> String {
    let m = (d.num_seconds().max(0) + 59) / 60;
    match m {
        0..60 => format!("{m}m"),
        _ if m % 60 == 0 => format!("{}h", m / 60),
        _ => format!("{}h {}m", m / 60, m % 60),
    }
}

/// The list's status cell: kind and progress, and why it waits (or `ready`).
fn status_cell(app: &App, p: &Pending) -> (String, Style) {
    let t = &app.theme;
    let zone = app.session.config.timezone;
    let (why, style) = match &p.item.blocked {
        _ if p.item.ran_past => (text::RAN_PAST.to_owned(), t.host(HostState::Failed)),
        None => (text::READY.to_owned(), t.host(HostState::Succeeded)),
        Some(r @ Refusal::FreezeReasonRequired { .. }) => (text::short(r, zone, app.now), t.warning),
        Some(r) if p.item.needs_me() => (text::short(r, zone, app.now), t.warning),
        Some(r) => (text::short(r, zone, app.now), t.dim),
    };
    (format!("{} · {why}", text::kind(&p.item)), style)
}

/// Widths of the list columns (KEY, RELEASE, ENV, PHASE, AGE, STATUS) for an inner width.
/// STATUS says why an entry waits, so it keeps room first (22 columns: `gate 0/2 · bake → 18:00`);
/// when the rest does not fit, AGE, then ENV are dropped and RELEASE shrinks, never overlapping.
/// KEY fits DEP-<n> keys up to five digits.
fn list_columns(width: u16) -> [u16; 6] {
    let avail = width.saturating_sub(2);
    let mut w: [u16; 6] = [10, 8, 11, 9, 5, 22];
    for drop in [4, 2] {
        if w.iter().sum::<u16>() <= avail {
            break;
        }
        w[drop] = 0;
    }
    let short = w.iter().sum::<u16>().saturating_sub(avail);
    w[5] = w[5].saturating_sub(short);
    let rest = avail.saturating_sub(w.iter().sum());
    let release = (rest * 70 / 100).min(24);
    w[1] += release;
    w[5] += rest - release;
    w
}

impl ApprovalsScreen<'_> {
    fn list(&self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let a = &app.approvals;
        let [_, later, others] = a.counts();
        let now = a.needs_you();
        let title = Line::from(vec![
            Span::styled(format!(" {} {now} ", text::APPROVALS), t.title),
            Span::styled(format!("· {} {later} · {} {others} ", text::LATER, text::OTHERS), t.dim),
        ]);
        let inner = boxed(area, buf, title, t.title, false);
        if inner.height == 0 {
            return;
        }
        if a.items.is_empty() {
            let msg = if a.loaded { text::EMPTY } else { text::LOADING };
            put(buf, inner, inner.x + 1, inner.y, msg, t.dim);
            return;
        }
        let widths = list_columns(inner.width);
        let mut x = inner.x + 2;
        for (w, h) in widths.iter().zip(&text::LIST_HEADER[1..]) {
            if *w > 0 {
                put(buf, inner, x, inner.y, &clip(h, usize::from(w.saturating_sub(1))), t.dim);
            }
            x += w;
        }
        let rows = usize::from(inner.height.saturating_sub(1)).max(1);
        let at = a.selected.min(a.items.len().saturating_sub(1));
        let offset = (at + 1).saturating_sub(rows);
        for (i, p) in a.items.iter().enumerate().skip(offset).take(rows) {
            let y = inner.y + 1 + u16::try_from(i - offset).unwrap_or(0);
            let line = Rect::new(inner.x, y, inner.width, 1);
            if i == a.selected {
                buf.set_style(line, t.selected);
            }
            let (sym, sym_style) = match p.item.kind {
                ActionKind::Gate if p.item.ran_past => ("!", t.host(HostState::Failed)),
                ActionKind::Gate => ("◆", t.warning),
                ActionKind::FailedPhase => ("✗", t.host(HostState::Failed)),
                ActionKind::Switched => ("⇄", t.text),
            };
            put(buf, line, inner.x, y, sym, sym_style);
            let (status, status_style) = status_cell(app, p);
            let release = clip_release(&p.item.release, &p.item.version, usize::from(widths[1].saturating_sub(1)));
            let cells: [(String, Style); 6] = [
                (p.item.deployment.to_string(), t.text),
                (release, t.text),
                (p.item.environment.clone(), t.text),
                (p.item.phase.clone(), t.text),
                (strings::age(app.now - p.item.since), t.dim),
                (status, status_style),
            ];
            let mut x = inner.x + 2;
            for ((cell, style), w) in cells.iter().zip(widths) {
                if w > 0 {
                    put(buf, line, x, y, &clip(cell, usize::from(w.saturating_sub(1))), *style);
                }
                x += w;
            }
        }
    }

    /// Reviews the operator owes, then overdue actions, one line each.
    fn follow_ups(&self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let a = &app.approvals;
        let title = Line::from(vec![
            Span::styled(format!(" {} ", text::FOLLOW_UPS), t.title),
            Span::styled(
                format!("· {} · {} ", text::owed_count(a.owed.len()), text::overdue_count(a.overdue.len())),
                t.dim,
            ),
        ]);
        let inner = boxed(area, buf, title, t.border, false);
        let rows = usize::from(inner.height);
        let chosen = a.selected_follow_up().map(|(i, _)| i);
        let offset = chosen.map_or(0, |i| (i + 1).saturating_sub(rows));
        for i in (offset..a.follow_ups()).take(rows) {
            let Some(f) = a.follow_up(i) else { break };
            let y = inner.y + u16::try_from(i - offset).unwrap_or(0);
            let line = Rect::new(inner.x, y, inner.width, 1);
            if chosen == Some(i) {
                buf.set_style(line, t.selected);
            }
            let (sym, sym_style) = match f {
                FollowUp::Owed(_) => ("✎", t.warning),
                FollowUp::Overdue(_) => ("!", t.host(HostState::Failed)),
            };
            put(buf, line, inner.x, y, sym, sym_style);
            let what = follow_up_text(app, f);
            put(buf, line, inner.x + 2, y, &clip(&what, usize::from(inner.width.saturating_sub(2))), t.text);
        }
    }

    fn detail(&self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        if let Some((_, f)) = app.approvals.selected_follow_up() {
            // The whole line, wrapped: the panel above cuts it to one row.
            let inner =
                boxed(area, buf, Line::from(Span::styled(format!(" {} ", text::FOLLOW_UPS), t.title)), t.border, false);
            let lines = vec![
                Line::from(Span::styled(sanitize(&follow_up_text(app, f)).into_owned(), t.text)),
                Line::default(),
                Line::from(Span::styled(text::FOLLOW_UP_OPEN, t.dim)),
            ];
            Paragraph::new(lines).wrap(Wrap { trim: false }).render(inner, buf);
            return;
        }
        let Some(p) = app.approvals.current() else {
            boxed(area, buf, Line::default(), t.border, false);
            return;
        };
        // Release names are the log's words: escaped as every other view shows them.
        let title = format!(" {} {}@{} → {} ", p.item.deployment, p.item.release, p.item.version, p.item.environment);
        let title = Line::from(Span::styled(sanitize(&title).into_owned(), t.title));
        let inner = boxed(area, buf, title, t.border, false);
        Paragraph::new(context_lines(app, p)).wrap(Wrap { trim: false }).render(inner, buf);
    }
}

/// One review owed or overdue action, as its row says it.
fn follow_up_text(app: &App, f: FollowUp<'_>) -> String {
    match f {
        FollowUp::Owed(r) => format!(
            "{:<10}{}@{} → {} · {} · {} · {} {}",
            r.key.to_string(),
            r.release,
            r.version,
            r.environment,
            r.result.as_str().replace('_', " "),
            text::REVIEW_OWED,
            strings::age(app.now - r.finished_at),
            text::AGO
        ),
        FollowUp::Overdue(o) => {
            let today = app.now.with_timezone(&app.session.config.timezone).date_naive();
            let late = (today - o.action.due).num_days();
            format!(
                "{:<10}#{} {} · {} · due {} · {late}d {}",
                o.of(),
                o.n,
                o.action.text,
                o.action.owner,
                o.action.due.format("%Y-%m-%d"),
                text::OVERDUE
            )
        }
    }
}

fn label(t: &crate::tui::theme::Theme, l: &str) -> Span<'static> {
    Span::styled(format!("{l:<11}"), t.dim)
}

/// The context to decide on one entry, line by line (shared with the confirm dialog).
#[must_use]
pub fn context_lines<'a>(app: &App, p: &Pending) -> Vec<Line<'a>> {
    let t = &app.theme;
    let item = &p.item;
    let rules = &app.approvals.rules;
    let timing = timing(p, &rules.windows, &rules.freezes, app.now);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} · {} · ", item.phase, p.model), t.text),
        Span::styled(
            format!("requested by {} · waiting {}", item.requested_by, strings::age(app.now - item.since)),
            t.dim,
        ),
    ])];
    if let Some(s) = item.switch.as_ref().filter(|_| item.kind == ActionKind::Switched) {
        // A switch back restores the old set, kept until then; nothing else to weigh.
        let kept = s.old_kept_until().map_or_else(String::new, |until| format!("; kept until {}", when(app, until)));
        lines.push(Line::from(vec![
            label(t, text::SWITCHED),
            Span::styled(
                format!(
                    "traffic on the new set ({}, {} hosts) since {}; the old set, {} hosts{kept}",
                    crate::domain::text::sanitize(&s.new_set),
                    s.new_targets,
                    when(app, item.since),
                    s.old_targets.len()
                ),
                t.text,
            ),
        ]));
        lines.push(you_line(app, p));
        return lines;
    }
    let head = if item.kind == ActionKind::Gate { text::BEFORE } else { text::FAILED };
    match &item.result {
        Some(r) => {
            let state = phase_host_state(r.status);
            lines.push(Line::from(vec![
                label(t, head),
                Span::styled(format!("{} {} {}", r.name, state.symbol(), r.status), t.host(state)),
                Span::styled(
                    format!(
                        ": {} of {} hosts ok, {} failed (budget {})",
                        r.succeeded, r.targets, r.failed, r.failure_budget
                    ),
                    t.text,
                ),
            ]));
        }
        None => lines
            .push(Line::from(vec![label(t, head), Span::styled("first phase: approval starts the deployment", t.dim)])),
    }
    for (msg, n) in &item.top_errors {
        // Agents' words: shown through the same escapes as every other output.
        let msg = crate::domain::text::sanitize(msg);
        lines.push(Line::from(vec![label(t, ""), Span::styled(format!("{n}× {msg}"), t.host(HostState::Failed))]));
    }
    if let Some(g) = &item.gate {
        let who: Vec<String> = g
            .approvals
            .iter()
            .map(|a| {
                format!(
                    "{}{} at {}",
                    a.person,
                    a.role.as_deref().map_or(String::new(), |r| format!(" ({r})")),
                    when(app, a.at)
                )
            })
            .collect();
        let so_far = if who.is_empty() { text::NONE_YET.to_owned() } else { who.join(", ") };
        lines.push(Line::from(vec![
            label(t, text::APPROVALS_SO_FAR),
            Span::styled(format!("{} of {}: {so_far}", g.approvals.len(), g.required), t.text),
        ]));
        lines.push(Line::from(vec![label(t, text::POLICY), Span::styled(policy(&g.policy), t.dim)]));
        lines.push(Line::from(vec![
            label(t, text::MISSING),
            Span::styled(missing(app, g.missing(), &timing), t.warning),
        ]));
    }
    // The analysis explains the analysed gate, and a halt it caused; a canary that failed its
    // own budget is about its hosts.
    if let Some(a) = p.analysis.as_ref().filter(|a| a.gate_phase == item.phase || a.halted_at.is_some()) {
        lines.extend(analysis_lines(app, a));
    }
    lines.push(next_line(app, p, &timing));
    if let Some(w) = &timing.warning {
        let msg = match w {
            EtaWarning::PastWindow { name, closes } => {
                format!("⚠ it would still run when {name} closes at {}", when(app, *closes))
            }
            EtaWarning::IntoFreeze { name, from } => {
                format!("⚠ it would run into the freeze {name} from {}", when(app, *from))
            }
        };
        lines.push(Line::from(vec![label(t, ""), Span::styled(msg, t.warning)]));
    }
    lines.push(you_line(app, p));
    lines
}

/// The live canary analysis: where it stands, each rule's numbers, a warning for each metric
/// no agent reports, and how it decides.
fn analysis_lines<'a>(app: &App, a: &crate::store::AnalysisState) -> Vec<Line<'a>> {
    use crate::domain::analysis::Verdict;
    let t = &app.theme;
    let style = |v: Verdict| match v {
        Verdict::Pass => t.host(HostState::Succeeded),
        Verdict::Fail => t.host(HostState::Failed),
        Verdict::MissingMetric => t.warning,
        Verdict::Inconclusive => t.text,
    };
    let verdict = a.analysis.as_ref().map_or(Verdict::Inconclusive, |x| x.verdict);
    let mut lines = vec![Line::from(vec![label(t, text::ANALYSIS), Span::styled(a.headline(), style(verdict))])];
    match &a.analysis {
        Some(x) => {
            for r in &x.rules {
                lines.push(Line::from(vec![label(t, ""), Span::styled(r.describe(), style(r.verdict))]));
            }
            for m in x.missing() {
                lines.push(Line::from(vec![label(t, ""), Span::styled(text::analysis_missing(m), t.warning)]));
            }
        }
        None => {
            for r in &a.rules {
                lines.push(Line::from(vec![label(t, ""), Span::styled(r.describe(), t.dim)]));
            }
        }
    }
    lines.push(Line::from(vec![label(t, ""), Span::styled(text::ANALYSIS_RULE, t.dim)]));
    lines
}

fn policy(g: &crate::domain::GatePolicy) -> String {
    let mut parts =
        vec![if g.roles.is_empty() { "anyone configured".to_owned() } else { format!("roles {}", g.roles.join(", ")) }];
    if !g.allow_self {
        parts.push("no self-approval".into());
    }
    if g.bake > TimeDelta::zero() {
        parts.push(format!("bake {}", span_of(g.bake)));
    }
    if !g.windows.is_empty() {
        parts.push(format!("windows {}", g.windows.join(", ")));
    }
    parts.join(" · ")
}

fn missing(app: &App, approvals: u32, timing: &Timing) -> String {
    let mut parts = Vec::new();
    if approvals > 0 {
        parts.push(format!("{approvals} more approval{}", if approvals == 1 { "" } else { "s" }));
    }
    if let Some(until) = timing.bake_until {
        parts.push(format!("bake {} left (until {})", span_of(until - app.now), self::until(app, until)));
    }
    match &timing.window {
        WindowState::Closed { name, opens, .. } => parts.push(format!("{name} opens {}", until(app, *opens))),
        WindowState::Never => parts.push("no window opens again".to_owned()),
        WindowState::Open { .. } | WindowState::NotRequired => {}
    }
    if let Some((name, until)) = &timing.freeze {
        parts.push(format!("freeze {name} until {}", self::until(app, *until)));
    }
    if let Some(at) = timing.planned_start {
        parts.push(format!("planned start {}", until(app, at)));
    }
    let time_rules_wait = timing.start != Some(app.now);
    if time_rules_wait {
        // The one instant the check will accept, not the end of the first rule.
        parts.push(timing.start.map_or_else(
            || "no time in the coming weeks meets every time rule".to_owned(),
            |s| format!("all time rules hold from {}", until(app, s)),
        ));
    }
    if parts.is_empty() { text::NOTHING_MISSING.to_owned() } else { parts.join(" · ") }
}

fn next_line<'a>(app: &App, p: &Pending, timing: &Timing) -> Line<'a> {
    let t = &app.theme;
    let gate = p.item.kind == ActionKind::Gate;
    let size = match (&p.phase, gate) {
        (Some(ph), true) => format!("{}, {} hosts", ph.name, ph.targets),
        (Some(ph), false) => format!("{} failed hosts of {}", ph.failed, ph.name),
        (None, _) => p.item.phase.clone(),
    };
    let eta = match (p.eta, timing.end) {
        (Some(eta), Some(end)) => {
            format!(" · ETA {} ({} hosts measured) · ends ~{}", span_of(eta), p.eta_hosts, when(app, end))
        }
        _ => format!(" · {}", text::NO_ETA),
    };
    Line::from(vec![
        label(t, if gate { text::NEXT } else { text::RETRY }),
        Span::styled(format!("{size}{eta}"), t.text),
    ])
}

fn you_line<'a>(app: &App, p: &Pending) -> Line<'a> {
    let t = &app.theme;
    let me = &app.session.operator;
    if app.read_only {
        return Line::from(vec![label(t, text::YOU), Span::styled(format!("{me} · {}", strings::READ_ONLY), t.dim)]);
    }
    let keys: Vec<String> = p.item.offers.iter().map(|d| format!("{} {d}", app.keymap.label(action_of(*d)))).collect();
    let first = p.item.offers.first().copied().unwrap_or(Decision::Approve);
    let (msg, style) = match &p.item.blocked {
        None => (format!("{me} can decide now: {}", keys.join(" · ")), t.host(HostState::Succeeded)),
        Some(Refusal::FreezeReasonRequired { .. }) => {
            (format!("{me} may override the freeze with a reason: {}", keys.join(" · ")), t.warning)
        }
        Some(r) => (format!("{me}: {}", text::cannot(first, r, app.session.config.timezone)), t.warning),
    };
    Line::from(vec![label(t, text::YOU), Span::styled(msg, style)])
}
