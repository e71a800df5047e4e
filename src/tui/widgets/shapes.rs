//! The pipeline in the shape of its technique, where a row of equal phases would say less.
//!
//! `rolling`: the batches as one growing row: a symbol per batch (`✓✓●··`), the batch running
//! or waiting, and one bar over every target of the fleet. `parallel` (blue/green): the old set
//! and the new set side by side with the switch between them: which set takes the traffic,
//! the switch gate, until when the old set is kept (or that it was released).

use super::gauge::{Part, bar};
use super::put;
use crate::domain::PhaseStatus;
use crate::domain::parallel::{SwitchState, Switchover};
use crate::domain::records::PhaseView;
use crate::tui::theme::{HostState, Theme, phase_host_state};
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

/// Rolling batches as one row that grows as batches finish.
pub struct RollingPipeline<'a> {
    pub phases: &'a [PhaseView],
    pub theme: &'a Theme,
}

impl Widget for RollingPipeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if self.phases.is_empty() || area.width == 0 || area.height == 0 {
            return;
        }
        let t = self.theme;
        let mut x = put(buf, area, area.x, area.y, "batches ", t.title);
        let mut sym = [0u8; 4];
        for p in self.phases {
            let state = phase_host_state(p.status);
            x = put(buf, area, x, area.y, state.symbol().encode_utf8(&mut sym), t.host(state));
        }
        let done = self.phases.iter().filter(|p| p.status == PhaseStatus::Succeeded).count();
        x = put(buf, area, x + 1, area.y, &format!("{done}/{} batches", self.phases.len()), t.text);
        // The batch that matters now: the failed one, else the first not done.
        let current = self
            .phases
            .iter()
            .find(|p| p.status == PhaseStatus::Failed)
            .or_else(|| self.phases.iter().find(|p| p.status != PhaseStatus::Succeeded));
        if let Some(p) = current {
            let (what, style) = match p.status {
                PhaseStatus::Failed => ("failed, waits for a decision", t.host(HostState::Failed)),
                PhaseStatus::Running => ("running", t.host(HostState::Running)),
                _ if p.gate.is_some() => ("◆gate", t.warning),
                _ => ("next", t.dim),
            };
            x = put(buf, area, x, area.y, " · ", t.dim);
            x = put(buf, area, x, area.y, &p.name, t.title);
            put(buf, area, x + 1, area.y, what, style);
        }
        if area.height < 2 {
            return;
        }
        let y = area.y + 1;
        let sum = |f: fn(&PhaseView) -> usize| self.phases.iter().map(f).sum::<usize>();
        let (total, succeeded, failed, running) =
            (sum(|p| p.targets), sum(|p| p.succeeded), sum(|p| p.failed), sum(|p| p.running));
        let counts = format!(" {}/{total} hosts", succeeded + failed);
        let budget = current.map_or(String::new(), |p| format!(" ✗{}/{} in {}", p.failed, p.failure_budget, p.name));
        let text = u16::try_from(counts.chars().count() + budget.chars().count()).unwrap_or(u16::MAX);
        let width = area.width.saturating_sub(text).min(40);
        let parts = [
            Part { count: succeeded, symbol: '█', style: t.gauge_done },
            Part { count: failed, symbol: '▓', style: t.gauge_failed },
            Part { count: running, symbol: '▒', style: t.host(HostState::Running) },
        ];
        bar(buf, Rect::new(area.x, y, width, 1), total, &parts, Part { count: 0, symbol: '░', style: t.gauge_empty });
        let x = put(buf, area, area.x + width, y, &counts, t.text);
        let over = current.is_some_and(|p| p.failed > p.failure_budget);
        put(buf, area, x, y, &budget, if over { t.host(HostState::Failed) } else { t.dim });
    }
}

/// Blue/green: the old set, the switch and the new set.
pub struct ParallelPipeline<'a> {
    pub phases: &'a [PhaseView],
    pub switch: &'a Switchover,
    pub now: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub theme: &'a Theme,
}

