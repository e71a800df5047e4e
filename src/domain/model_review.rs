//! Model review: how each deployment model did over a period, and rule-based suggestions to
//! improve it (ITIL deployment model planning and improvement).
//!
//! The store reads one [`ModelRun`] per finished deployment (its KPI facts, its phases, the hosts
//! that failed and whether agents worked outside the change windows); [`review`] folds them into
//! one [`ModelReview`] per model and the [`Suggestion`]s the rules below find. `shipdeck models
//! review`, the Metrics view and the benchmark all call [`review`], so a suggestion and its
//! numbers are the same wherever they are read. The thresholds are the named constants below,
//! stated in the README's "Model review" section.

use super::DeploymentStatus;
use super::duration::format_coarse;
use super::kpi::{KpiDeployment, Spread, percentile};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// A model needs this many runs in the period before any rule speaks about it.
pub const MIN_RUNS: usize = 5;
/// Quiet gate: the gated phase has not failed in this many of the model's latest runs that
/// passed the gate...
pub const QUIET_GATE_RUNS: usize = 10;
/// ...while the gate's approval wait (median of the part people took: after the bake, the
/// windows, freezes and planned start allowed it, until it was approved) is at least this share
/// of the median lead time of those runs.
pub const QUIET_GATE_WAIT_SHARE: f64 = 0.3;
/// Failing step: one step caused at least this share of the model's failed hosts...
pub const FAILING_STEP_SHARE: f64 = 0.5;
/// ...out of at least this many failed hosts.
pub const FAILING_STEP_MIN_HOSTS: usize = 5;
/// Phase size: the correlation between a phase's size (hosts) and whether it failed is at least
/// this (Pearson, over every phase run of the model)...
pub const PHASE_SIZE_CORRELATION: f64 = 0.3;
/// ...over at least this many phase runs, of which at least [`PHASE_SIZE_MIN_FAILED`] failed.
pub const PHASE_SIZE_MIN_PHASE_RUNS: usize = 20;
pub const PHASE_SIZE_MIN_FAILED: usize = 3;
/// Outside windows: at least this share of the model's runs had agent activity outside the
/// change windows (the log's `outside_window` conformance flag).
pub const OUTSIDE_WINDOW_SHARE: f64 = 0.2;
/// Steps and error groups listed per model.
pub const TOP: usize = 5;

/// One phase of a finished deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPhase {
    pub name: String,
    /// Its hosts.
    pub targets: u64,
    pub failed: bool,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Its gate's bake time (zero without one); `None`: the phase has no gate.
    pub gate_bake: Option<TimeDelta>,
}

/// A host that failed for good.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFailure {
    /// Index into the run's phases.
    pub phase: usize,
    pub step: String,
    /// The shape of its error ([`super::errors::shape`]).
    pub group: String,
    /// When it reported the failure.
    pub at: Option<DateTime<Utc>>,
}

/// One finished deployment as the model review sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRun {
    pub deployment: KpiDeployment,
    /// In phase order.
    pub phases: Vec<RunPhase>,
    pub failures: Vec<HostFailure>,
    /// Whether agents worked outside the change windows during it.
    pub outside_window: bool,
}

/// A name and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    pub name: String,
    pub count: usize,
}

/// One phase of a model over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseStats {
    pub name: String,
    /// Runs in which the phase started.
    pub runs: usize,
    /// Runs in which it failed.
    pub failed_runs: usize,
    pub failed_hosts: usize,
    /// Started -> finished, median over the runs where it finished.
    pub median_duration_s: Option<i64>,
    pub median_targets: Option<u64>,
}

/// One gate of a model over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateStats {
    /// The phase the gate stands before.
    pub phase: String,
    /// Its bake time (the longest seen, should the model have changed).
    pub bake_s: i64,
    /// Gate opened -> approved, over the approved ones (the KPIs' approval wait per gate).
    pub approval_wait: Spread,
    /// The part of that wait when every time rule (bake, windows, freezes, planned start) held
    /// and only approvals were missing: the time people took.
    pub people_wait: Spread,
    /// Failed hosts of the phases before the gate: what it held back.
    pub failures_before_gate: usize,
    /// Hosts that failed while the gate's bake ran (after the phase before finished).
    pub failures_during_bake: usize,
    /// Hosts that failed after the bake, at or past the gate: what the bake did not catch.
    pub failures_after_bake: usize,
}

