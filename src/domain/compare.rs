//! Two runs side by side: what `shipdeck compare` prints. Built from each run's report (phases,
//! step durations, error groups) and its failed hosts, so it says exactly what the drill-down
//! of each says.

use super::errors::Failure;
use super::report::Report;
use serde::Serialize;
use std::collections::BTreeSet;

/// One run's headline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub key: String,
    pub release: String,
    pub environment: String,
    pub model: String,
    pub status: String,
    pub targets: usize,
    pub failed: usize,
}

/// One phase in both runs (`None`: the run has no such phase).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    pub phase: String,
    pub first: Option<PhaseSide>,
    pub second: Option<PhaseSide>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseSide {
    pub status: String,
    pub targets: usize,
    pub failed: usize,
    /// Started -> finished, when both are known.
    pub duration_s: Option<i64>,
}

/// One step of one phase in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub phase: String,
    pub step: String,
    pub first: Option<StepSide>,
    pub second: Option<StepSide>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSide {
    pub hosts: usize,
    pub p50_s: f64,
    pub p95_s: f64,
    /// Hosts whose failure was in this step.
    pub failed: usize,
}

/// An error group of the second run that the first did not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewGroup {
    pub pattern: String,
    pub count: usize,
    pub steps: Vec<String>,
}

/// Where the runs first went different ways, in phase order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub phase: String,
    /// What differed, in words.
    pub what: String,
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub first: Side,
    pub second: Side,
    pub same_service: bool,
    pub same_environment: bool,
    pub phases: Vec<PhaseRow>,
    pub steps: Vec<StepRow>,
    /// Hosts that failed in both runs.
    pub failed_in_both: Vec<String>,
    pub new_error_groups: Vec<NewGroup>,
    pub divergence: Option<Divergence>,
}

fn side(r: &Report) -> Side {
    let d = &r.deployment;
    Side {
        key: d.key.to_string(),
        release: format!("{}@{}", d.release, d.version),
        environment: d.environment.clone(),
        model: d.model.clone(),
        status: d.status.to_string(),
        targets: d.targets,
        failed: d.failed,
    }
}

fn phase_side(r: &Report, name: &str) -> Option<PhaseSide> {
    r.phases.iter().find(|p| p.name == name).map(|p| PhaseSide {
        status: p.status.to_string(),
        targets: p.targets,
        failed: p.failed,
        duration_s: p.started_at.zip(p.finished_at).map(|(s, f)| (f - s).num_seconds()),
    })
}

fn step_side(r: &Report, failures: &[Failed], phase: &str, step: &str) -> Option<StepSide> {
    let failed = failures.iter().filter(|(p, f)| f.step == step && p == phase).count();
    let stat = r.step_durations.iter().find(|s| s.phase == phase && s.step == step);
    match stat {
        Some(s) => Some(StepSide { hosts: s.hosts, p50_s: s.p50_s, p95_s: s.p95_s, failed }),
        None if failed > 0 => Some(StepSide { hosts: 0, p50_s: 0.0, p95_s: 0.0, failed }),
        None => None,
    }
}

/// A failed host with the phase it belongs to.
pub type Failed = (String, Failure);

/// Compares run `a` (first) with run `b` (second), each with its failed hosts.
#[must_use]
pub fn compare(a: &Report, a_failures: &[Failed], b: &Report, b_failures: &[Failed]) -> Comparison {
    let mut phase_names: Vec<String> = a.phases.iter().map(|p| p.name.clone()).collect();
    for p in &b.phases {
        if !phase_names.contains(&p.name) {
            phase_names.push(p.name.clone());
        }
    }
    let phases: Vec<PhaseRow> = phase_names
        .iter()
        .map(|n| PhaseRow { phase: n.clone(), first: phase_side(a, n), second: phase_side(b, n) })
        .collect();
    // Steps in phase order, then in the order either report lists them.
    let mut keys: Vec<(String, String)> = Vec::new();
    for n in &phase_names {
        let listed = a.step_durations.iter().chain(&b.step_durations).filter(|s| &s.phase == n);
        for s in listed {
            if !keys.iter().any(|(p, st)| p == n && st == &s.step) {
                keys.push((n.clone(), s.step.clone()));
            }
        }
    }
    for (p, f) in a_failures.iter().chain(b_failures) {
        if !keys.iter().any(|(kp, st)| kp == p && st == &f.step) {
            keys.push((p.clone(), f.step.clone()));
        }
    }
    let steps = keys
        .into_iter()
        .map(|(phase, step)| StepRow {
            first: step_side(a, a_failures, &phase, &step),
            second: step_side(b, b_failures, &phase, &step),
            phase,
            step,
        })
        .collect();
    let failed_a: BTreeSet<&str> = a_failures.iter().map(|(_, f)| f.target.as_str()).collect();
    let failed_in_both: Vec<String> = b_failures
        .iter()
        .map(|(_, f)| f.target.as_str())
        .filter(|t| failed_a.contains(t))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let new_error_groups = b
        .error_groups
        .iter()
        .filter(|g| !a.error_groups.iter().any(|o| o.pattern == g.pattern))
        .map(|g| NewGroup { pattern: g.pattern.clone(), count: g.count, steps: g.steps.clone() })
        .collect();
    let divergence = phases.iter().find_map(|row| divergence(row, b_failures, a_failures));
    Comparison {
        same_service: a.deployment.release == b.deployment.release,
        same_environment: a.deployment.environment == b.deployment.environment,
        first: side(a),
        second: side(b),
        phases,
        steps,
        failed_in_both,
        new_error_groups,
        divergence,
    }
}

