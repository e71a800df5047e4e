//! The model review on crafted histories: numbers with known answers, and each suggestion rule
//! firing on the history made for it and staying quiet on a healthy one.

use super::*;
use crate::domain::kpi::GateWait;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).single().expect("valid")
}

fn min(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// A phased run `i` (a day apart): pilot (2 hosts), wave-1 (gated, bake 10m, `size` hosts).
/// Each phase takes 20 minutes; the gate waits `wait` minutes after the pilot finishes.
struct Spec {
    size: u64,
    wait: i64,
    failed_phase: Option<usize>,
    failures: Vec<(usize, &'static str, &'static str, i64)>,
    outside: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Self { size: 8, wait: 5, failed_phase: None, failures: Vec::new(), outside: false }
    }
}

fn run(i: i64, s: Spec) -> ModelRun {
    let planned = t0() + TimeDelta::days(i);
    let pilot_start = planned + min(60);
    let pilot_end = pilot_start + min(20);
    let wave_start = pilot_end + min(s.wait);
    let wave_end = wave_start + min(20);
    let failed = |k: usize| s.failed_phase == Some(k);
    let mut phases = vec![RunPhase {
        name: "pilot".into(),
        targets: 2,
        failed: failed(0),
        started: Some(pilot_start),
        finished: Some(pilot_end),
        gate_bake: None,
    }];
    let reached = !failed(0);
    phases.push(RunPhase {
        name: "wave-1".into(),
        targets: s.size,
        failed: failed(1),
        started: reached.then_some(wave_start),
        finished: reached.then_some(wave_end),
        gate_bake: Some(min(10)),
    });
    let finished = if reached { wave_end } else { pilot_end };
    let gates = if reached {
        vec![GateWait {
            phase: "wave-1".into(),
            total: min(s.wait),
            bake: min(s.wait.min(10)),
            window: TimeDelta::zero(),
            approval: min((s.wait - 10).max(0)),
            roles: Vec::new(),
        }]
    } else {
        Vec::new()
    };
    ModelRun {
        deployment: KpiDeployment {
            id: i,
            service: "api".into(),
            environment: "production".into(),
            model: "phased".into(),
            production: true,
            status: if s.failed_phase.is_some() { DeploymentStatus::Failed } else { DeploymentStatus::Succeeded },
            planned,
            started: Some(pilot_start),
            finished,
            hosts_failed: s.failures.len() as u64,
            retried: false,
            gates,
            failed_phase: s.failed_phase.map(|k| ["pilot", "wave-1"][k].to_owned()),
        },
        phases,
        failures: s
            .failures
            .iter()
            .map(|(phase, step, group, at)| HostFailure {
                phase: *phase,
                step: (*step).to_owned(),
                group: (*group).to_owned(),
                at: Some(pilot_start + min(*at)),
            })
            .collect(),
        outside_window: s.outside,
    }
}

fn healthy(n: i64) -> Vec<ModelRun> {
    (0..n).map(|i| run(i, Spec::default())).collect()
}

fn rules(r: &Review) -> Vec<(Rule, &str)> {
    r.suggestions.iter().map(|s| (s.rule, s.subject.as_str())).collect()
}

#[test]
fn a_healthy_history_gets_numbers_and_no_suggestion() {
    let r = review(&healthy(12));
    assert!(r.suggestions.is_empty(), "{:?}", r.suggestions);
    let m = &r.models[0];
    assert_eq!((m.model.as_str(), m.runs, m.succeeded, m.success_rate), ("phased", 12, 12, Some(1.0)));
    assert_eq!(
        m.phases.iter().map(|p| (p.name.as_str(), p.runs, p.failed_runs)).collect::<Vec<_>>(),
        [("pilot", 12, 0), ("wave-1", 12, 0)]
    );
    assert_eq!(m.phases[0].median_duration_s, Some(20 * 60));
    assert_eq!(m.phases[1].median_targets, Some(8));
    // planned -> pilot 60m, 20m, wait 5m, 20m.
    assert_eq!(m.lead_time.median_s, Some(105 * 60));
    let g = &m.gates[0];
    assert_eq!(
        (g.phase.as_str(), g.bake_s, g.approval_wait.median_s, g.approval_wait.count),
        ("wave-1", 600, Some(300), 12)
    );
    assert_eq!(g.people_wait.median_s, Some(0), "the 5 minutes were all bake");
}

