//! Canary analysis through the store and the one decision path: the automation approves a
//! canary whose analysis passed once the bake is over, halts one whose analysis failed, never
//! decides on a missing metric, and people override it, audited.

use super::*;
use crate::domain::DeploymentStatus;
use crate::domain::analysis::Verdict;
use crate::store::testing;
use chrono::TimeDelta;

/// The canary model's `web-01` is the canary; `web-02..05` the baseline.
fn planned() -> (tempfile::TempDir, Store, DeploymentKey) {
    let (dir, mut store) = testing::open();
    let key = testing::Plan::new("canary", 5).plan(&mut store);
    let lines: Vec<String> = ["install", "verify"]
        .iter()
        .map(|s| {
            format!(r#"{{"id":"c-{s}","deployment":"{key}","target":"web-01","step":"{s}","status":"succeeded"}}"#)
        })
        .collect();
    testing::ingest(&mut store, &lines, testing::t0());
    assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::AwaitingApproval);
    (dir, store, key)
}

/// Every host reports both metrics each 30 s over `minutes` minutes from t0: the canary what
/// `canary(minute)` says, the baseline an error rate of 0.2 and a p95 latency of 100 ms.
fn report(store: &mut Store, key: DeploymentKey, minutes: std::ops::Range<i64>, canary: impl Fn(i64) -> (f64, f64)) {
    for m in minutes {
        for half in 0..2 {
            let at = testing::t0() + TimeDelta::minutes(m) + TimeDelta::seconds(30 * half);
            let stamp = at.to_rfc3339();
            let mut lines = Vec::new();
            for host in 1..=5 {
                let (err, lat) = if host == 1 { canary(m) } else { (0.2, 100.0) };
                for (metric, value) in [("error_rate", err), ("latency_p95_ms", lat)] {
                    lines.push(format!(
                        r#"{{"id":"{metric}-{host}-{m}-{half}","deployment":"{key}","target":"web-{host:02}","step":"metrics","status":"info","at":"{stamp}","data":{{"metric":"{metric}","value":{value}}}}}"#
                    ));
                }
            }
            testing::ingest(store, &lines, at);
        }
    }
}

fn minutes(m: i64) -> DateTime<Utc> {
    testing::t0() + TimeDelta::minutes(m)
}

#[test]
fn a_passing_canary_is_approved_by_the_analysis_once_its_bake_is_over() {
    let (_dir, mut store, key) = planned();
    assert_eq!(automatic(&mut store, minutes(0)).expect("runs"), Taken::default(), "nothing to decide yet");
    report(&mut store, key, 0..31, |_| (0.3, 110.0));
    // The baseline's samples, from hosts whose phase has not started, are observations: no
    // conformance flag (work ahead of the gate would be one).
    assert_eq!(store.conformance(Some(key)).expect("flags"), Vec::new());
    // The analysis passes after ten minutes, but the gate bakes for thirty: nothing recorded.
    let state = store.analysis(key, minutes(12)).expect("reads").expect("analysed");
    assert_eq!(state.analysis.as_ref().map(|a| a.verdict), Some(Verdict::Pass));
    let audit_before = store.audit_records(Some(key)).expect("audit").len();
    assert_eq!(automatic(&mut store, minutes(12)).expect("runs"), Taken::default());
    assert_eq!(store.audit_records(Some(key)).expect("audit").len(), audit_before, "a refusal is not recorded");
    // Bake over: shipdeck (analysis) approves the fleet, with the numbers in the audit trail.
    let taken = automatic(&mut store, minutes(30)).expect("runs");
    assert_eq!(taken.approved.len(), 1);
    assert_eq!(
        taken.approved[0].to_string(),
        format!(
            "recorded: {key} fleet approve by shipdeck (analysis) as automatic: gate approved (1 of 1) (audit record {})",
            taken.approved[0].outcome.audit_id
        )
    );
    let last = store.audit_records(Some(key)).expect("audit").pop().expect("a record");
    assert_eq!((last.person.as_str(), last.decision.as_str()), ("shipdeck (analysis)", "approve"));
    assert_eq!(
        last.comment.as_deref(),
        Some(
            "canary analysis pass: error_rate difference: canary 0.3 vs baseline 0.2 = 0.1 ≤ 0.5 (held 30m of 10m); \
             latency_p95_ms ratio: canary 110 vs baseline 100 = 1.1 ≤ 1.2 (held 30m of 10m): fleet starts"
        )
    );
    assert_eq!(store.gate(key, "fleet").expect("gate").state, GateState::Approved);
    assert!(automatic(&mut store, minutes(31)).expect("runs").approved.is_empty(), "approved once");
    let state = store.analysis(key, minutes(40)).expect("reads").expect("analysed");
    assert_eq!(state.headline(), "canary analysis: pass · fleet approved by shipdeck (analysis)");
}

