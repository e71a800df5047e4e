use super::super::testing::Plan;
use super::super::{Store, StoreError, Submission};
use crate::domain::event::parse_line;
use crate::domain::history::{HistoryFilter, Period, ReviewRule, ReviewState};
use crate::domain::review::{Action, Completion, ReviewContent};
use crate::domain::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

fn at(day: u32, minute: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T10:{minute:02}:00Z")).expect("valid").with_timezone(&Utc)
}

fn rule() -> ReviewRule {
    ReviewRule {
        results: vec![DeploymentStatus::Failed, DeploymentStatus::Aborted, DeploymentStatus::RolledBack],
        environments: vec!["production".into()],
    }
}

/// Plans a big-bang deployment of two hosts on `day` and runs it to success or to a failure of
/// `web-02`'s install with `error`.
fn run(store: &mut Store, release: &str, env: &str, day: u32, error: Option<&str>) -> DeploymentKey {
    let key = Plan::new("big-bang", 2).release(release).env(env).requester("sam").at(at(day, 0)).plan(store);
    let mut lines = Vec::new();
    for host in ["web-01", "web-02"] {
        for (i, step) in ["install", "verify"].into_iter().enumerate() {
            let minute = u32::try_from(i * 2).expect("small");
            let failed = error.filter(|_| host == "web-02" && step == "install");
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{step}-s","deployment":"{key}","target":"{host}","step":"{step}","status":"started","at":"{}"}}"#,
                at(day, minute + 1).to_rfc3339()
            ));
            let (status, message) = failed.map_or(("succeeded", "ok"), |e| ("failed", e));
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{step}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","at":"{}","message":"{message}"}}"#,
                at(day, minute + 2).to_rfc3339()
            ));
            if failed.is_some() {
                break;
            }
        }
    }
    let events = lines.iter().enumerate().map(|(i, l)| (i + 1, parse_line(l, at(day, 0)).expect(l))).collect();
    store.ingest(&[Submission { events, received_ms: at(day, 5).timestamp_millis() }]).expect("ingests");
    key
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("log.db")).expect("opens");
    (dir, store)
}

#[test]
fn history_lists_finished_deployments_newest_first_and_filters_them() {
    let (_dir, mut store) = open();
    let ok = run(&mut store, "payments-api@1.0.0", "production", 1, None);
    let failed = run(&mut store, "payments-api@1.0.1", "production", 2, Some("No space left on device (free 3 MB)"));
    let staging = run(&mut store, "search-svc@3.0.0", "staging", 3, Some("connection refused"));
    // Planned but never run: not history.
    Plan::new("big-bang", 1)
        .release("search-svc@3.0.1")
        .change("CHG-77")
        .requester("sam")
        .at(at(4, 0))
        .plan(&mut store);
    let now = at(5, 0);
    let all = HistoryFilter::default();
    let rows = store.history(&all, &rule(), now, 0, 10).expect("history");
    assert_eq!(rows.iter().map(|r| r.key).collect::<Vec<_>>(), [staging, failed, ok]);
    assert_eq!(store.history_count(&all, &rule(), now).expect("count"), 3);
    let f = &rows[1];
    assert_eq!((f.result, f.hosts_failed, f.hosts_total), (DeploymentStatus::Failed, 1, 2));
    assert_eq!(f.review, ReviewState::Owed, "a failed production deployment owes a review");
    assert_eq!(rows[0].review, ReviewState::NotNeeded, "staging owes none by default");
    assert_eq!(rows[2].review, ReviewState::NotNeeded);

    let q = |filter: HistoryFilter| {
        store.history(&filter, &rule(), now, 0, 10).expect("history").iter().map(|r| r.key).collect::<Vec<_>>()
    };
    assert_eq!(q(HistoryFilter { service: Some("payments-api".into()), ..all.clone() }), [failed, ok]);
    assert_eq!(q(HistoryFilter { environment: Some("staging".into()), ..all.clone() }), [staging]);
    assert_eq!(q(HistoryFilter { results: vec![DeploymentStatus::Failed], ..all.clone() }), [staging, failed]);
    assert_eq!(q(HistoryFilter { text: Some("PAYMENTS 1.0.1".into()), ..all.clone() }), [failed]);
    assert_eq!(q(HistoryFilter { text: Some("100%_".into()), ..all.clone() }), Vec::<DeploymentKey>::new());
    assert_eq!(q(HistoryFilter { period: Period::Last(TimeDelta::hours(80)), ..all.clone() }), [staging, failed]);
    assert_eq!(q(HistoryFilter { reviews: vec![ReviewState::Owed], ..all.clone() }), [failed]);
    assert_eq!(q(HistoryFilter { requester: Some("nobody".into()), ..all.clone() }), Vec::<DeploymentKey>::new());
    // Where they failed: web-02's install, in the one phase of big-bang.
    assert_eq!(q(HistoryFilter { step: Some("install".into()), ..all.clone() }), [staging, failed]);
    assert_eq!(q(HistoryFilter { step: Some("verify".into()), ..all.clone() }), Vec::<DeploymentKey>::new());
    assert_eq!(q(HistoryFilter { phase: Some("all".into()), ..all.clone() }), [staging, failed]);
    assert_eq!(q(HistoryFilter { phase: Some("pilot".into()), ..all.clone() }), Vec::<DeploymentKey>::new());
    let both = HistoryFilter { phase: Some("all".into()), step: Some("install".into()), ..all.clone() };
    assert_eq!(store.history_count(&both, &rule(), now).expect("count"), 2);
    // Paging: the second page starts where the first ended.
    assert_eq!(
        store.history(&all, &rule(), now, 1, 1).expect("page").iter().map(|r| r.key).collect::<Vec<_>>(),
        [failed]
    );
}

