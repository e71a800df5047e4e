//! The canary's analysis in the phase pipeline: on the gate the analysis decides, its verdict,
//! the time held against the time needed, and a sparkline of the canary's compared metric (one
//! block per complete interval, the newest on the right).
//!
//! Drawn by [`mark`] where the pipeline would put its plain `◆gate` marker, so the pipeline
//! widget stays one shape for every technique.

use super::put;
use crate::domain::analysis::{RuleResult, Verdict};
use crate::store::AnalysisState;
use crate::tui::theme::{HostState, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// `▁▂▃…█` for `values` scaled between their minimum and maximum; a gap (no canary data in
/// that interval) is a space. At most `width` of the newest values.
#[must_use]
pub fn sparkline(values: &[Option<f64>], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown = &values[values.len().saturating_sub(width)..];
    let finite = || shown.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = (finite().fold(f64::INFINITY, f64::min), finite().fold(f64::NEG_INFINITY, f64::max));
    shown
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) if !v.is_finite() => '█',
            Some(_) if hi <= lo => BLOCKS[3],
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(v) => BLOCKS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

/// The rule shown: the first that fails, else the first missing, else the first.
fn shown_rule(a: &AnalysisState) -> Option<&RuleResult> {
    let rules = &a.analysis.as_ref()?.rules;
    rules
        .iter()
        .find(|r| r.verdict == Verdict::Fail)
        .or_else(|| rules.iter().find(|r| r.verdict == Verdict::MissingMetric))
        .or(rules.first())
}

fn verdict_style(t: &Theme, v: Verdict) -> Style {
    match v {
        Verdict::Pass => t.host(HostState::Succeeded),
        Verdict::Fail => t.host(HostState::Failed),
        Verdict::MissingMetric => t.warning,
        Verdict::Inconclusive => t.host(HostState::Running),
    }
}

/// Draws the analysis on the pipeline cell of the gate it decides, from `x` on line `y`:
/// `◆ pass ▂▃▂▂▃ 10m/10m error_rate`, or `◆ analysis waits for canary` before it starts.
pub fn mark(buf: &mut Buffer, cell: Rect, x: u16, y: u16, a: &AnalysisState, t: &Theme) {
    let x = put(buf, cell, x, y, "◆ ", t.warning);
    let Some(analysis) = &a.analysis else {
        put(buf, cell, x, y, &format!("analysis waits for {}", a.canary_phase), t.dim);
        return;
    };
    let verdict = analysis.verdict;
    let mut x = put(buf, cell, x, y, verdict.as_str(), verdict_style(t, verdict));
    if a.halted_at.is_some() {
        x = put(buf, cell, x, y, " halted", t.host(HostState::Failed));
    }
    let Some(rule) = shown_rule(a) else { return };
    // The sparkline first: on a narrow screen the trend says more than the words.
    let room = usize::from(cell.right().saturating_sub(x + 1)).min(12);
    let series = rule.canary_series();
    if room > 0 && !series.is_empty() {
        let line = sparkline(&series, room);
        x = put(buf, cell, x + 1, y, &line, verdict_style(t, rule.verdict));
    }
    if verdict == Verdict::Inconclusive || verdict == Verdict::Pass {
        let held = format!(
            " {}/{}",
            crate::domain::duration::format(rule.held.min(rule.needed)),
            crate::domain::duration::format(rule.needed)
        );
        x = put(buf, cell, x, y, &held, t.dim);
    }
    put(buf, cell, x + 1, y, &rule.rule.metric, t.dim);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhaseStatus;
    use crate::domain::analysis::{AnalysisRule, Comparison, Sample, analyse};
    use crate::domain::gate::GateState;
    use crate::domain::records::PhaseView;
    use chrono::{DateTime, TimeDelta, Utc};
    use ratatui::widgets::Widget;

    fn phase(index: usize, name: &str, status: PhaseStatus, targets: usize, succeeded: usize) -> PhaseView {
        PhaseView {
            index,
            name: name.into(),
            status,
            targets,
            succeeded,
            failed: 0,
            running: 0,
            pending: targets - succeeded,
            failure_budget: 0,
            budget_left: 0,
            gate: None,
            started_at: None,
            finished_at: None,
        }
    }

    /// A canary analysed for six minutes: its error rate creeps up against a flat baseline, and
    /// breaches in the sixth when `breach`.
    fn state(breach: bool) -> AnalysisState {
        let t0 = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").expect("t").with_timezone(&Utc);
        let rule = AnalysisRule {
            metric: "error_rate".into(),
            compare: Comparison::Difference,
            max: 0.5,
            hold: TimeDelta::minutes(10),
            interval: TimeDelta::minutes(1),
            failure_limit: 0,
        };
        let mut samples = Vec::new();
        for m in 0..6_i32 {
            let at_ms = (t0 + TimeDelta::minutes(m.into()) + TimeDelta::seconds(30)).timestamp_millis();
            let v = if breach && m == 5 { 1.5 } else { 0.2 + 0.05 * f64::from(m) };
            samples.push(Sample { at_ms, canary: true, metric: 0, value: v });
            samples.push(Sample { at_ms, canary: false, metric: 0, value: 0.2 });
        }
        let analysis = analyse(std::slice::from_ref(&rule), t0, t0 + TimeDelta::minutes(6), &samples);
        AnalysisState {
            gate_phase: "fleet".into(),
            canary_phase: "canary".into(),
            rules: vec![rule],
            analysis: Some(analysis),
            gate: GateState::Pending,
            approved_by: Vec::new(),
            halted_at: breach.then_some(t0),
        }
    }

    fn render(a: &AnalysisState, canary: PhaseStatus, width: u16) -> String {
        let phases = [phase(0, "canary", canary, 1, 1), phase(1, "fleet", PhaseStatus::Pending, 23, 0)];
        let theme = Theme::colour();
        let area = Rect::new(0, 0, width, 2);
        let mut buf = Buffer::empty(area);
        crate::tui::widgets::pipeline::Pipeline { phases: &phases, theme: &theme, analysis: Some(a) }
            .render(area, &mut buf);
        (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_canary_pipeline_shows_the_verdict_time_held_and_the_compared_metric() {
        insta::assert_snapshot!(
            "canary_pipeline_inconclusive_100x2",
            render(&state(false), PhaseStatus::Succeeded, 100)
        );
        insta::assert_snapshot!("canary_pipeline_halted_100x2", render(&state(true), PhaseStatus::Failed, 100));
        insta::assert_snapshot!("canary_pipeline_inconclusive_60x2", render(&state(false), PhaseStatus::Succeeded, 60));
    }

    #[test]
    fn the_sparkline_scales_between_the_extremes_and_leaves_gaps_for_missing_intervals() {
        assert_eq!(sparkline(&[Some(0.0), Some(1.0), None, Some(0.5), Some(2.0)], 10), "▁▅ ▃█");
        assert_eq!(sparkline(&[Some(3.0), Some(3.0)], 10), "▄▄", "a flat line sits in the middle");
        assert_eq!(sparkline(&[Some(0.0), Some(1.0), Some(2.0)], 2), "▁█", "the newest values that fit");
        assert_eq!(sparkline(&[], 5), "");
    }
}
