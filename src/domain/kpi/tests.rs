use super::*;
use crate::domain::DeploymentStatus::{Aborted, Failed, RolledBack, Succeeded};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

fn dep(id: i64, service: &str, env: &str, status: DeploymentStatus, finished: &str) -> KpiDeployment {
    let finished = at(finished);
    KpiDeployment {
        id,
        service: service.into(),
        environment: env.into(),
        model: "phased".into(),
        production: env == "production",
        status,
        planned: finished - TimeDelta::hours(2),
        started: Some(finished - TimeDelta::hours(1)),
        finished,
        hosts_failed: 0,
        retried: false,
        gates: Vec::new(),
        failed_phase: None,
    }
}

fn successes(rows: &[KpiDeployment]) -> Successes {
    Successes::new(
        rows.iter()
            .filter(|d| d.production && d.status == Succeeded)
            .map(|d| (d.service.clone(), d.environment.clone(), d.finished)),
    )
}

#[test]
fn change_failure_rate_counts_failed_rolled_back_and_aborted_after_start_over_production_starts() {
    let mut never_started = dep(5, "api", "production", Aborted, "2026-03-05T10:00:00Z");
    never_started.started = None;
    let rows = vec![
        dep(1, "api", "production", Succeeded, "2026-03-01T10:00:00Z"),
        dep(2, "api", "production", Failed, "2026-03-02T10:00:00Z"),
        dep(3, "api", "production", RolledBack, "2026-03-03T10:00:00Z"),
        dep(4, "api", "production", Aborted, "2026-03-04T10:00:00Z"),
        never_started,
        dep(6, "api", "staging", Failed, "2026-03-06T10:00:00Z"),
        dep(7, "api", "production", Succeeded, "2026-03-07T10:00:00Z"),
        dep(8, "web", "production", Succeeded, "2026-03-08T10:00:00Z"),
    ];
    let all: Vec<&KpiDeployment> = rows.iter().collect();
    let k = compute(&all, at("2026-03-01T00:00:00Z"), at("2026-03-11T00:00:00Z"), &successes(&rows));
    assert_eq!(k.deployments, 8);
    assert_eq!(k.production_started, 6, "the abort before start and staging are not production starts");
    assert_eq!(k.production_failed, 3);
    assert_eq!(k.change_failure_rate, Some(0.5));
    assert_eq!(k.success_rate, Some(3.0 / 8.0));
    assert!((k.per_day - 0.8).abs() < 1e-9, "8 deployments over 10 days");
    assert!((k.per_week - 5.6).abs() < 1e-9);
    assert_eq!(k.rollbacks, 1);
    // Each failure recovers at DEP-7 (03-07 10:00): 5, 4 and 3 days.
    assert_eq!(k.recovery.time.count, 3);
    assert_eq!(k.recovery.open, 0);
    assert_eq!(k.recovery.time.median_s, Some(4 * 86_400));
    assert_eq!(k.recovery.time.p90_s, Some(5 * 86_400));
}

#[test]
fn a_failure_without_a_later_success_of_that_service_and_environment_is_open_and_apart() {
    let rows = vec![
        dep(1, "api", "production", Failed, "2026-03-02T10:00:00Z"),
        // Another service's and another environment's success do not recover it.
        dep(2, "web", "production", Succeeded, "2026-03-03T10:00:00Z"),
        dep(3, "api", "staging", Succeeded, "2026-03-04T10:00:00Z"),
        dep(4, "web", "production", Failed, "2026-03-05T10:00:00Z"),
        dep(5, "web", "production", Succeeded, "2026-03-05T11:30:00Z"),
    ];
    let all: Vec<&KpiDeployment> = rows.iter().collect();
    let k = compute(&all, at("2026-03-01T00:00:00Z"), at("2026-03-10T00:00:00Z"), &successes(&rows));
    assert_eq!(k.recovery.open, 1);
    assert_eq!(k.recovery.time.count, 1);
    assert_eq!(k.recovery.time.median_s, Some(5400));
}

