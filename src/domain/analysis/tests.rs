use super::*;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").expect("time").with_timezone(&Utc)
}

fn rule(metric: &str, compare: Comparison, max: f64, hold_min: i64) -> AnalysisRule {
    AnalysisRule {
        metric: metric.into(),
        compare,
        max,
        hold: TimeDelta::minutes(hold_min),
        interval: TimeDelta::minutes(1),
        failure_limit: 0,
    }
}

/// `per_minute` samples a side for `minutes` minutes from t0, of metric 0.
fn stream(minutes: i64, canary: impl Fn(i64) -> f64, baseline: impl Fn(i64) -> f64) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in 0..minutes {
        for s in 0..6 {
            let at_ms = (t0() + TimeDelta::minutes(m) + TimeDelta::seconds(s * 10)).timestamp_millis();
            out.push(Sample { at_ms, canary: true, metric: 0, value: canary(m) });
            out.push(Sample { at_ms, canary: false, metric: 0, value: baseline(m) });
        }
    }
    out
}

fn at(min: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(min)
}

#[test]
fn a_canary_within_its_margin_passes_once_it_held_long_enough() {
    let rules = [rule("error_rate", Comparison::Difference, 0.5, 5)];
    let samples = stream(10, |_| 0.7, |_| 0.4);
    let early = analyse(&rules, t0(), at(3), &samples);
    assert_eq!(early.verdict, Verdict::Inconclusive);
    assert_eq!(early.rules[0].held, TimeDelta::minutes(3));
    assert_eq!(
        early.rules[0].describe(),
        "error_rate difference: canary 0.7 vs baseline 0.4 = 0.3 ≤ 0.5 (held 3m of 5m)"
    );
    let done = analyse(&rules, t0(), at(5), &samples);
    assert_eq!(done.verdict, Verdict::Pass);
    assert_eq!(
        done.summary(),
        "canary analysis pass: error_rate difference: canary 0.7 vs baseline 0.4 = 0.3 ≤ 0.5 (held 5m of 5m)"
    );
}

#[test]
fn a_canary_over_its_margin_fails_past_the_failure_limit() {
    let mut r = rule("error_rate", Comparison::Difference, 0.5, 5);
    // Fine for two minutes, then the canary's error rate climbs.
    let samples = stream(10, |m| if m < 2 { 0.5 } else { 2.0 }, |_| 0.4);
    let a = analyse(std::slice::from_ref(&r), t0(), at(3), &samples);
    assert_eq!(a.verdict, Verdict::Fail);
    assert_eq!(a.rules[0].breaches, 1);
    assert_eq!(
        a.rules[0].describe(),
        "error_rate difference: canary 2 vs baseline 0.4 = 1.6 > 0.5 (breached in 1 interval(s) of 1m, limit 0)"
    );
    // A limit of one tolerates that minute, not a second one.
    r.failure_limit = 1;
    assert_eq!(analyse(std::slice::from_ref(&r), t0(), at(3), &samples).verdict, Verdict::Inconclusive);
    assert_eq!(analyse(std::slice::from_ref(&r), t0(), at(4), &samples).verdict, Verdict::Fail);
}

#[test]
fn a_p95_ratio_compares_the_tails_not_the_means() {
    let rules = [rule("latency_ms", Comparison::P95Ratio, 1.2, 2)];
    // Same mean-ish, but one slow canary request in each ten: its p95 is 500 against 100.
    let mut samples = Vec::new();
    for m in 0..2 {
        for s in 0..20 {
            let at_ms = (at(m) + TimeDelta::seconds(s * 3)).timestamp_millis();
            let slow = s % 10 == 0;
            samples.push(Sample { at_ms, canary: true, metric: 0, value: if slow { 500.0 } else { 60.0 } });
            samples.push(Sample { at_ms, canary: false, metric: 0, value: 100.0 });
        }
    }
    let a = analyse(&rules, t0(), at(2), &samples);
    assert_eq!(a.verdict, Verdict::Fail);
    assert_eq!(a.rules[0].score, Some(5.0));
    // The means alone (104 against 100) would have passed.
    let means = [rule("latency_ms", Comparison::Ratio, 1.2, 2)];
    assert_eq!(analyse(&means, t0(), at(2), &samples).verdict, Verdict::Pass);
}