#[test]
fn failures_carry_the_failed_step_and_message() {
    let (_dir, mut store) = open();
    let key = run(&mut store, "payments-api@1.0.1", "production", 2, Some("No space left on device (free 3 MB)"));
    let failures = store.failures(key).expect("failures");
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0].target.as_str(), failures[0].step.as_str()), ("web-02", "install"));
    assert_eq!(failures[0].message, "No space left on device (free 3 MB)");
    assert_eq!(failures[0].at, at(2, 2));
    assert!(matches!(store.failures(DeploymentKey(99)), Err(StoreError::UnknownDeployment(_))));
}

fn content(state: Completion, actions: usize) -> ReviewContent {
    ReviewContent {
        state,
        summary: "Disk full".into(),
        impact: "none".into(),
        cause_category: "capacity".into(),
        root_cause: "old releases".into(),
        contributing_factors: vec!["no alert".into()],
        lessons: "prune".into(),
        actions: (1..=actions)
            .map(|i| Action {
                text: format!("action {i}"),
                owner: "sam".into(),
                due: NaiveDate::from_ymd_opt(2026, 12, u32::try_from(i).expect("small")).expect("date"),
                done: false,
            })
            .collect(),
    }
}

#[test]
fn reviews_keep_revisions_authors_and_actions() {
    let (_dir, mut store) = open();
    let key = run(&mut store, "payments-api@1.0.1", "production", 2, Some("disk full"));
    assert_eq!(store.review(key).expect("read"), None);

    assert!(
        !store.save_review(key, &content(Completion::Draft, 2), "draft text", ("sam", "ci"), at(3, 0)).expect("saves")
    );
    let draft = store.review(key).expect("read").expect("stored");
    assert_eq!((draft.content.state, draft.revisions, draft.content.actions.len()), (Completion::Draft, 1, 2));
    let row = |store: &Store| store.history(&HistoryFilter::default(), &rule(), at(5, 0), 0, 1).expect("history");
    assert_eq!(row(&store)[0].review, ReviewState::Draft);

    store.set_action_done(key, 1, true, "sam", at(3, 5)).expect("done");
    assert!(matches!(
        store.set_action_done(key, 9, true, "sam", at(3, 5)),
        Err(StoreError::UnknownAction { n: 9, .. })
    ));
    assert_eq!(store.open_actions().expect("open").iter().map(|a| a.n).collect::<Vec<_>>(), [2]);

    // Completing it: recorded once; a second save of a complete review does not complete it again.
    let mut complete = content(Completion::Complete, 1);
    complete.actions[0].done = true;
    assert!(store.save_review(key, &complete, "final text", ("dana", "ci"), at(4, 0)).expect("saves"));
    assert!(!store.save_review(key, &complete, "final text", ("dana", "ci"), at(4, 1)).expect("saves"));
    let review = store.review(key).expect("read").expect("stored");
    assert_eq!(review.authors, ["sam", "dana"]);
    // Completing it is in the audit trail, once, and the chain stays intact.
    let completions: Vec<_> = store
        .audit_records(Some(key))
        .expect("audit")
        .into_iter()
        .filter(|r| r.decision == super::REVIEW_COMPLETE)
        .collect();
    assert_eq!(completions.len(), 1);
    assert_eq!((completions[0].person.as_str(), completions[0].decided_at), ("dana", at(4, 0)));
    assert!(store.audit_verify().expect("verifies").is_ok());
    assert_eq!(review.revisions, 3);
    assert_eq!(review.completed_at, Some(at(4, 0)));
    let actions = store.actions_of(key).expect("actions");
    assert_eq!(actions.len(), 1, "actions the file no longer lists are gone");
    assert_eq!(actions[0].done_at, Some(at(3, 5)), "done keeps when it was first done");
    assert_eq!(row(&store)[0].review, ReviewState::Complete);
    assert!(matches!(
        store.save_review(DeploymentKey(99), &complete, "", ("dana", "ci"), at(4, 0)),
        Err(StoreError::UnknownDeployment(_))
    ));
}

