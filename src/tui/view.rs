//! Drawing the dashboard: the frame (header, tabs, footer), one file per screen, overlays.
//!
//! Rendering only reads the [`App`]; every size renders without panic, and below
//! [`MIN_SIZE`] a "too small" notice replaces the screens.

pub mod approvals;
pub mod checklist;
pub mod dialog;
pub mod drill;
pub mod help;
pub mod history;
pub mod live;
pub mod metrics;
pub mod notifications;
pub mod schedule;
pub mod target;

use super::app::{App, Focus, ReplayMode, Tab};
pub use super::layout::{MIN_SIZE, centered, screen_layout};
use super::strings;
use super::theme::HostState;
pub use super::widgets::boxed;
use super::widgets::{clip_left, put};
use crate::keymap::Action;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget, Wrap};

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
            too_small(area, buf);
            return;
        }
        let screen = screen_layout(area);
        header(self, screen.header, buf);
        tabs(self, screen.tabs, buf);
        match self.tab {
            Tab::Live => live::LiveScreen { app: self }.render(screen.body, buf),
            Tab::Schedule => schedule::ScheduleScreen { app: self }.render(screen.body, buf),
            Tab::Approvals => approvals::ApprovalsScreen { app: self }.render(screen.body, buf),
            Tab::Notifications => notifications::NotificationsScreen { app: self }.render(screen.body, buf),
            Tab::History => history::HistoryScreen { app: self }.render(screen.body, buf),
            Tab::Metrics => metrics::MetricsScreen { app: self }.render(screen.body, buf),
        }
        footer(self, screen.footer, buf);
        long_status(self, &screen, buf);
        if let Some(d) = &self.dialog {
            dialog::DialogOverlay { app: self, dialog: d }.render(screen.body, buf);
        }
        if let (Some(d), Tab::Metrics) = (&self.metrics.record, self.tab) {
            metrics::RecordOverlay { app: self, dialog: d }.render(screen.body, buf);
        }
        if let Some(p) = &self.checklist {
            checklist::ChecklistOverlay { app: self, panel: p }.render(screen.body, buf);
        }
        if self.help {
            help::HelpOverlay { app: self }.render(screen.body, buf);
        }
    }
}

fn too_small(area: Rect, buf: &mut Buffer) {
    let text = format!(
        "{}: {}x{}, shipdeck needs {}x{}. Enlarge the window or press q.",
        strings::TOO_SMALL,
        area.width,
        area.height,
        MIN_SIZE.0,
        MIN_SIZE.1
    );
    Paragraph::new(text).wrap(Wrap { trim: true }).render(area, buf);
}