#[test]
fn failures_are_placed_before_during_and_after_the_gates_bake() {
    // The pilot ends at 20m, the bake runs 20m..30m, wave-1 starts after the wait (45m here).
    let spec = Spec {
        wait: 25,
        failures: vec![
            (0, "install", "disk full", 10),  // in the pilot: held back by the gate
            (0, "verify", "timeout <n>", 25), // a late pilot failure, while baking
            (1, "install", "disk full", 50),  // in wave-1, after the bake
            (1, "install", "disk full", 55),
        ],
        failed_phase: Some(1),
        ..Spec::default()
    };
    let r = review(&[run(0, spec)]);
    let m = &r.models[0];
    let g = &m.gates[0];
    assert_eq!((g.failures_before_gate, g.failures_during_bake, g.failures_after_bake), (1, 1, 2));
    assert_eq!(
        m.failing_steps,
        [Counted { name: "install".into(), count: 3 }, Counted { name: "verify".into(), count: 1 }]
    );
    assert_eq!(m.error_groups[0], Counted { name: "disk full".into(), count: 3 });
    assert_eq!((m.phases[1].failed_runs, m.phases[1].failed_hosts), (1, 2));
    assert_eq!(m.success_rate, Some(0.0));
    assert!(r.suggestions.is_empty(), "one run is too few for any rule: {:?}", r.suggestions);
}

#[test]
fn a_quiet_gate_whose_wait_dominates_lead_time_is_suggested_with_its_numbers() {
    // Waits of 3h (2h50m of them for people, after the bake) against lead times of 4h40m: the
    // gate is 61% of it, and wave-1 never failed.
    let runs: Vec<ModelRun> = (0..12).map(|i| run(i, Spec { wait: 180, ..Spec::default() })).collect();
    let r = review(&runs);
    assert_eq!(rules(&r), [(Rule::QuietGate, "wave-1")]);
    let s = &r.suggestions[0];
    assert_eq!(s.n, 1);
    assert_eq!(s.numbers["approval_wait_p50_s"], 10_200.0);
    assert_eq!(s.numbers["lead_time_p50_s"], 280.0 * 60.0);
    assert_eq!(s.numbers["runs_without_failure"], 10.0);
    assert!(s.why.contains("last 10 runs") && s.why.contains("p50 2h50m") && s.why.contains("61%"), "{}", s.why);
    assert!(s.text.starts_with("phased: relax the gate before wave-1"), "{}", s.text);

    // One failure of wave-1 among the last ten: the gate earns its wait.
    let mut runs = runs;
    runs[7] = run(7, Spec { wait: 180, failed_phase: Some(1), ..Spec::default() });
    assert!(review(&runs).suggestions.is_empty());
    // A short wait is no bottleneck; nine runs are too few to call a gate quiet.
    let short: Vec<ModelRun> = (0..12).map(|i| run(i, Spec { wait: 20, ..Spec::default() })).collect();
    assert!(review(&short).suggestions.is_empty());
    assert!(
        review(&(0..9).map(|i| run(i, Spec { wait: 180, ..Spec::default() })).collect::<Vec<_>>())
            .suggestions
            .is_empty()
    );
}