#[test]
fn a_metric_nobody_reports_is_missing_never_a_pass() {
    let rules = [rule("error_rate", Comparison::Difference, 0.5, 1), rule("saturation", Comparison::Ratio, 1.5, 1)];
    // Only error_rate (metric 0) is reported.
    let samples = stream(5, |_| 0.1, |_| 0.1);
    let a = analyse(&rules, t0(), at(5), &samples);
    assert_eq!(a.rules[0].verdict, Verdict::Pass);
    assert_eq!(a.verdict, Verdict::MissingMetric);
    assert_eq!(a.missing(), vec!["saturation"]);
    assert!(a.rules[1].describe().ends_with("(no sample of \"saturation\" from the canary or the baseline)"));
    // Only the baseline reports it: still missing, naming the side.
    let only_baseline: Vec<Sample> = stream(5, |_| 0.1, |_| 0.1).into_iter().filter(|s| !s.canary).collect();
    let a = analyse(&rules[..1], t0(), at(5), &only_baseline);
    assert_eq!(a.verdict, Verdict::MissingMetric);
    assert!(a.rules[0].describe().contains("no sample of \"error_rate\" from the canary"), "{}", a.summary());
}

#[test]
fn before_the_first_interval_ends_the_analysis_is_waiting() {
    let rules = [rule("error_rate", Comparison::Difference, 0.5, 5)];
    let a = analyse(&rules, t0(), t0() + TimeDelta::seconds(30), &stream(1, |_| 9.0, |_| 0.0));
    assert_eq!(a.verdict, Verdict::Inconclusive);
    assert!(a.rules[0].intervals.is_empty());
    assert!(a.summary().contains("waiting for the first 1m interval"), "{}", a.summary());
}

#[test]
fn samples_before_the_canary_succeeded_do_not_count() {
    let rules = [rule("error_rate", Comparison::Difference, 0.5, 2)];
    let mut samples = stream(2, |_| 0.0, |_| 0.0);
    // A terrible sample from before the analysis started.
    samples.push(Sample {
        at_ms: (t0() - TimeDelta::seconds(5)).timestamp_millis(),
        canary: true,
        metric: 0,
        value: 99.0,
    });
    assert_eq!(analyse(&rules, t0(), at(2), &samples).verdict, Verdict::Pass);
}

#[test]
fn a_ratio_over_a_zero_baseline_is_one_or_infinite() {
    assert_eq!(Comparison::Ratio.score(0.0, 0.0), 1.0);
    assert!(Comparison::Ratio.score(0.1, 0.0).is_infinite());
    assert_eq!(Comparison::Difference.score(0.1, 0.0), 0.1);
}

#[test]
fn rules_that_cannot_work_are_named_with_their_value() {
    let mut r = rule("error_rate", Comparison::Difference, 0.5, 5);
    assert_eq!(r.problem(), None);
    r.hold = TimeDelta::zero();
    assert_eq!(r.problem().as_deref(), Some("analysis of \"error_rate\": for = \"0s\" must be longer than 0s"));
    r.hold = TimeDelta::seconds(30);
    assert_eq!(
        r.problem().as_deref(),
        Some("analysis of \"error_rate\": interval = \"1m\" is longer than for = \"30s\"")
    );
    let mut r = rule("latency", Comparison::P95Ratio, 0.0, 5);
    assert!(r.problem().is_some_and(|p| p.contains("max = 0 is not a usable p95_ratio")));
    r.max = -1.0;
    r.compare = Comparison::Difference;
    assert!(r.problem().is_some_and(|p| p.contains("max = -1")));
    assert_eq!(
        "p99".parse::<Comparison>().expect_err("unknown").0,
        "unknown comparison \"p99\" (use difference, ratio, p95_difference or p95_ratio)"
    );
}

#[test]
fn a_non_finite_sample_fails_the_canary_never_passes_it() {
    let mut r = rule("error_rate", Comparison::Difference, 0.05, 5);
    r.failure_limit = 3;
    // The canary at 0.9 against a 0.05 limit, with one sample of minus infinity a minute:
    // every mean is -inf, which is "below the limit" to a plain comparison.
    let mut samples = stream(10, |_| 0.9, |_| 0.1);
    for s in samples.iter_mut().filter(|s| s.canary).step_by(6) {
        s.value = f64::NEG_INFINITY;
    }
    let a = analyse(std::slice::from_ref(&r), t0(), at(6), &samples);
    assert_eq!(a.verdict, Verdict::Fail, "{}", a.summary());
    assert!(a.rules[0].intervals.iter().all(|i| i.state == IntervalState::Breached));
    // A healthy canary with one infinite or NaN sample fails too.
    for bad in [f64::INFINITY, f64::NAN] {
        let mut healthy = stream(10, |_| 0.01, |_| 0.01);
        healthy[1].value = bad;
        assert_eq!(analyse(std::slice::from_ref(&r), t0(), at(6), &healthy).verdict, Verdict::Fail, "{bad}");
    }
}