#[test]
fn an_empty_period_has_no_rates_and_no_nan() {
    let k = compute(&[], at("2026-03-01T00:00:00Z"), at("2026-03-08T00:00:00Z"), &Successes::default());
    assert_eq!(k.deployments, 0);
    assert_eq!(k.per_day, 0.0);
    assert_eq!(k.success_rate, None);
    assert_eq!(k.change_failure_rate, None);
    assert_eq!(k.first_time_right_rate, None);
    assert_eq!(k.hosts_failed_per_deployment, None);
    assert_eq!(k.recovery.time.median_s, None);
    assert_eq!(k.lead_time.total.median_s, None);
    let json = serde_json::to_string(&k).unwrap_or_default();
    assert!(!json.contains("NaN") && json.contains("\"success_rate\":null"), "{json}");
}

#[test]
fn lead_time_splits_into_the_waits_of_its_gates_and_running() {
    let mut d = dep(1, "api", "production", Succeeded, "2026-03-01T12:00:00Z");
    d.planned = at("2026-03-01T08:00:00Z");
    d.gates = vec![GateWait {
        phase: "wave-1".into(),
        total: TimeDelta::minutes(90),
        bake: TimeDelta::minutes(10),
        window: TimeDelta::minutes(20),
        approval: TimeDelta::minutes(60),
        roles: vec![("deployment_manager".into(), TimeDelta::minutes(90))],
    }];
    d.retried = true;
    d.hosts_failed = 3;
    let rows = [d];
    let all: Vec<&KpiDeployment> = rows.iter().collect();
    let k = compute(&all, at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z"), &Successes::default());
    assert_eq!(k.lead_time.total.median_s, Some(4 * 3600));
    assert_eq!(k.lead_time.approval_wait_mean_s, Some(3600));
    assert_eq!(k.lead_time.window_wait_mean_s, Some(1200));
    assert_eq!(k.lead_time.bake_wait_mean_s, Some(600));
    assert_eq!(k.lead_time.running_mean_s, Some(4 * 3600 - 5400));
    assert_eq!(
        k.approval_wait_by_gate,
        vec![NamedWait {
            name: "phased/wave-1".into(),
            wait: Spread { count: 1, median_s: Some(5400), p90_s: Some(5400) }
        }]
    );
    assert_eq!(k.approval_wait_by_role[0].name, "deployment_manager");
    assert_eq!(k.approval_wait.median_s, Some(5400));
    assert_eq!(k.first_time_right_rate, Some(0.0), "a retried deployment is not first-time-right");
    assert_eq!(k.hosts_failed_per_deployment, Some(3.0));
}

#[test]
fn a_gate_wait_is_bake_then_time_rules_then_approvals() {
    let o = at("2026-03-01T10:00:00Z");
    let m = |n| o + TimeDelta::minutes(n);
    // Bake 10m, the window opens at +30m, approved at +45m.
    assert_eq!(
        split_gate_wait(o, m(45), Some(m(10)), Some(m(30))),
        (TimeDelta::minutes(10), TimeDelta::minutes(20), TimeDelta::minutes(15))
    );
    // Approved while still baking is impossible, but a clock skew must not go negative.
    assert_eq!(
        split_gate_wait(o, m(5), Some(m(10)), Some(m(10))),
        (TimeDelta::minutes(5), TimeDelta::zero(), TimeDelta::zero())
    );
    // No rule held the gate: all of it waited for approvals.
    assert_eq!(
        split_gate_wait(o, m(60), None, Some(o)),
        (TimeDelta::zero(), TimeDelta::zero(), TimeDelta::minutes(60))
    );
    // No instant in the horizon where the rules held: the rules held it throughout.
    assert_eq!(split_gate_wait(o, m(60), None, None), (TimeDelta::zero(), TimeDelta::minutes(60), TimeDelta::zero()));
}

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&v, 50), Some(5));
    assert_eq!(percentile(&v, 90), Some(9));
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile::<i64>(&[], 50), None);
}