#[test]
fn a_failing_canary_halts_the_deployment_for_a_person_who_may_approve_it_anyway() {
    let (_dir, mut store, key) = planned();
    // Fine for two minutes, then the canary's error rate jumps to 2.
    report(&mut store, key, 0..4, |m| (if m < 2 { 0.3 } else { 2.0 }, 100.0));
    assert!(automatic(&mut store, minutes(2)).expect("runs").halted.is_empty(), "two good minutes");
    let taken = automatic(&mut store, minutes(3)).expect("runs");
    assert_eq!(taken.halted.len(), 1);
    let halted = &taken.halted[0];
    assert!(
        halted.to_string().starts_with(&format!(
            "recorded: {key} canary halt by shipdeck (analysis): deployment failed, waiting for a person (audit record {}): \
             canary analysis fail: error_rate difference: canary 2 vs baseline 0.2 = 1.8 > 0.5 (breached in 1 interval(s) of 1m, limit 0)",
            halted.audit_id
        )),
        "{halted}"
    );
    assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::Failed);
    let last = store.audit_records(Some(key)).expect("audit").pop().expect("a record");
    assert_eq!((last.person.as_str(), last.decision.as_str()), ("shipdeck (analysis)", "halt"));
    // Omar (a deployment manager) is told why, in words about the analysis, not a budget.
    let told = store.notifications("omar", false, 50).expect("notifications");
    assert!(told.iter().any(|n| n.subject == format!("{key} canary: canary analysis failed")), "{told:?}");
    // The canary's next reports do not undo the halt, and it is recorded once.
    report(&mut store, key, 4..5, |_| (2.0, 100.0));
    assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::Failed);
    assert_eq!(automatic(&mut store, minutes(5)).expect("runs"), Taken::default());
    let state = store.analysis(key, minutes(5)).expect("reads").expect("analysed");
    assert_eq!(state.analysis.as_ref().map(|a| a.verdict), Some(Verdict::Fail));
    assert!(state.headline().contains("deployment halted, waiting for a person"), "{}", state.headline());

    // The inbox offers lee both: the halted canary (retry, abort, rollback) and the fleet's gate,
    // which a person may still approve over the analysis.
    let lee_roles = ["sre".to_owned()];
    let inbox =
        store.inbox(crate::domain::gate::Decider { name: "lee", roles: &lee_roles }, minutes(31)).expect("inbox");
    let offered: Vec<(&str, &[Decision])> =
        inbox.iter().filter(|i| i.deployment == key).map(|i| (i.phase.as_str(), i.offers.as_slice())).collect();
    assert_eq!(
        offered,
        [("canary", &[Decision::Retry, Decision::Abort, Decision::Rollback][..]), ("fleet", &[Decision::Approve][..])]
    );
    let fleet = inbox.iter().find(|i| i.phase == "fleet").expect("fleet offered");
    assert_eq!(fleet.blocked, None, "after the bake lee may approve it: {:?}", fleet.blocked);

    // lee (sre) approves the fleet anyway after the bake: recorded, flagged as an override.
    let config = Config::built_in();
    let ask = Ask {
        key,
        phase: "fleet".into(),
        decision: Decision::Approve,
        comment: Some("known noisy".into()),
        reason: None,
    };
    let lee = Desk::new(&config, Operator::named(&config, "lee", "lee"));
    let early = lee.decide(&mut store, &ask, minutes(10)).expect_err("the bake still holds");
    assert!(early.to_string().contains("bake time"), "{early}");
    assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::Failed, "a refusal changes nothing");
    let done = lee.decide(&mut store, &ask, minutes(31)).expect("approved");
    assert!(
        done.to_string().contains("gate approved (1 of 1)")
            && done.to_string().contains("; flagged: override of canary analysis fail: error_rate difference"),
        "{done}"
    );
    assert_eq!(store.gate(key, "fleet").expect("gate").state, GateState::Approved);
    assert_ne!(store.summary(key).expect("summary").status, DeploymentStatus::Failed);
    // Nobody may claim the analysis's name: it is not a person of the team.
    let fake = Desk::new(&config, Operator::named(&config, "shipdeck (analysis)", "o"));
    let ask = Ask { key, phase: "canary".into(), decision: Decision::Retry, comment: None, reason: None };
    assert!(fake.decide(&mut store, &ask, minutes(32)).expect_err("refused").is_refusal());
}