/// How one model did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReview {
    pub model: String,
    pub runs: usize,
    pub succeeded: usize,
    pub success_rate: Option<f64>,
    /// Planned -> finished.
    pub lead_time: Spread,
    /// Runs with agent activity outside the change windows.
    pub outside_window_runs: usize,
    pub phases: Vec<PhaseStats>,
    pub gates: Vec<GateStats>,
    /// Failed hosts per step, largest first (at most [`TOP`]).
    pub failing_steps: Vec<Counted>,
    /// Failed hosts per error shape, largest first (at most [`TOP`]).
    pub error_groups: Vec<Counted>,
}

/// Which rule found a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    QuietGate,
    FailingStep,
    PhaseSize,
    OutsideWindows,
}

impl Rule {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QuietGate => "quiet_gate",
            Self::FailingStep => "failing_step",
            Self::PhaseSize => "phase_size",
            Self::OutsideWindows => "outside_windows",
        }
    }
}

/// Something worth changing in a model, with the numbers that triggered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Its number in this review (1-based): what `--record N` names.
    pub n: usize,
    pub model: String,
    pub rule: Rule,
    /// The gate's phase, the step, or the model itself.
    pub subject: String,
    /// What to do, in one line: the text of the improvement action it becomes.
    pub text: String,
    /// Why, in words, with the numbers.
    pub why: String,
    /// The numbers that triggered it, by name.
    pub numbers: BTreeMap<&'static str, f64>,
}

// The numbers are finite by construction (a correlation that cannot be computed is no number at
// all), so equality is an equivalence: commands that carry a suggestion can be compared.
impl Eq for Suggestion {}

/// Every model's review and the suggestions, numbered.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Review {
    pub models: Vec<ModelReview>,
    pub suggestions: Vec<Suggestion>,
}

/// Reviews `runs` (finished deployments of a period, oldest first), model by model.
#[must_use]
pub fn review(runs: &[ModelRun]) -> Review {
    let mut by_model: BTreeMap<&str, Vec<&ModelRun>> = BTreeMap::new();
    for r in runs {
        by_model.entry(&r.deployment.model).or_default().push(r);
    }
    let mut out = Review::default();
    for (model, runs) in by_model {
        let stats = model_stats(model, &runs);
        out.suggestions.extend(suggest(&stats, &runs));
        out.models.push(stats);
    }
    for (i, s) in out.suggestions.iter_mut().enumerate() {
        s.n = i + 1;
    }
    out
}

fn model_stats(model: &str, runs: &[&ModelRun]) -> ModelReview {
    let n = runs.len();
    let succeeded = runs.iter().filter(|r| r.deployment.status == DeploymentStatus::Succeeded).count();
    // Phases in the order the model has them (first seen), gates with them.
    let mut order: Vec<String> = Vec::new();
    let mut durations: BTreeMap<&str, Vec<TimeDelta>> = BTreeMap::new();
    let mut sizes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut phase_runs: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut gates: BTreeMap<&str, GateStats> = BTreeMap::new();
    let mut waits: BTreeMap<&str, (Vec<TimeDelta>, Vec<TimeDelta>)> = BTreeMap::new();
    let mut steps: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for r in runs {
        for (i, p) in r.phases.iter().enumerate() {
            if !order.contains(&p.name) {
                order.push(p.name.clone());
            }
            let e = phase_runs.entry(&p.name).or_default();
            if p.started.is_some() {
                e.0 += 1;
                sizes.entry(&p.name).or_default().push(p.targets);
            }
            e.1 += usize::from(p.failed);
            e.2 += r.failures.iter().filter(|f| f.phase == i).count();
            if let (Some(s), Some(f)) = (p.started, p.finished) {
                durations.entry(&p.name).or_default().push(f - s);
            }
            let Some(bake) = p.gate_bake else { continue };
            let g = gates.entry(&p.name).or_insert_with(|| GateStats {
                phase: p.name.clone(),
                bake_s: 0,
                approval_wait: Spread::default(),
                people_wait: Spread::default(),
                failures_before_gate: 0,
                failures_during_bake: 0,
                failures_after_bake: 0,
            });
            g.bake_s = g.bake_s.max(bake.num_seconds());
            let (before, during, after) = bake_split(r, i, bake);
            g.failures_before_gate += before;
            g.failures_during_bake += during;
            g.failures_after_bake += after;
        }
        for w in &r.deployment.gates {
            let e = waits.entry(&w.phase).or_default();
            e.0.push(w.total);
            e.1.push(w.approval);
        }
        for f in &r.failures {
            *steps.entry(&f.step).or_default() += 1;
            *groups.entry(&f.group).or_default() += 1;
        }
    }
    for (phase, (total, people)) in waits {
        if let Some(g) = gates.get_mut(phase) {
            g.approval_wait = Spread::of(total);
            g.people_wait = Spread::of(people);
        }
    }
    let phases = order
        .iter()
        .map(|name| {
            let (runs, failed_runs, failed_hosts) = phase_runs.get(name.as_str()).copied().unwrap_or_default();
            let mut sizes = sizes.remove(name.as_str()).unwrap_or_default();
            sizes.sort_unstable();
            PhaseStats {
                name: name.clone(),
                runs,
                failed_runs,
                failed_hosts,
                median_duration_s: Spread::of(durations.remove(name.as_str()).unwrap_or_default()).median_s,
                median_targets: percentile(&sizes, 50),
            }
        })
        .collect();
    let gates = order.iter().filter_map(|name| gates.remove(name.as_str())).collect();
    ModelReview {
        model: model.to_owned(),
        runs: n,
        succeeded,
        success_rate: (n > 0).then(|| ratio(succeeded, n)),
        lead_time: Spread::of(
            runs.iter().map(|r| (r.deployment.finished - r.deployment.planned).max(TimeDelta::zero())).collect(),
        ),
        outside_window_runs: runs.iter().filter(|r| r.outside_window).count(),
        phases,
        gates,
        failing_steps: ranked(steps),
        error_groups: ranked(groups),
    }
}