#[test]
fn weeks_follow_the_zone_across_a_dst_change() {
    let tz: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
    // DST ends on Sunday 2026-10-25 03:00 CEST. Sunday 23:30 CET is 22:30 UTC: still that week.
    let sunday_late = at("2026-10-25T22:30:00Z");
    assert_eq!(week_start(sunday_late, tz), at("2026-10-18T22:00:00Z"), "Monday 00:00 CEST");
    // Monday 00:30 CET (23:30 UTC on Sunday) is the next week, which starts at 23:00 UTC.
    let monday_early = at("2026-10-25T23:30:00Z");
    assert_eq!(week_start(monday_early, tz), at("2026-10-25T23:00:00Z"), "Monday 00:00 CET");
    let rows = vec![
        dep(1, "api", "production", Succeeded, "2026-10-25T22:30:00Z"),
        dep(2, "api", "production", Failed, "2026-10-25T23:30:00Z"),
    ];
    let groups =
        grouped(&rows, GroupBy::Week, at("2026-10-19T00:00:00Z"), at("2026-11-01T23:00:00Z"), tz, &successes(&rows));
    let labels: Vec<(&str, usize)> = groups.iter().map(|g| (g.group.as_str(), g.kpis.deployments)).collect();
    assert_eq!(labels, vec![("2026-10-19", 1), ("2026-10-26", 1)]);
    assert_eq!(groups[0].kpis.change_failure_rate, Some(0.0));
    assert_eq!(groups[1].kpis.change_failure_rate, Some(1.0));
}

#[test]
fn an_empty_week_inside_the_period_is_listed_with_no_rates() {
    let rows = vec![dep(1, "api", "production", Succeeded, "2026-03-02T10:00:00Z")];
    let groups = grouped(
        &rows,
        GroupBy::Week,
        at("2026-03-02T00:00:00Z"),
        at("2026-03-16T00:00:00Z"),
        Tz::UTC,
        &successes(&rows),
    );
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1].kpis.deployments, 0);
    assert_eq!(groups[1].kpis.success_rate, None);
}

#[test]
fn dora_bands_follow_the_documented_thresholds() {
    assert_eq!(Band::frequency(1.0), Band::Elite);
    assert_eq!(Band::frequency(0.2), Band::High);
    assert_eq!(Band::frequency(0.05), Band::Medium);
    assert_eq!(Band::frequency(0.01), Band::Low);
    assert_eq!(Band::change_failure_rate(0.05), Band::Elite);
    assert_eq!(Band::change_failure_rate(0.08), Band::High);
    assert_eq!(Band::change_failure_rate(0.15), Band::Medium);
    assert_eq!(Band::change_failure_rate(0.16), Band::Low);
    assert_eq!(Band::recovery(3599), Band::Elite);
    assert_eq!(Band::recovery(3600), Band::High);
    assert_eq!(Band::recovery(86_400), Band::Medium);
    assert_eq!(Band::recovery(7 * 86_400), Band::Low);
}

#[test]
fn the_parts_of_lead_time_are_means_that_add_up_to_the_mean_lead_time() {
    let mut gated = dep(1, "api", "production", Succeeded, "2026-03-01T12:00:00Z");
    gated.planned = at("2026-03-01T08:00:00Z");
    gated.gates = vec![GateWait {
        phase: "wave-1".into(),
        total: TimeDelta::minutes(90),
        bake: TimeDelta::minutes(10),
        window: TimeDelta::minutes(20),
        approval: TimeDelta::minutes(60),
        roles: Vec::new(),
    }];
    let plain = dep(2, "web", "staging", Succeeded, "2026-03-01T12:00:00Z"); // lead 2h, no gate
    let rows = [gated, plain];
    let all: Vec<&KpiDeployment> = rows.iter().collect();
    let k = compute(&all, at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z"), &Successes::default());
    let l = &k.lead_time;
    assert_eq!(l.mean_s, Some(3 * 3600));
    assert_eq!(l.approval_wait_mean_s, Some(1800));
    assert_eq!(l.window_wait_mean_s, Some(600));
    assert_eq!(l.bake_wait_mean_s, Some(300));
    assert_eq!(l.running_mean_s, Some(8100));
    let parts: i64 =
        [l.approval_wait_mean_s, l.window_wait_mean_s, l.bake_wait_mean_s, l.running_mean_s].iter().flatten().sum();
    assert_eq!(Some(parts), l.mean_s);
}