/// The header line: name and operator always; then, each only when it fits before the clock,
/// the pause and read-only marks, the counts, unread notifications, the receiver and the log.
/// Nothing is drawn over anything else, at any width.
fn header(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    buf.set_style(area, t.header);
    let format = if area.width >= 80 { "%Y-%m-%d %H:%M:%S %Z" } else { "%H:%M:%S" };
    let clock = app.now.with_timezone(&app.session.config.timezone).format(format).to_string();
    let c = &app.counts;
    let counts = if area.width >= 120 {
        format!(
            "● {} {}  ◆ {} {}  ✗ {} {}",
            c.running,
            strings::RUNNING,
            c.awaiting_approval,
            strings::AWAITING,
            c.failed_since,
            strings::TODAY_FAILED
        )
    } else {
        format!("●{} ◆{} ✗{}", c.running, c.awaiting_approval, c.failed_since)
    };
    let clock_w = u16::try_from(clock.chars().count()).unwrap_or(0);
    let right = area.right().saturating_sub(clock_w + 1);
    put(buf, area, right, area.y, &clock, t.header);
    // Only what ends at least one column before the clock; the left part never reaches it.
    let left = Rect::new(area.x, area.y, right.saturating_sub(area.x + 1), 1);
    let fits = |x: u16, text: &str| usize::from(x) + text.chars().count() < usize::from(left.right());
    let mut x = put(buf, left, area.x + 1, area.y, strings::APP_NAME, t.header.patch(t.title)) + 1;
    let who = if app.session.notice.is_some() {
        format!("{} {} ({})", strings::OPERATOR, app.session.operator, strings::NOT_IN_TEAM)
    } else {
        format!("{} {}", strings::OPERATOR, app.session.operator)
    };
    x = put(buf, left, x, area.y, &who, t.header) + 2;
    let mut item = |x: &mut u16, text: &str, style| {
        if fits(*x, text) {
            *x = put(buf, left, *x, area.y, text, style) + 2;
        }
    };
    if app.paused {
        item(&mut x, &format!(" {} ", strings::PAUSED), t.paused);
    }
    if let Some(at) = app.replay.as_ref().and_then(ReplayMode::at) {
        let at = at.with_timezone(&app.session.config.timezone).format("%m-%d %H:%M:%S");
        item(&mut x, &format!(" {} {at} ", strings::REPLAY), t.paused);
    }
    if app.read_only {
        item(&mut x, strings::READ_ONLY, t.header);
    }
    item(&mut x, &counts, t.header);
    if app.approvals.unread > 0 {
        item(&mut x, &format!("{} {}", app.approvals.unread, strings::gates::UNREAD), t.header);
    }
    if app.approvals.failed_deliveries > 0 {
        // In words when they fit, else the mark and the count alone.
        let n = app.approvals.failed_deliveries;
        let long = format!("✉✗{n} {}", strings::gates::FAILED_DELIVERIES);
        let failed = if fits(x, &format!("{long}  ✗00 ✎0 !0")) { long } else { format!("✉✗{n}") };
        item(&mut x, &failed, t.header.patch(t.warning));
    }
    // Reviews owed and actions overdue, work for the operator: in words when they fit before the
    // clock with room left for the receiver's address, else shorter, else without the address.
    let a = &app.approvals;
    let (owed, overdue) = (a.owed.len(), a.overdue.len());
    let receiver = app.session.receiver.as_ref().map(|r| format!("receiver {r}  ")).unwrap_or_default();
    let keep = if receiver.is_empty() { 0 } else { receiver.chars().count() + 12 };
    let room = usize::from(right.saturating_sub(x));
    let variants = strings::gates::follow_up_counts(owed, overdue);
    let fitting = |room: usize| variants.iter().find(|s| s.chars().count() + 2 <= room).cloned();
    let follow_ups = fitting(room.saturating_sub(keep)).or_else(|| fitting(room)).filter(|s| !s.is_empty());
    if let Some(text) = follow_ups {
        x = put(buf, area, x, area.y, &text, t.header) + 2;
    }
    let room = usize::from(right.saturating_sub(x).saturating_sub(2));
    let receiver_w = receiver.chars().count();
    let (receiver, room) = if receiver_w + 12 <= room { (receiver, room - receiver_w) } else { (String::new(), room) };
    let x = put(buf, left, x, area.y, &receiver, t.header);
    if room > 8 {
        put(buf, left, x, area.y, &clip_left(&format!("log {}", app.session.db), room), t.header);
    }
}

fn tabs(app: &App, area: Rect, buf: &mut Buffer) {
    // Beside their tabs, when they fit: the entries that need the operator now (the count the
    // Approvals list's title shows) and unread notifications; in words, else as numbers.
    let counted = |words: Option<bool>| -> Vec<String> {
        strings::TAB_TITLES
            .iter()
            .enumerate()
            .map(|(i, title)| {
                let (count, what) = match Tab::ALL[i] {
                    Tab::Approvals => (app.approvals.needs_you(), strings::gates::NEED_YOU),
                    Tab::Notifications => (app.approvals.unread, strings::gates::UNREAD),
                    _ => (0, ""),
                };
                match words {
                    Some(true) if count > 0 => format!(" {} {title} ({count} {what}) ", i + 1),
                    Some(false) if count > 0 => format!(" {} {title} ({count}) ", i + 1),
                    _ => format!(" {} {title} ", i + 1),
                }
            })
            .collect()
    };
    let too_wide =
        |labels: &[String]| labels.iter().map(|l| l.chars().count() + 1).sum::<usize>() >= usize::from(area.width);
    let mut labels = counted(Some(true));
    if too_wide(&labels) {
        labels = counted(Some(false));
    }
    if too_wide(&labels) {
        labels = counted(None);
    }
    if too_wide(&labels) {
        // Narrow terminals: short titles, so every view's number stays visible.
        labels = strings::TAB_SHORT.iter().enumerate().map(|(i, title)| format!("{} {title}", i + 1)).collect();
    }
    let mut x = area.x + 1;
    for (i, label) in labels.iter().enumerate() {
        let style = if i == app.tab.index() { app.theme.tab_active } else { app.theme.tab };
        x = put(buf, area, x, area.y, label, style) + 1;
    }
}