/// The failed hosts of `run` before the gate of phase `gate` (in earlier phases, before its
/// bake), during its bake (after the phase before succeeded, until the bake ended) and after it
/// (in the gated phase or later, past the bake). A phase that failed starts no bake.
fn bake_split(run: &ModelRun, gate: usize, bake: TimeDelta) -> (usize, usize, usize) {
    let bake_start = gate.checked_sub(1).and_then(|i| run.phases.get(i)).filter(|p| !p.failed).and_then(|p| p.finished);
    let (mut before, mut during, mut after) = (0, 0, 0);
    for f in &run.failures {
        let in_bake = match (bake_start, f.at) {
            (Some(s), Some(at)) => at >= s && at < s + bake,
            _ => false,
        };
        if in_bake {
            during += 1;
        } else if f.phase < gate {
            before += 1;
        } else {
            after += 1;
        }
    }
    (before, during, after)
}

fn ranked(m: BTreeMap<&str, usize>) -> Vec<Counted> {
    let mut v: Vec<Counted> = m.into_iter().map(|(name, count)| Counted { name: name.to_owned(), count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(TOP);
    v
}

fn ratio(num: usize, den: usize) -> f64 {
    f64::from(u32::try_from(num).unwrap_or(u32::MAX)) / f64::from(u32::try_from(den).unwrap_or(u32::MAX).max(1))
}

#[allow(clippy::cast_precision_loss)] // counts and seconds far below 2^52
fn f(v: impl Into<i64>) -> f64 {
    v.into() as f64
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn secs(s: i64) -> String {
    format_coarse(TimeDelta::seconds(s))
}

/// The suggestions the rules find for one model (numbered later).
fn suggest(stats: &ModelReview, runs: &[&ModelRun]) -> Vec<Suggestion> {
    let mut out = Vec::new();
    if stats.runs < MIN_RUNS {
        return out;
    }
    let model = &stats.model;
    let mut push = |rule: Rule, subject: &str, text: String, why: String, numbers: Vec<(&'static str, f64)>| {
        out.push(Suggestion {
            n: 0,
            model: model.clone(),
            rule,
            subject: subject.to_owned(),
            text,
            why,
            numbers: numbers.into_iter().collect(),
        });
    };
    // A gate whose phase has not failed lately while its approval wait dominates lead time.
    for gate in &stats.gates {
        let passed: Vec<&&ModelRun> =
            runs.iter().filter(|r| r.deployment.gates.iter().any(|g| g.phase == gate.phase)).collect();
        if passed.len() < QUIET_GATE_RUNS {
            continue;
        }
        let last = &passed[passed.len() - QUIET_GATE_RUNS..];
        let failed = last.iter().any(|r| r.phases.iter().any(|p| p.name == gate.phase && p.failed));
        let waits: Vec<TimeDelta> = last
            .iter()
            .flat_map(|r| r.deployment.gates.iter().filter(|g| g.phase == gate.phase).map(|g| g.approval))
            .collect();
        let leads: Vec<TimeDelta> =
            last.iter().map(|r| (r.deployment.finished - r.deployment.planned).max(TimeDelta::zero())).collect();
        let (Some(wait), Some(lead)) = (Spread::of(waits).median_s, Spread::of(leads).median_s) else { continue };
        let share = if lead > 0 { f(wait) / f(lead) } else { 0.0 };
        if failed || share < QUIET_GATE_WAIT_SHARE {
            continue;
        }
        push(
            Rule::QuietGate,
            &gate.phase,
            format!(
                "{model}: relax the gate before {}: fewer approvals, or approve automatically after its bake",
                gate.phase
            ),
            format!(
                "{} has not failed in the last {QUIET_GATE_RUNS} runs through its gate, while the gate's approval wait (p50 {}) is {} of the lead time (p50 {})",
                gate.phase,
                secs(wait),
                pct(share),
                secs(lead)
            ),
            vec![
                ("runs_without_failure", f(i64::try_from(QUIET_GATE_RUNS).unwrap_or(0))),
                ("approval_wait_p50_s", f(wait)),
                ("lead_time_p50_s", f(lead)),
                ("wait_share", share),
            ],
        );
    }
    // A step that causes most failures.
    let failed_hosts: usize = runs.iter().map(|r| r.failures.len()).sum();
    if let Some(top) = stats.failing_steps.first().filter(|_| failed_hosts >= FAILING_STEP_MIN_HOSTS) {
        let share = ratio(top.count, failed_hosts);
        if share >= FAILING_STEP_SHARE {
            push(
                Rule::FailingStep,
                &top.name,
                format!("{model}: harden the {} step: check what it needs before it runs", top.name),
                format!("{} caused {} of {failed_hosts} failed hosts ({})", top.name, top.count, pct(share)),
                vec![
                    ("step_failed_hosts", f(i64::try_from(top.count).unwrap_or(0))),
                    ("failed_hosts", f(i64::try_from(failed_hosts).unwrap_or(0))),
                    ("share", share),
                ],
            );
        }
    }
    // A phase size that correlates with failures.
    let points: Vec<(f64, f64)> = runs
        .iter()
        .flat_map(|r| r.phases.iter().filter(|p| p.started.is_some()))
        .map(|p| (f(i64::try_from(p.targets).unwrap_or(i64::MAX)), if p.failed { 1.0 } else { 0.0 }))
        .collect();
    let failed_phases = points.iter().filter(|p| p.1 > 0.5).count();
    if points.len() >= PHASE_SIZE_MIN_PHASE_RUNS && failed_phases >= PHASE_SIZE_MIN_FAILED {
        if let Some(r) = correlation(&points) {
            if r >= PHASE_SIZE_CORRELATION {
                let mut sizes: Vec<f64> = points.iter().map(|p| p.0).collect();
                sizes.sort_by(f64::total_cmp);
                let median = percentile(&sizes, 50).unwrap_or(0.0);
                let rate = |big: bool| {
                    let v: Vec<&(f64, f64)> = points.iter().filter(|p| (p.0 > median) == big).collect();
                    (!v.is_empty()).then(|| v.iter().map(|p| p.1).sum::<f64>() / f(i64::try_from(v.len()).unwrap_or(1)))
                };
                let (big, small) = (rate(true).unwrap_or(0.0), rate(false).unwrap_or(0.0));
                push(
                    Rule::PhaseSize,
                    model,
                    format!("{model}: make its phases smaller (more waves or smaller batches)"),
                    format!(
                        "phases of more than {median:.0} hosts failed in {} of their runs, smaller ones in {} (correlation of size and failure {r:.2} over {} phase runs)",
                        pct(big),
                        pct(small),
                        points.len()
                    ),
                    vec![
                        ("correlation", r),
                        ("median_size", median),
                        ("large_failure_rate", big),
                        ("small_failure_rate", small),
                        ("phase_runs", f(i64::try_from(points.len()).unwrap_or(0))),
                    ],
                );
            }
        }
    }
    // A model that runs outside the windows often.
    let share = ratio(stats.outside_window_runs, stats.runs);
    if stats.outside_window_runs > 0 && share >= OUTSIDE_WINDOW_SHARE {
        push(
            Rule::OutsideWindows,
            model,
            format!(
                "{model}: plan its deployments inside the change windows (or declare a window that fits how it runs)"
            ),
            format!(
                "{} of {} runs ({}) had agent activity outside the change windows",
                stats.outside_window_runs,
                stats.runs,
                pct(share)
            ),
            vec![
                ("outside_window_runs", f(i64::try_from(stats.outside_window_runs).unwrap_or(0))),
                ("runs", f(i64::try_from(stats.runs).unwrap_or(0))),
                ("share", share),
            ],
        );
    }
    out
}

/// Pearson's correlation of the points; `None` when either side does not vary.
fn correlation(points: &[(f64, f64)]) -> Option<f64> {
    let n = f(i64::try_from(points.len()).ok()?);
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests;