/// The post-deployment report as the change record gets it: a failed deployment with its error
/// group, timeline and a completed review, in Markdown.
#[test]
fn report_markdown_of_a_reviewed_failure() {
    let (_dir, mut store) = open();
    run(&mut store, "payments-api@1.0.0", "production", 1, None);
    let key =
        run(&mut store, "payments-api@1.0.1", "production", 2, Some("No space left on device (free 3 MB) at /srv/app"));
    let mut review = content(Completion::Complete, 1);
    review.summary = "Disk full on web-02".into();
    store.save_review(key, &review, "text", ("dana", "ci"), at(3, 0)).expect("saves");
    let report = store.report(key, &rule()).expect("report");
    insta::assert_snapshot!("report_markdown", crate::domain::report::markdown(&report, chrono_tz::UTC));
}

#[test]
fn counts_from_the_summary_agree_with_the_rows_they_count() {
    let (_dir, mut store) = open();
    run(&mut store, "payments-api@1.0.0", "production", 1, None);
    run(&mut store, "payments-api@1.0.1", "production", 2, Some("No space left on device (free 3 MB)"));
    run(&mut store, "search-svc@3.0.0", "staging", 3, Some("connection refused"));
    run(&mut store, "search-svc@3.0.1", "production", 4, None);
    let now = at(5, 0);
    let all = HistoryFilter::default();
    let filters = [
        all.clone(),
        HistoryFilter { service: Some("search-svc".into()), ..all.clone() },
        HistoryFilter { environment: Some("production".into()), model: Some("big-bang".into()), ..all.clone() },
        HistoryFilter {
            results: vec![DeploymentStatus::Failed, DeploymentStatus::Succeeded],
            requester: Some("sam".into()),
            ..all.clone()
        },
        HistoryFilter { service: Some("nothing".into()), ..all.clone() },
    ];
    let counted: Vec<usize> = filters.iter().map(|f| store.history_count(f, &rule(), now).expect("count")).collect();
    let listed: Vec<usize> =
        filters.iter().map(|f| store.history(f, &rule(), now, 0, 100).expect("rows").len()).collect();
    assert_eq!(counted, listed);
    assert_eq!(counted, [4, 2, 3, 4, 0]);
    // A result that changes after the finish moves its count (here: straight in the table, as a
    // decision's update does).
    store.conn.execute("UPDATE deployments SET status = 'rolled_back' WHERE status = 'failed'", []).expect("updates");
    let failed = HistoryFilter { results: vec![DeploymentStatus::Failed], ..all.clone() };
    let rolled = HistoryFilter { results: vec![DeploymentStatus::RolledBack], ..all.clone() };
    assert_eq!(store.history_count(&failed, &rule(), now).expect("count"), 0);
    assert_eq!(store.history_count(&rolled, &rule(), now).expect("count"), 2);
    // Reopened (a retry): out of History and its counts.
    store
        .conn
        .execute("UPDATE deployments SET status = 'running', finished_ms = NULL WHERE status = 'rolled_back'", [])
        .expect("updates");
    assert_eq!(store.history_count(&all, &rule(), now).expect("count"), 2);
    assert_eq!(store.history(&all, &rule(), now, 0, 100).expect("rows").len(), 2);
}