#[test]
fn a_step_that_causes_most_failures_is_suggested() {
    let mut runs = healthy(6);
    runs[1] = run(
        1,
        Spec {
            failures: vec![(0, "install", "disk full", 5), (0, "install", "disk full", 6)],
            failed_phase: Some(0),
            ..Spec::default()
        },
    );
    runs[3] = run(
        3,
        Spec {
            failures: vec![(1, "install", "disk full", 50), (1, "verify", "timeout", 51)],
            failed_phase: Some(1),
            ..Spec::default()
        },
    );
    runs[4] = run(4, Spec { failures: vec![(1, "install", "disk full", 52)], ..Spec::default() });
    let r = review(&runs);
    assert_eq!(rules(&r), [(Rule::FailingStep, "install")]);
    let s = &r.suggestions[0];
    assert_eq!((s.numbers["step_failed_hosts"], s.numbers["failed_hosts"], s.numbers["share"]), (4.0, 5.0, 0.8));
    assert!(s.why.contains("install caused 4 of 5 failed hosts (80%)"), "{}", s.why);
    // Spread over steps, or too few hosts: quiet.
    runs[4] =
        run(4, Spec { failures: vec![(1, "verify", "timeout", 52), (1, "verify", "timeout", 53)], ..Spec::default() });
    runs[5] =
        run(5, Spec { failures: vec![(1, "download", "reset", 52), (1, "download", "reset", 53)], ..Spec::default() });
    assert!(review(&runs).suggestions.iter().all(|s| s.rule != Rule::FailingStep), "3 of 7 is no majority");
    let few: Vec<ModelRun> = (0..6)
        .map(|i| {
            if i == 2 {
                run(i, Spec { failures: vec![(0, "install", "x", 1)], ..Spec::default() })
            } else {
                run(i, Spec::default())
            }
        })
        .collect();
    assert!(review(&few).suggestions.is_empty(), "one failed host is too few");
}

#[test]
fn phase_sizes_that_correlate_with_failures_are_suggested() {
    // Small waves (4 hosts) never fail, large ones (40) fail one run in two; above the median
    // size (2, the pilots) a quarter of the phase runs failed.
    let runs: Vec<ModelRun> = (0..16)
        .map(|i| {
            let large = i % 2 == 0;
            let fails = large && i % 4 == 0;
            run(i, Spec { size: if large { 40 } else { 4 }, failed_phase: fails.then_some(1), ..Spec::default() })
        })
        .collect();
    let r = review(&runs);
    assert_eq!(rules(&r), [(Rule::PhaseSize, "phased")]);
    let s = &r.suggestions[0];
    assert!(s.numbers["correlation"] >= PHASE_SIZE_CORRELATION, "{:?}", s.numbers);
    assert_eq!(
        (s.numbers["large_failure_rate"], s.numbers["small_failure_rate"], s.numbers["phase_runs"]),
        (0.25, 0.0, 32.0)
    );
    // The same failures spread over every size: no correlation.
    let even: Vec<ModelRun> = (0..16)
        .map(|i| {
            run(
                i,
                Spec {
                    size: if i % 2 == 0 { 40 } else { 4 },
                    failed_phase: (i % 4 < 2 && i < 8).then_some(1),
                    ..Spec::default()
                },
            )
        })
        .collect();
    assert!(review(&even).suggestions.iter().all(|s| s.rule != Rule::PhaseSize), "{:?}", review(&even).suggestions);
}

#[test]
fn a_model_that_runs_outside_windows_often_is_suggested() {
    let mut runs = healthy(6);
    runs[0].outside_window = true;
    assert!(review(&runs).suggestions.is_empty(), "one in six is below the share");
    runs[4].outside_window = true;
    let r = review(&runs);
    assert_eq!(rules(&r), [(Rule::OutsideWindows, "phased")]);
    assert!(r.suggestions[0].why.starts_with("2 of 6 runs (33%)"), "{}", r.suggestions[0].why);
    assert_eq!(r.models[0].outside_window_runs, 2);
    // Below MIN_RUNS nothing is said, however it looks.
    let mut few = healthy(4);
    for r in &mut few {
        r.outside_window = true;
    }
    assert!(review(&few).suggestions.is_empty());
}

#[test]
fn suggestions_are_numbered_across_models_in_a_stable_order() {
    let mut runs = healthy(6);
    for r in &mut runs {
        r.outside_window = true;
    }
    let mut other: Vec<ModelRun> = healthy(6);
    for r in &mut other {
        r.deployment.model = "canary".into();
        r.outside_window = true;
    }
    runs.extend(other);
    let r = review(&runs);
    let seen: Vec<(usize, &str)> = r.suggestions.iter().map(|s| (s.n, s.model.as_str())).collect();
    assert_eq!(seen, [(1, "canary"), (2, "phased")]);
}