impl Widget for ParallelPipeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let (t, sw) = (self.theme, self.switch);
        let new = self.phases.iter().find(|p| p.name == sw.new_phase);
        let gate = self.phases.iter().find(|p| p.name == sw.phase);
        let third = area.width / 3;
        let old_area = Rect::new(area.x, area.y, third, area.height);
        let mid_area = Rect::new(area.x + third, area.y, third, area.height);
        let new_area = Rect::new(area.x + 2 * third, area.y, area.width - 2 * third, area.height);
        let state = sw.state(self.now);
        let live = sw.live();
        let hhmm = |at: Option<DateTime<Utc>>| {
            at.map_or_else(String::new, |a| a.with_timezone(&self.tz).format("%H:%M").to_string())
        };
        let traffic = "◀ traffic";

        // The old set.
        let mut x = put(buf, old_area, old_area.x, area.y, "old ", t.dim);
        x = put(buf, old_area, x, area.y, &format!("{} host(s) ", sw.old_targets.len()), t.title);
        if live == crate::domain::parallel::Side::Old {
            put(buf, old_area, x, area.y, traffic, t.host(HostState::Succeeded));
        }
        // The switch.
        let (sym, text, style) = match state {
            SwitchState::Before if gate.is_some_and(|g| g.status == PhaseStatus::Pending) => {
                let ready = new.is_some_and(|p| p.status == PhaseStatus::Succeeded);
                (
                    "⇄",
                    if ready { "switch ◆gate".to_owned() } else { "switch".to_owned() },
                    if ready { t.warning } else { t.dim },
                )
            }
            SwitchState::Before => ("⇄", "switch".to_owned(), t.dim),
            SwitchState::Switched | SwitchState::Released => {
                ("⇄", format!("switched {}", hhmm(sw.switched_at)), t.host(HostState::Succeeded))
            }
            SwitchState::SwitchedBack => {
                ("↺", format!("switched back {}", hhmm(sw.switched_back_at)), t.host(HostState::Failed))
            }
        };
        let x = put(buf, mid_area, mid_area.x, area.y, sym, style);
        put(buf, mid_area, x + 1, area.y, &text, style);
        // The new set.
        let mut x = put(buf, new_area, new_area.x, area.y, "new ", t.dim);
        x = put(buf, new_area, x, area.y, &format!("{} {} host(s) ", sw.new_phase, sw.new_targets), t.title);
        if live == crate::domain::parallel::Side::New {
            put(buf, new_area, x, area.y, traffic, t.host(HostState::Succeeded));
        }
        if area.height < 2 {
            return;
        }
        let y = area.y + 1;
        let (old_text, old_style) = match state {
            SwitchState::Before => ("old release, serving".to_owned(), t.dim),
            SwitchState::Switched => (format!("kept until {}", hhmm(sw.old_kept_until())), t.warning),
            SwitchState::Released => (format!("released {}", hhmm(sw.switched_at.map(|a| a + sw.keep_old))), t.dim),
            SwitchState::SwitchedBack => ("old release, serving again".to_owned(), t.host(HostState::Succeeded)),
        };
        put(buf, old_area, old_area.x, y, &old_text, old_style);
        if let Some(g) = gate.and_then(|g| g.gate.as_ref()).filter(|_| state == SwitchState::Before) {
            let bake = if g.bake.is_zero() {
                String::new()
            } else {
                format!(", both run {}", crate::domain::duration::format(g.bake))
            };
            put(buf, mid_area, mid_area.x + 2, y, &format!("{} approval(s){bake}", g.approvals), t.dim);
        }
        if let Some(p) = new {
            let counts = format!(" {}/{} ✗{}/{}", p.succeeded + p.failed, p.targets, p.failed, p.failure_budget);
            let text = u16::try_from(counts.chars().count()).unwrap_or(u16::MAX);
            let width = new_area.width.saturating_sub(text).min(20);
            let parts = [
                Part { count: p.succeeded, symbol: '█', style: t.gauge_done },
                Part { count: p.failed, symbol: '▓', style: t.gauge_failed },
                Part { count: p.running, symbol: '▒', style: t.host(HostState::Running) },
            ];
            bar(
                buf,
                Rect::new(new_area.x, y, width, 1),
                p.targets,
                &parts,
                Part { count: 0, symbol: '░', style: t.gauge_empty },
            );
            let over = p.failed > p.failure_budget;
            put(buf, new_area, new_area.x + width, y, &counts, if over { t.host(HostState::Failed) } else { t.text });
        }
    }
}