/// How one phase differs between the runs, if it does: it ran in one only, ended otherwise,
/// or lost a different number of hosts (with the earliest failure the other run did not have).
fn divergence(row: &PhaseRow, b_failures: &[Failed], a_failures: &[Failed]) -> Option<Divergence> {
    let at = |phase: &str, what: String| Some(Divergence { phase: phase.to_owned(), what });
    match (&row.first, &row.second) {
        (Some(_), None) => at(&row.phase, "only the first run has this phase".into()),
        (None, Some(_)) => at(&row.phase, "only the second run has this phase".into()),
        (Some(x), Some(y)) if x.status != y.status || x.failed != y.failed => {
            let mut what =
                format!("{} with {} failed host(s), then {} with {}", x.status, x.failed, y.status, y.failed);
            let first_new = |mine: &[Failed], theirs: &[Failed]| {
                mine.iter()
                    .filter(|(p, _)| *p == row.phase)
                    .map(|(_, f)| f)
                    .filter(|f| !theirs.iter().any(|(_, o)| o.target == f.target && o.step == f.step))
                    .min_by_key(|f| f.at)
                    .map(|f| format!("{} failed at {} ({})", f.target, f.step, f.message.lines().next().unwrap_or("")))
            };
            let new = if y.failed >= x.failed {
                first_new(b_failures, a_failures)
            } else {
                first_new(a_failures, b_failures)
            };
            if let Some(n) = new {
                what.push_str(&format!("; first: {n}"));
            }
            at(&row.phase, what)
        }
        _ => None,
    }
}

/// The comparison as lines of text: what `shipdeck compare` prints and History's compare shows.
#[must_use]
pub fn lines(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for (label, s) in [("first ", &c.first), ("second", &c.second)] {
        out.push(format!(
            "{label} {:<9} {} -> {} · {} · {} · {}/{} hosts failed",
            s.key, s.release, s.environment, s.model, s.status, s.failed, s.targets
        ));
    }
    out.push(String::new());
    out.push(match &c.divergence {
        Some(d) => format!("first divergence: phase {}: {}", d.phase, d.what),
        None => "no divergence: every phase ended the same way".to_owned(),
    });
    out.push(String::new());
    out.push(format!("{:<14} {:>30}   {:>30}", "PHASE", c.first.key, c.second.key));
    let dur = |s: Option<i64>| {
        s.map_or_else(|| "-".to_owned(), |s| super::duration::format_coarse(chrono::TimeDelta::seconds(s)))
    };
    let phase = |s: &Option<PhaseSide>| {
        s.as_ref().map_or_else(
            || "-".to_owned(),
            |s| format!("{} {}/{} failed, {}", s.status, s.failed, s.targets, dur(s.duration_s)),
        )
    };
    for p in &c.phases {
        out.push(format!("{:<14} {:>30}   {:>30}", p.phase, phase(&p.first), phase(&p.second)));
    }
    out.push(String::new());
    out.push(format!("{:<14} {:<10} {:>26}   {:>26}", "PHASE", "STEP", "p50 / p95 (failed)", "p50 / p95 (failed)"));
    let step = |s: &Option<StepSide>| {
        s.as_ref().map_or_else(|| "-".to_owned(), |s| format!("{:.0}s / {:.0}s ({})", s.p50_s, s.p95_s, s.failed))
    };
    for s in &c.steps {
        out.push(format!("{:<14} {:<10} {:>26}   {:>26}", s.phase, s.step, step(&s.first), step(&s.second)));
    }
    out.push(String::new());
    out.push(if c.failed_in_both.is_empty() {
        "no host failed in both".to_owned()
    } else {
        format!("failed in both ({}): {}", c.failed_in_both.len(), c.failed_in_both.join(", "))
    });
    if c.new_error_groups.is_empty() {
        out.push(format!("no error group new in {}", c.second.key));
    } else {
        out.push(format!("error groups new in {}:", c.second.key));
        for g in &c.new_error_groups {
            out.push(format!("  {:>4} {} ({})", g.count, g.pattern, g.steps.join(", ")));
        }
    }
    out
}
