//! The phase pipeline: `pilot -> wave-1 -> wave-2`, each with its status, progress and the
//! share of its failure budget used.
//!
//! Two lines: names with status symbols and arrows, then for each phase a bar (succeeded,
//! failed, running), `done/total` and `✗ failed/budget`. Phases share the width equally.

use super::gauge::{Part, bar};
use super::put;
use crate::domain::PhaseStatus;
use crate::domain::records::PhaseView;
use crate::tui::theme::{HostState, Theme, phase_host_state};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

pub struct Pipeline<'a> {
    pub phases: &'a [PhaseView],
    pub theme: &'a Theme,
    /// A canary's analysis, drawn on the gate it decides ([`super::canary::mark`]).
    pub analysis: Option<&'a crate::store::AnalysisState>,
}

impl Widget for Pipeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let n = u16::try_from(self.phases.len()).unwrap_or(u16::MAX);
        if n == 0 || area.width == 0 || area.height == 0 {
            return;
        }
        let seg = (area.width / n).max(1);
        let t = self.theme;
        for (i, p) in self.phases.iter().enumerate() {
            let x0 = area.x.saturating_add(seg.saturating_mul(u16::try_from(i).unwrap_or(u16::MAX)));
            if x0 >= area.right() {
                break;
            }
            let cell = Rect::new(x0, area.y, seg.min(area.right() - x0), area.height);
            let state = phase_host_state(p.status);
            let mut sym = [0u8; 4];
            let mut x = x0;
            if i > 0 {
                x = put(buf, cell, x, area.y, "▸ ", t.dim);
            }
            x = put(buf, cell, x, area.y, state.symbol().encode_utf8(&mut sym), t.host(state)) + 1;
            x = put(buf, cell, x, area.y, &p.name, t.title) + 1;
            match self.analysis.filter(|a| a.gate_phase == p.name) {
                Some(a) => super::canary::mark(buf, cell, x, area.y, a, t),
                None if p.gate.is_some() && p.status == PhaseStatus::Pending => {
                    put(buf, cell, x, area.y, "◆gate", t.warning);
                }
                None => {}
            }
            if area.height < 2 {
                continue;
            }
            let y = area.y + 1;
            let done = p.succeeded + p.failed;
            let counts = format!(" {done}/{}", p.targets);
            let budget = format!(" ✗{}/{}", p.failed, p.failure_budget);
            let text_width = u16::try_from(counts.chars().count() + budget.chars().count() + 1).unwrap_or(u16::MAX);
            let start = if i > 0 { x0 + 2 } else { x0 };
            let bar_width = cell.right().saturating_sub(start).saturating_sub(text_width).min(20);
            let parts = [
                Part { count: p.succeeded, symbol: '█', style: t.gauge_done },
                Part { count: p.failed, symbol: '▓', style: t.gauge_failed },
                Part { count: p.running, symbol: '▒', style: t.host(HostState::Running) },
            ];
            let empty = Part { count: 0, symbol: '░', style: t.gauge_empty };
            bar(buf, Rect::new(start, y, bar_width, 1).intersection(cell), p.targets, &parts, empty);
            let x = put(buf, cell, start + bar_width, y, &counts, t.text);
            let over = p.failed > p.failure_budget;
            let style = if over {
                t.host(HostState::Failed)
            } else if p.failed > 0 {
                t.warning
            } else {
                t.dim
            };
            put(buf, cell, x, y, &budget, style);
        }
    }
}