/// The keys that work in the current state, most useful first, as `(keys, what)` pairs.
fn hints(app: &App) -> Vec<(String, &'static str)> {
    let k = |a: Action| app.keymap.label(a);
    if app.help {
        return vec![(k(Action::Help), "close help")];
    }
    if let Some(panel) = &app.checklist {
        if panel.confirm.is_some() {
            return vec![("Enter".into(), "record the tick"), ("Esc".into(), "cancel")];
        }
        let mut out = vec![(format!("{} {}", k(Action::Up), k(Action::Down)), "select")];
        if !app.read_only {
            out.push(("space".into(), "tick"));
        }
        out.push((k(Action::Back), "close"));
        return out;
    }
    if let Some(mode) = app.replay.as_ref().filter(|_| app.tab == Tab::Live) {
        let play = match mode.speed {
            None => "play",
            Some(1) => "10x",
            Some(10) => "60x",
            Some(_) => "pause",
        };
        return vec![
            (format!("{} {}", k(Action::Left), k(Action::Right)), "event"),
            (format!("{} {}", k(Action::ReplayBack), k(Action::ReplayForward)), "minute"),
            (k(Action::ReplayPlay), play),
            (format!("{} {}", k(Action::Replay), k(Action::Back)), "live"),
            (format!("{} {}", k(Action::PageUp), k(Action::PageDown)), "events"),
            (k(Action::Help), "help"),
            (k(Action::Quit), "quit"),
        ];
    }
    let mut out = Vec::new();
    let live = &app.live;
    let on_live = app.tab == Tab::Live;
    if let Some(p) = app.decision_target().filter(|_| !app.read_only && live.target.is_none()) {
        for d in &p.item.offers {
            out.push((k(crate::tui::app::approvals::action_of(*d)), d.as_str()));
        }
    }
    if app.tab == Tab::Approvals && app.approvals.rows() > 0 {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "select"));
        let open = if app.approvals.selected_follow_up().is_some() { "drill-down" } else { "deployment" };
        out.push((k(Action::Open), open));
    }
    if app.tab == Tab::History && app.history.drill.is_some() && app.history.compare.is_none() {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "scroll"));
        if !app.read_only {
            out.push((k(Action::WriteReview), "write review"));
        }
        out.push((k(Action::Back), "back"));
    } else if app.tab == Tab::History && app.history.compare.is_some() {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "scroll"));
        out.push((k(Action::Back), "back"));
    } else if app.tab == Tab::History {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "select"));
        out.push((k(Action::Open), "drill-down"));
        out.push((k(Action::Compare), "compare"));
        out.push((k(Action::Filter), "filter"));
        out.push((k(Action::Period), "time range"));
    }
    if app.tab == Tab::Metrics && app.metrics.record.is_some() {
        out.push(("Tab".to_owned(), "owner/due"));
        out.push(("Enter".to_owned(), "record"));
        out.push(("Esc".to_owned(), "cancel"));
    } else if app.tab == Tab::Metrics {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "select"));
        if app.metrics.show_review {
            if !app.read_only {
                out.push((k(Action::RecordAction), "record action"));
            }
            out.push((k(Action::ModelReview), "top failing"));
        } else {
            out.push((k(Action::Open), "in History"));
            out.push((k(Action::ModelReview), "model review"));
        }
        out.push((k(Action::MetricsPeriod), "period"));
        out.push((k(Action::MetricsScope), "scope"));
    }
    if app.tab == Tab::Schedule {
        out.push((format!("{} {}", k(Action::Left), k(Action::Right)), "move"));
        out.push((format!("{} {}", k(Action::ZoomIn), k(Action::ZoomOut)), "zoom"));
        out.push((k(Action::Today), "now"));
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "select"));
        out.push((k(Action::Open), "deployment"));
    }
    if app.tab == Tab::Notifications && !app.approvals.notifications.is_empty() {
        out.push((k(Action::Open), if app.approvals.note_open { "close" } else { "open" }));
    }
    if on_live && live.target.is_some() {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "scroll"));
        out.push((k(Action::Back), "close"));
    } else if on_live && live.focus == Focus::Hosts {
        let arrows = [Action::Left, Action::Down, Action::Up, Action::Right].map(k).join(" ");
        out.push((arrows, "move"));
        out.push((k(Action::Open), "target"));
        out.push((k(Action::Back), "list"));
    } else if on_live {
        out.push((format!("{} {}", k(Action::Up), k(Action::Down)), "select"));
        out.push((k(Action::Open), "hosts"));
        out.push((k(Action::Filter), "filter"));
    }
    out.push((k(Action::Help), "help"));
    out.push((k(Action::Quit), "quit"));
    if on_live && live.detail.as_ref().is_some_and(|d| d.tail_scroll > 0) {
        out.push((k(Action::Follow), "follow"));
    }
    out.push((k(Action::Pause), if app.paused { "resume" } else { "pause" }));
    out.push((format!("{} 1-6", k(Action::NextView)), "views"));
    if on_live && live.target.is_none() {
        out.push((format!("{} {}", k(Action::PageUp), k(Action::PageDown)), "events"));
        out.push((k(Action::Checklist), "checklist"));
        out.push((k(Action::Replay), "replay"));
        out.push((k(Action::Sort), "sort"));
    }
    out
}

