//! The post-deployment report: what was deployed where, by whom, the plan, the approvals and
//! decisions, the timeline, the result, the error groups and the review.
//!
//! One [`Report`] feeds `shipdeck report` (Markdown and JSON) and the failure drill-down, so the
//! change record and the screen always tell the same story. Built from facts the store reads;
//! no IO here.

use super::errors::ErrorGroup;
use super::gate::view::{AuditRecord, Notification};
use super::history::ReviewState;
use super::records::{DeploymentSummary, PhaseView};
use super::review::Review;
use super::text::sanitize;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::fmt::Write as _;

/// When things happened to one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseTimes {
    pub name: String,
    pub gate_opened: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// The phase ended failed (its failure budget was exceeded).
    pub failed: bool,
}

/// Durations of one step of one phase across its hosts, beside the model's usual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStat {
    pub phase: String,
    pub step: String,
    pub hosts: usize,
    pub p50_s: f64,
    pub p95_s: f64,
    /// The same step's p50 over the model's recent finished deployments, when there are any.
    pub usual_p50_s: Option<f64>,
    /// Slower than twice the usual median.
    pub outlier: bool,
}

/// What kind of moment a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    Planned,
    GateOpened,
    Decision,
    PhaseStarted,
    FirstFailure,
    BudgetExceeded,
    PhaseSucceeded,
    Finished,
}

/// One moment of a deployment's life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: Moment,
    pub phase: Option<String>,
    /// Who, for decisions.
    pub who: Option<String>,
    pub text: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub deployment: DeploymentSummary,
    pub phases: Vec<PhaseView>,
    pub timeline: Vec<TimelineEntry>,
    pub decisions: Vec<AuditRecord>,
    pub error_groups: Vec<ErrorGroup>,
    pub step_durations: Vec<StepStat>,
    /// Failed hosts are in `error_groups`; these were still running, unheard, when it ended.
    pub silent_hosts: Vec<String>,
    pub review_state: ReviewState,
    pub review: Option<Review>,
    /// The release record, the checklist with who ticked what, and conformance flags.
    pub verification: super::records::Verification,
    /// Who was told what about it, oldest first.
    pub notifications: Vec<Notification>,
    /// Failed hosts counted by the values of each label they carry (rack, site, ...), most
    /// first: whether a failure followed a rack or a site.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_by_label: Vec<LabelCounts>,
}

/// Failed hosts per value of one label: `rack`: `r3` 4, `r1` 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelCounts {
    pub label: String,
    pub values: Vec<(String, usize)>,
}

/// Counts the failed targets' labels, key by key (in name order), values most first (ties by
/// name).
#[must_use]
pub fn failed_by_label(targets: &[super::records::TargetView]) -> Vec<LabelCounts> {
    let mut by: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, usize>> = Default::default();
    for t in targets.iter().filter(|t| t.status.is_finished() && t.status != super::TargetStatus::Succeeded) {
        for (k, v) in &t.labels {
            *by.entry(k.as_str()).or_default().entry(v.as_str()).or_default() += 1;
        }
    }
    by.into_iter()
        .map(|(label, values)| {
            let mut values: Vec<(String, usize)> = values.into_iter().map(|(v, n)| (v.to_owned(), n)).collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            LabelCounts { label: label.to_owned(), values }
        })
        .collect()
}