#[test]
fn a_canary_halted_by_analysis_with_no_failed_host_is_not_told_as_a_failed_budget() {
    let (_dir, mut store, key) = planned();
    report(&mut store, key, 0..4, |m| (if m < 2 { 0.3 } else { 2.0 }, 100.0));
    assert_eq!(automatic(&mut store, minutes(3)).expect("runs").halted.len(), 1);
    assert_eq!(store.summary(key).expect("summary").failed, 0, "no host failed");
    // dana requested it: she is told of the phase and of the deployment, both in words of the
    // analysis, with the rule that failed and its numbers.
    let told = store.notifications("dana", false, 50).expect("notifications");
    let body = |kind: &str| told.iter().find(|n| n.kind == kind).map(|n| n.body.clone()).expect(kind);
    let rule = "error_rate difference: canary 2 vs baseline 0.2 = 1.8 > 0.5 (breached in 1 interval(s) of 1m, limit 0)";
    assert_eq!(
        body("deployment_failed"),
        format!(
            "Phase canary was halted by its canary analysis ({rule}; 0 host(s) failed); the deployment manager may retry, approve anyway, abort or roll back."
        )
    );
    let phase_failed = body("phase_failed");
    assert!(phase_failed.contains(rule) && !phase_failed.contains("budget"), "{phase_failed}");
}

#[test]
fn a_retry_after_a_halt_runs_the_analysis_again_from_then() {
    let (_dir, mut store, key) = planned();
    report(&mut store, key, 0..2, |_| (3.0, 100.0));
    assert_eq!(automatic(&mut store, minutes(2)).expect("runs").halted.len(), 1);
    let config = Config::built_in();
    let ask = Ask { key, phase: "canary".into(), decision: Decision::Retry, comment: None, reason: None };
    Desk::new(&config, Operator::named(&config, "omar", "o")).decide(&mut store, &ask, minutes(2)).expect("retry");
    assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::AwaitingApproval);
    let state = store.analysis(key, minutes(2)).expect("reads").expect("analysed");
    assert_eq!(state.halted_at, None);
    let a = state.analysis.expect("started again");
    assert_eq!((a.started, a.verdict), (minutes(2), Verdict::Inconclusive), "the bad minutes before are behind it");
}

#[test]
fn a_metric_no_agent_reports_is_never_approved_and_is_named() {
    let (_dir, mut store, key) = planned();
    // Only error_rate is reported: the latency rule has nothing to compare.
    for m in 0..40 {
        let at = minutes(m);
        let lines: Vec<String> = (1..=5)
            .map(|h| format!(r#"{{"id":"e-{h}-{m}","deployment":"{key}","target":"web-{h:02}","step":"metrics","status":"info","at":"{}","data":{{"metric":"error_rate","value":0.1}}}}"#, at.to_rfc3339()))
            .collect();
        testing::ingest(&mut store, &lines, at);
    }
    assert_eq!(automatic(&mut store, minutes(40)).expect("runs"), Taken::default());
    let state = store.analysis(key, minutes(40)).expect("reads").expect("analysed");
    let a = state.analysis.expect("started");
    assert_eq!(a.verdict, Verdict::MissingMetric);
    assert_eq!(a.missing(), vec!["latency_p95_ms"]);
    // A person approving it is told, in the audit, what the analysis did not know.
    let config = Config::built_in();
    let ask = Ask { key, phase: "fleet".into(), decision: Decision::Approve, comment: None, reason: None };
    let done =
        Desk::new(&config, Operator::named(&config, "priya", "p")).decide(&mut store, &ask, minutes(40)).expect("ok");
    assert!(done.to_string().contains("flagged: override of canary analysis missing metric"), "{done}");
}