/// A result or refusal too long for the footer line (a review's list of valid cause
/// categories, a rule with the roles it allows): wrapped upwards over the bottom of the body,
/// since the choices or the rule are the point of the message.
fn long_status(app: &App, screen: &super::layout::ScreenLayout, buf: &mut Buffer) {
    let Some((ok, text)) = app.status.as_ref().filter(|_| app.error.is_none() && (app.dialog.is_none() || app.help))
    else {
        return;
    };
    let width = usize::from(screen.footer.width.saturating_sub(2));
    if text.chars().count() <= width || width < 10 {
        return;
    }
    let lines = super::widgets::wrap(&crate::domain::text::sanitize(text), width);
    let rows = u16::try_from(lines.len()).unwrap_or(u16::MAX).min(screen.body.height / 2 + 1);
    if rows == 0 {
        return;
    }
    let top = screen.footer.y.saturating_sub(rows - 1);
    let area = Rect::new(screen.footer.x, top, screen.footer.width, rows);
    ratatui::widgets::Clear.render(area, buf);
    let style = if *ok { app.theme.host(HostState::Succeeded) } else { app.theme.warning };
    for (y, line) in (top..).zip(lines.iter().take(usize::from(rows))) {
        put(buf, area, area.x + 1, y, line, style);
    }
}

fn footer(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if let Some(e) = &app.error {
        put(buf, area, area.x + 1, area.y, &format!("log error: {e}"), t.warning);
        return;
    }
    if app.dialog.is_some() && !app.help {
        put(buf, area, area.x + 1, area.y, strings::gates::CONFIRM_HINT, t.key);
        return;
    }
    if let Some((ok, text)) = &app.status {
        put(buf, area, area.x + 1, area.y, text, if *ok { t.host(HostState::Succeeded) } else { t.warning });
        return;
    }
    if app.live.filtering && app.tab == Tab::Live && !app.help {
        put(buf, area, area.x + 1, area.y, strings::FILTER_HINT, t.dim);
        return;
    }
    if app.history.editing && app.tab == Tab::History && !app.help {
        put(buf, area, area.x + 1, area.y, strings::HISTORY_FILTER_HINT, t.dim);
        return;
    }
    let mut x = area.x + 1;
    if let Some(mode) = app.replay.as_ref().filter(|_| app.tab == Tab::Live && !app.help) {
        let cursor = match (mode.at(), mode.position()) {
            (Some(at), Some((pos, len))) => {
                let at = at.with_timezone(&app.session.config.timezone).format("%H:%M:%S");
                let play = mode.speed.map_or_else(|| "⏸".to_owned(), |s| format!("▶{s}x"));
                format!("{play} {at} {pos}/{len}")
            }
            _ => strings::REPLAY_LOADING.to_owned(),
        };
        x = put(buf, area, x, area.y, &cursor, t.paused) + 2;
    }
    for (keys, what) in hints(app) {
        let width = u16::try_from(keys.chars().count() + what.len() + 1).unwrap_or(u16::MAX);
        if keys.is_empty() || x.saturating_add(width) > area.right() {
            continue;
        }
        x = put(buf, area, x, area.y, &keys, t.key) + 1;
        x = put(buf, area, x, area.y, what, t.dim) + 2;
    }
}