/// Builds the timeline: the plan, each phase's gate, start and end, the first failure of each
/// phase, every decision, and the finish, in time order.
#[must_use]
pub fn timeline(
    d: &DeploymentSummary,
    phases: &[PhaseTimes],
    decisions: &[AuditRecord],
    groups: &[ErrorGroup],
    first_failures: &[(String, DateTime<Utc>, String)],
    zone: Tz,
) -> Vec<TimelineEntry> {
    let entry = |at, kind, phase: Option<&str>, who: Option<&str>, text: String| TimelineEntry {
        at,
        kind,
        phase: phase.map(str::to_owned),
        who: who.map(str::to_owned),
        text,
    };
    let mut t = vec![entry(
        d.created_at,
        Moment::Planned,
        None,
        Some(&d.requested_by),
        format!("planned by {}", d.requested_by),
    )];
    for p in phases {
        let name = Some(p.name.as_str());
        if let Some(at) = p.gate_opened {
            t.push(entry(at, Moment::GateOpened, name, None, format!("gate of {} opened", p.name)));
        }
        if let Some(at) = p.started {
            t.push(entry(at, Moment::PhaseStarted, name, None, format!("{} started", p.name)));
        }
        if let Some(at) = p.finished {
            let (kind, what) = if p.failed {
                (Moment::BudgetExceeded, "failed: failure budget exceeded")
            } else {
                (Moment::PhaseSucceeded, "succeeded")
            };
            t.push(entry(at, kind, name, None, format!("{} {what}", p.name)));
        }
    }
    for (phase, at, host) in first_failures {
        let group =
            groups.iter().find(|g| g.sample_hosts.contains(host)).map_or(String::new(), |g| format!(": {}", g.pattern));
        t.push(entry(
            *at,
            Moment::FirstFailure,
            Some(phase),
            None,
            format!("first failure in {phase} on {host}{group}"),
        ));
    }
    // The plan's own record is the entry above.
    for r in decisions.iter().filter(|r| r.decision != super::gate::view::PLAN_RECORD) {
        let note = r.note(zone);
        let why = if note.is_empty() { String::new() } else { format!(" ({note})") };
        // Records of the whole deployment (a completed review) have no phase.
        let phase = Some(r.phase.as_str()).filter(|p| !p.is_empty());
        let what = match phase {
            Some(p) => format!("{p} {} by {}{why}", r.label(), r.person),
            None => format!("{} by {}{why}", r.label(), r.person),
        };
        t.push(entry(r.decided_at, Moment::Decision, phase, Some(&r.person), what));
    }
    if let Some(at) = d.finished_at.filter(|_| d.status.is_final()) {
        t.push(entry(at, Moment::Finished, None, None, format!("finished: {}", d.status)));
    }
    // Stable: entries of one instant keep the order above (plan, gate, start, end, ...).
    t.sort_by_key(|e| e.at);
    t
}

/// The value at quantile `q` of sorted samples.
#[must_use]
pub fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Durations of each phase's steps (ms samples per host) beside the model's usual p50 (ms).
#[must_use]
pub fn step_stats(samples: Vec<(String, String, Vec<i64>)>, usual: &[(String, i64)]) -> Vec<StepStat> {
    #[allow(clippy::cast_precision_loss)]
    let secs = |ms: i64| ms as f64 / 1000.0;
    samples
        .into_iter()
        .filter(|(_, _, s)| !s.is_empty())
        .map(|(phase, step, mut s)| {
            s.sort_unstable();
            let p50 = quantile(&s, 0.5);
            let usual_p50 = usual.iter().find(|(u, _)| *u == step).map(|&(_, ms)| ms);
            StepStat {
                phase,
                step,
                hosts: s.len(),
                p50_s: secs(p50),
                p95_s: secs(quantile(&s, 0.95)),
                usual_p50_s: usual_p50.map(secs),
                outlier: usual_p50.is_some_and(|u| u > 0 && p50 > 2 * u),
            }
        })
        .collect()
}

/// The release record, checklist and conformance sections of the report.
fn verification_md(m: &mut String, v: &super::records::Verification, when: &dyn Fn(DateTime<Utc>) -> String) {
    if let Some(r) = v.release_record.as_ref().filter(|r| !r.is_empty()) {
        let _ = writeln!(m, "\n## Release record\n");
        for c in &r.components {
            let _ = writeln!(m, "- component `{}@{}` `{}`", cell(&c.name), cell(&c.version), c.checksum);
        }
        if let Some(n) = &r.notes {
            let _ = writeln!(m, "- notes: {}", cell(n));
        }
        if let Some(u) = &r.notes_url {
            let _ = writeln!(m, "- notes: <{}>", cell(u));
        }
        for e in &r.evidence {
            let _ = writeln!(m, "- test evidence: <{}>", cell(e));
        }
    }
    if !v.checklist.is_empty() {
        let _ =
            writeln!(m, "\n## Checklist\n\n| List | Item | State | By | When | Evidence |\n|---|---|---|---|---|---|");
        for i in &v.checklist {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                i.list,
                cell(&i.text),
                i.state,
                cell(i.ticked_by.as_deref().unwrap_or("")),
                i.ticked_at.map(when).unwrap_or_default(),
                cell(i.evidence.as_deref().unwrap_or(""))
            );
        }
    }
    if !v.conformance.is_empty() {
        let _ = writeln!(
            m,
            "\n## Conformance flags\n\n| Flag | Phase | Events | First | Last | Targets |\n|---|---|---:|---|---|---|"
        );
        for f in &v.conformance {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                f.kind.describe(),
                cell(f.phase.as_deref().unwrap_or("")),
                f.count,
                when(f.first_at),
                when(f.last_at),
                cell(&f.sample_targets.join(", "))
            );
        }
    }
}

/// The report as Markdown for a change record (renders on GitHub and GitLab); every text from
/// the log is sanitised and table cells escaped.
#[must_use]
pub fn markdown(r: &Report, tz: Tz) -> String {
    let d = &r.deployment;
    let when = |t: DateTime<Utc>| super::time::at(t, tz);
    let mut m = String::new();
    let _ =
        writeln!(m, "# {} {}@{} → {}: {}\n", d.key, cell(&d.release), cell(&d.version), cell(&d.environment), d.status);
    let _ = writeln!(m, "| | |\n|---|---|");
    let _ = writeln!(m, "| Release | `{}@{}` |", cell(&d.release), cell(&d.version));
    let _ = writeln!(m, "| Environment | {} |", cell(&d.environment));
    let _ = writeln!(m, "| Model | {} ({}) |", cell(&d.model), cell(&d.technique));
    let _ = writeln!(m, "| Requested by | {} |", cell(&d.requested_by));
    if let Some(c) = &d.change_ref {
        let _ = writeln!(m, "| Change | {} |", cell(c));
    }
    let _ = writeln!(m, "| Planned start | {} |", when(d.planned_at));
    if let Some(s) = d.started_at {
        let _ = writeln!(m, "| Started | {} |", when(s));
    }
    if let Some(f) = d.finished_at {
        let _ = writeln!(m, "| Finished | {} |", when(f));
    }
    let _ = writeln!(
        m,
        "| Result | **{}**: {} of {} hosts succeeded, {} failed |",
        d.status, d.succeeded, d.targets, d.failed
    );
    let _ = writeln!(m, "| Review | {} |", r.review_state);

    let _ = writeln!(m, "\n## Plan\n\n| Phase | Hosts | Failure budget | Gate | Result |\n|---|---:|---:|---|---|");
    for p in &r.phases {
        let gate = p.gate.as_ref().map_or("—".to_owned(), |g| {
            let roles = if g.roles.is_empty() { String::new() } else { format!(" from {}", g.roles.join(", ")) };
            format!("{} approval(s){roles}", g.approvals)
        });
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} ({} ok, {} failed) |",
            cell(&p.name),
            p.targets,
            p.failure_budget,
            cell(&gate),
            p.status,
            p.succeeded,
            p.failed
        );
    }

    verification_md(&mut m, &r.verification, &when);

    let _ = writeln!(m, "\n## Timeline\n\n| Time | Phase | What |\n|---|---|---|");
    for e in &r.timeline {
        let _ = writeln!(m, "| {} | {} | {} |", when(e.at), cell(e.phase.as_deref().unwrap_or("")), cell(&e.text));
    }

    let _ = writeln!(m, "\n## Decisions\n");
    if r.decisions.is_empty() {
        let _ = writeln!(m, "No decisions were recorded.");
    } else {
        let _ = writeln!(m, "| Time | Phase | Decision | By | Reason, comment, flags |\n|---|---|---|---|---|");
        for a in &r.decisions {
            let role = a.role.as_deref().map_or(String::new(), |x| format!(" ({x})"));
            let os = a
                .os_user
                .as_deref()
                .filter(|u| *u != a.person && !u.is_empty())
                .map_or(String::new(), |u| format!(", account {u}"));
            let _ = writeln!(
                m,
                "| {} | {} | {} | {}{}{} | {} |",
                when(a.decided_at),
                cell(&a.phase),
                a.label(),
                cell(&a.person),
                cell(&role),
                cell(&os),
                cell(&a.note(tz))
            );
        }
    }

    let _ = writeln!(m, "\n## Notifications\n");
    if r.notifications.is_empty() {
        let _ = writeln!(m, "Nobody was notified.");
    } else {
        let _ = writeln!(m, "| Time | To | What | Subject |\n|---|---|---|---|");
        for n in &r.notifications {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                when(n.created_at),
                cell(&n.recipient),
                cell(&n.kind),
                cell(&n.subject)
            );
        }
    }

    let _ = writeln!(m, "\n## Errors\n");
    if r.error_groups.is_empty() {
        let _ = writeln!(m, "No host failed.");
    } else {
        let _ = writeln!(m, "| Hosts | Error | Step | First | Last | Sample hosts |\n|---:|---|---|---|---|---|");
        for g in &r.error_groups {
            let _ = writeln!(
                m,
                "| {} | `{}` | {} | {} | {} | {} |",
                g.hosts,
                cell(&g.pattern).replace('`', "'"),
                cell(&g.steps.join(", ")),
                when(g.first_at),
                when(g.last_at),
                cell(&g.sample_hosts.join(", "))
            );
        }
    }
    if !r.silent_hosts.is_empty() {
        let _ = writeln!(m, "\nSilent when it ended ({}): {}", r.silent_hosts.len(), cell(&r.silent_hosts.join(", ")));
    }
    if !r.step_durations.is_empty() {
        let _ = writeln!(
            m,
            "\n## Durations\n\n| Phase | Step | Hosts | p50 | p95 | Usual p50 |\n|---|---|---:|---:|---:|---:|"
        );
        for s in &r.step_durations {
            let usual = s.usual_p50_s.map_or("—".to_owned(), |u| format!("{u:.1}s"));
            let flag = if s.outlier { " ⚠ slow" } else { "" };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {:.1}s{flag} | {:.1}s | {usual} |",
                cell(&s.phase),
                cell(&s.step),
                s.hosts,
                s.p50_s,
                s.p95_s
            );
        }
    }

    let _ = writeln!(m, "\n## Review\n");
    match &r.review {
        None => {
            let _ = writeln!(m, "No review written ({}).", r.review_state);
        }
        Some(v) => {
            let c = &v.content;
            let _ = writeln!(m, "State: **{}** · by {}\n", c.state.as_str(), cell(&v.authors.join(", ")));
            for (title, body) in [
                ("Summary", &c.summary),
                ("Impact", &c.impact),
                ("Root cause", &format!("{} ({})", c.root_cause, c.cause_category)),
                ("Lessons learnt", &c.lessons),
            ] {
                let _ = writeln!(m, "**{title}:** {}\n", sanitize(body));
            }
            if !c.contributing_factors.is_empty() {
                let _ = writeln!(m, "**Contributing factors:**\n");
                for f in &c.contributing_factors {
                    let _ = writeln!(m, "- {}", sanitize(f));
                }
                m.push('\n');
            }
            if !c.actions.is_empty() {
                let _ = writeln!(m, "| # | Action | Owner | Due | Done |\n|---:|---|---|---|---|");
                for (i, a) in c.actions.iter().enumerate() {
                    let _ = writeln!(
                        m,
                        "| {} | {} | {} | {} | {} |",
                        i + 1,
                        cell(&a.text),
                        cell(&a.owner),
                        a.due,
                        if a.done { "yes" } else { "no" }
                    );
                }
            }
        }
    }
    m
}

/// Text for one Markdown table cell: sanitised, on one line, pipes escaped.
fn cell(s: &str) -> String {
    sanitize(&s.replace(['\n', '\r'], " ")).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::{Failure, group};
    use crate::domain::{DeploymentKey, DeploymentStatus};
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 10, minute, 0).single().expect("valid")
    }

    fn summary() -> DeploymentSummary {
        DeploymentSummary {
            key: DeploymentKey(7),
            release: "payments-api".into(),
            version: "2.5.0".into(),
            change_ref: Some("CHG-1".into()),
            environment: "production".into(),
            model: "phased".into(),
            technique: "phased".into(),
            requested_by: "sam".into(),
            status: DeploymentStatus::RolledBack,
            planned_at: at(0),
            created_at: at(0),
            started_at: Some(at(2)),
            finished_at: Some(at(30)),
            steps: vec!["install".into()],
            targets: 3,
            succeeded: 1,
            failed: 2,
            running: 0,
            current_phase: Some("wave-1".into()),
            last_event_seq: 9,
        }
    }

    #[test]
    fn the_timeline_orders_every_moment() {
        let phases = [
            PhaseTimes {
                name: "pilot".into(),
                gate_opened: Some(at(0)),
                started: Some(at(2)),
                finished: Some(at(5)),
                failed: false,
            },
            PhaseTimes {
                name: "wave-1".into(),
                gate_opened: Some(at(5)),
                started: Some(at(9)),
                finished: Some(at(12)),
                failed: true,
            },
        ];
        let failures =
            [Failure { target: "w-2".into(), step: "install".into(), at: at(10), message: "disk full on /a/b".into() }];
        let groups = group(&failures);
        let t = timeline(&summary(), &phases, &[], &groups, &[("wave-1".into(), at(10), "w-2".into())], chrono_tz::UTC);
        let kinds: Vec<Moment> = t.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                Moment::Planned,
                Moment::GateOpened,
                Moment::PhaseStarted,
                Moment::PhaseSucceeded,
                Moment::GateOpened,
                Moment::PhaseStarted,
                Moment::FirstFailure,
                Moment::BudgetExceeded,
                Moment::Finished
            ]
        );
        assert!(t[6].text.contains("w-2: disk full on <path>"), "{}", t[6].text);
        assert_eq!(t[8].text, "finished: rolled_back");
    }

    #[test]
    fn step_stats_mark_slow_steps_against_the_usual() {
        let stats = step_stats(
            vec![
                ("pilot".into(), "install".into(), vec![3000, 1000, 2000]),
                ("pilot".into(), "verify".into(), vec![9000, 9000]),
                ("pilot".into(), "empty".into(), vec![]),
            ],
            &[("install".into(), 2000), ("verify".into(), 3000)],
        );
        assert_eq!(stats.len(), 2);
        assert_eq!((stats[0].p50_s, stats[0].p95_s, stats[0].outlier), (2.0, 3.0, false));
        assert!(stats[1].outlier, "9 s against a usual 3 s");
    }

    #[test]
    fn markdown_escapes_what_agents_wrote() {
        let failures = [Failure {
            target: "w|2".into(),
            step: "install".into(),
            at: at(10),
            message: "bad \u{1b}[2J | pipe\nnext".into(),
        }];
        let report = Report {
            deployment: summary(),
            phases: Vec::new(),
            timeline: Vec::new(),
            decisions: Vec::new(),
            error_groups: group(&failures),
            step_durations: Vec::new(),
            silent_hosts: Vec::new(),
            review_state: ReviewState::Owed,
            review: None,
            verification: crate::domain::records::Verification::default(),
            notifications: Vec::new(),
            failed_by_label: Vec::new(),
        };
        let md = markdown(&report, chrono_tz::UTC);
        assert!(md.starts_with("# DEP-7 payments-api@2.5.0 → production: rolled_back"), "{md}");
        assert!(!md.contains('\u{1b}'), "{md}");
        assert!(md.contains("bad \\e[2J \\| pipe next"), "{md}");
        assert!(md.contains("w\\|2"), "{md}");
        assert!(md.contains("No review written (owed)."), "{md}");
    }

    #[test]
    fn failed_hosts_are_counted_by_each_label_most_first() {
        use crate::domain::TargetStatus;
        let host = |status, rack: &str, site: Option<&str>| crate::domain::records::TargetView {
            name: "h".into(),
            phase: "p".into(),
            status,
            last_step: None,
            last_status: None,
            last_message: None,
            last_error: None,
            last_at: None,
            seen_at: None,
            labels: [("rack".to_owned(), rack.to_owned())]
                .into_iter()
                .chain(site.map(|s| ("site".to_owned(), s.to_owned())))
                .collect(),
        };
        let targets = vec![
            host(TargetStatus::Failed, "r3", Some("paris")),
            host(TargetStatus::Lost, "r3", None),
            host(TargetStatus::Failed, "r1", Some("paris")),
            host(TargetStatus::Succeeded, "r1", Some("berlin")),
            host(TargetStatus::Running, "r2", None),
        ];
        let counts = failed_by_label(&targets);
        assert_eq!(
            counts,
            vec![
                LabelCounts { label: "rack".into(), values: vec![("r3".into(), 2), ("r1".into(), 1)] },
                LabelCounts { label: "site".into(), values: vec![("paris".into(), 2)] },
            ]
        );
    }
}
