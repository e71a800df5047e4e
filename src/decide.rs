//! Decisions at gates and on failed phases: the one path the CLI, the dashboard and the demo
//! take.
//!
//! Layer: above [`crate::store`] and [`crate::config`], below the front ends (`cli`, `tui`,
//! `demo`), which only collect an [`Ask`] and show what comes back. [`decide`] does the rest
//! once: it refuses a name that is not a person of the log's team, builds the
//! [`DecisionRequest`] (the store checks the policy against the stored team in the transaction
//! that records it) and words the outcome: [`Recorded`] on success, [`DecideError`] naming the
//! rule that refused it.
//! [`identity`] says who the operator is.

pub mod checklist;
pub mod identity;
pub mod improve;
pub mod review;
pub mod schedule;

pub use checklist::{TickAsk, TickFailure, Ticked};
pub use identity::{Operator, account_of, group_id, os_user, real_uid};

use crate::config::Config;
use crate::domain::DeploymentKey;
use crate::domain::analysis::Verdict;
use crate::domain::gate::{Decision, GateState, Refusal};
use crate::domain::model::Automatic;
use crate::store::{DecisionOutcome, DecisionRequest, GateError, Store, StoreError};
use chrono::{DateTime, Utc};
use std::fmt;

/// A decision someone asks for, as a front end collects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub key: DeploymentKey,
    pub phase: String,
    pub decision: Decision,
    /// Kept in the audit trail.
    pub comment: Option<String>,
    /// The written reason of a rejection or of a freeze override.
    pub reason: Option<String>,
}

/// What decisions are worded in (the display zone). Who may decide, and the windows and
/// freezes a decision is checked against, come from the log ([`Store::time_rules`]), never
/// from here.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Refusals name their times in this zone.
    pub timezone: chrono_tz::Tz,
}

impl Rules {
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self { timezone: config.timezone }
    }
}

/// The change windows and freezes in force for the log ([`Store::time_rules`]: those stored
/// with its team, what every decision is checked against, with the emergency freezes); for a
/// log that holds no team yet — where nothing can be decided — the config's, with the same
/// merge, so what the schedule shows before the first plan is what the plan will store.
pub fn time_rules(config: &Config, store: &Store) -> Result<crate::domain::schedule::TimeRules, StoreError> {
    let stored = store.team()?.and_then(|t| t.time_rules);
    if stored.is_some() {
        return store.time_rules();
    }
    let own = crate::domain::schedule::TimeRules { windows: config.windows.clone(), freezes: config.freezes.clone() };
    Ok(crate::domain::schedule::TimeRules::in_force(Some(own), store.emergency_freezes()?))
}

/// An operator with the rules they decide under: what a long-lived front end (the dashboard)
/// keeps.
#[derive(Debug, Clone)]
pub struct Desk {
    pub operator: Operator,
    pub rules: Rules,
    /// The config the desk was set up with: who owes which failure review
    /// ([`Config::review_owers`]) and which deployments owe one.
    pub config: std::sync::Arc<Config>,
}

impl Desk {
    #[must_use]
    pub fn new(config: &Config, operator: Operator) -> Self {
        Self { operator, rules: Rules::from_config(config), config: std::sync::Arc::new(config.clone()) }
    }

    /// Records `ask` as this desk's operator at `now`; see [`decide`].
    pub fn decide(&self, store: &mut Store, ask: &Ask, now: DateTime<Utc>) -> Result<Recorded, DecideError> {
        decide(store, &self.rules, &self.operator, ask, now)
    }

    /// Who `ask` would notify, as this desk's operator at `now`; see [`preview`].
    pub fn preview(
        &self,
        store: &mut Store,
        ask: &Ask,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::notify::Told>, DecideError> {
        preview(store, &self.rules, &self.operator, ask, now).map(|(_, told)| told)
    }

    /// Ticks a checklist item as this desk's operator at `now`; see [`checklist::tick`].
    pub fn tick(&self, store: &mut Store, ask: &TickAsk, now: DateTime<Utc>) -> Result<Ticked, TickFailure> {
        checklist::tick(store, &self.rules, &self.operator, ask, now)
    }
}

/// Names a decision in messages: `approve of DEP-5 wave-1 by lee`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct What {
    pub decision: Decision,
    pub key: DeploymentKey,
    pub phase: String,
    pub person: String,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} {} by {}", self.decision, self.key, self.phase, self.person)
    }
}

/// A recorded decision. Its `Display` is what every front end says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub what: What,
    pub outcome: DecisionOutcome,
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let What { decision, key, phase, person } = &self.what;
        let a = &self.outcome.allowed;
        let role = a.role.as_deref().map_or(String::new(), |r| format!(" as {r}"));
        let freeze = a.freeze_override.as_deref().map_or(String::new(), |f| format!(", overriding freeze \"{f}\""));
        write!(f, "recorded: {key} {phase} {decision} by {person}{role}{freeze}: ")?;
        match decision {
            Decision::Approve if a.after == GateState::Approved => {
                write!(f, "gate approved ({} of {})", a.approvals, a.required)?;
            }
            Decision::Approve => write!(
                f,
                "{} of {} approvals, {} missing",
                a.approvals,
                a.required,
                a.required.saturating_sub(a.approvals)
            )?,
            _ => write!(f, "deployment {}", self.outcome.deployment_status.as_str().replace('_', " "))?,
        }
        write!(f, " (audit record {})", self.outcome.audit_id)?;
        for flag in &self.outcome.flags {
            write!(f, "; flagged: {flag}")?;
        }
        Ok(())
    }
}

/// Why a decision was not recorded. Its `Display` is what every front end says about it.
/// The preview's lines: one per person told, with the happening and the channels.
#[must_use]
pub fn told_lines(told: &[crate::domain::notify::Told]) -> Vec<String> {
    if told.is_empty() {
        return vec!["nobody is notified".into()];
    }
    told.iter().map(|t| format!("{} ({}) via {}: {}", t.person, t.kind, t.channels.join(", "), t.subject)).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The operator's name is not a person of the log's team.
    #[error(
        "{what} refused: \"{}\" is not a person of the log's team (set SHIPDECK_OPERATOR or `operator` to your name)",
        what.person
    )]
    NotAPerson { what: Box<What> },
    /// The log's team does not know the person, or the log holds no team.
    #[error("{0}")]
    Team(String),
    /// A stored policy does not parse: nothing was decided (fail closed).
    #[error("{what} failed: {text}")]
    Damaged { what: Box<What>, text: String },
    /// The policy refused it; `text` names the rule with its times in the configured zone.
    #[error("{what} refused: {text}")]
    Refused { what: Box<What>, refusal: Box<Refusal>, text: String },
    /// The phase does not exist or has no gate: the ask itself is wrong.
    #[error("{0}")]
    Ask(GateError),
    /// The log could not be read or written.
    #[error("{what} failed: {source}")]
    Store { what: Box<What>, source: StoreError },
}

impl DecideError {
    /// Whether the policy (or the operator's identity) refused the decision, as opposed to a
    /// wrong ask or a failing log.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::NotAPerson { .. } | Self::Refused { .. } | Self::Team(_))
    }
}

/// Records `ask` as `who` at `now` under `rules`: the one decision path.
///
/// A name that is not a person of the log's team is refused before the log is written.
/// Otherwise the store reads the person's roles from the stored team, checks the policy and
/// records the decision (or the refusal) in one write transaction, so concurrent deciders are
/// counted exactly.
pub fn decide(
    store: &mut Store,
    rules: &Rules,
    who: &Operator,
    ask: &Ask,
    now: DateTime<Utc>,
) -> Result<Recorded, DecideError> {
    run(store, rules, who, ask, now, false).map(|(recorded, _)| recorded)
}

/// What [`decide`] would record and who it would tell, over which channels, with nothing
/// written: the same check and the same notification rules run in a transaction that is rolled
/// back. The dashboard's confirm dialog and `--dry-run` show it.
pub fn preview(
    store: &mut Store,
    rules: &Rules,
    who: &Operator,
    ask: &Ask,
    now: DateTime<Utc>,
) -> Result<(Recorded, Vec<crate::domain::notify::Told>), DecideError> {
    run(store, rules, who, ask, now, true)
}

fn run(
    store: &mut Store,
    rules: &Rules,
    who: &Operator,
    ask: &Ask,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<(Recorded, Vec<crate::domain::notify::Told>), DecideError> {
    let what = What { decision: ask.decision, key: ask.key, phase: ask.phase.clone(), person: who.name.clone() };
    if !who.is_person() {
        return Err(DecideError::NotAPerson { what: Box::new(what) });
    }
    let req = DecisionRequest {
        key: ask.key,
        phase: &ask.phase,
        decision: ask.decision,
        person: &who.name,
        os_user: &who.os_user,
        comment: ask.comment.as_deref(),
        reason: ask.reason.as_deref(),
        now,
        automatic: None,
    };
    let result = if dry_run { store.preview_decision(&req) } else { store.decide(&req).map(|o| (o, Vec::new())) };
    match result {
        Ok((outcome, told)) => Ok((Recorded { what, outcome }, told)),
        Err(GateError::Refused(refusal)) => {
            let text = refusal.describe(rules.timezone);
            Err(DecideError::Refused { what: Box::new(what), refusal: Box::new(refusal), text })
        }
        Err(GateError::Store(source)) => Err(DecideError::Store { what: Box::new(what), source }),
        Err(e @ (GateError::UnknownPhase { .. } | GateError::NoGate { .. })) => Err(DecideError::Ask(e)),
        Err(GateError::NotInTeam(text)) => Err(DecideError::Team(text)),
        Err(e @ GateError::Corrupt { .. }) => Err(DecideError::Damaged { what: Box::new(what), text: e.to_string() }),
    }
}

/// Takes the decisions shipdeck makes itself, through the same path and audit trail as people's:
/// each automatic gate holding a deployment now (a rolling batch whose batch before succeeded
/// within its budget) is approved as [`Automatic::actor`] (`shipdeck (rolling)`), with the
/// numbers it was approved on as the comment. A failed batch holds no gate (its phase failed):
/// the deployment waits there for a person's retry, abort or rollback. A gate a rule refuses
/// now (a freeze, a halt) is left alone and not recorded; the next look tries again.
///
/// [`Automatic::actor`]: crate::domain::model::Automatic::actor
pub fn automatic(store: &mut Store, now: DateTime<Utc>) -> Result<Taken, DecideError> {
    let gates = store.automatic_gates(now).map_err(|source| DecideError::Store {
        what: Box::new(What {
            decision: Decision::Approve,
            key: DeploymentKey(0),
            phase: String::new(),
            person: "shipdeck".into(),
        }),
        source,
    })?;
    let mut recorded = Vec::new();
    let mut halted = Vec::new();
    for g in gates {
        let actor = g.automatic.actor();
        let comment = match (g.automatic, &g.analysis) {
            (Automatic::Rolling, _) => format!(
                "{} succeeded within its failure budget ({} of {} target(s) failed, budget {}): {} starts",
                g.previous, g.previous_failed, g.previous_targets, g.previous_budget, g.phase
            ),
            (Automatic::Analysis, Some(a)) if a.verdict == Verdict::Pass => {
                format!("{}: {} starts", a.summary(), g.phase)
            }
            (Automatic::Analysis, Some(a)) if a.verdict == Verdict::Fail => {
                let what =
                    What { decision: Decision::Reject, key: g.key, phase: g.previous.clone(), person: actor.into() };
                match store.halt_on_analysis(g.key, a, now) {
                    Ok(Some(id)) => {
                        halted.push(Halted { key: g.key, phase: g.previous.clone(), audit_id: id, text: a.summary() })
                    }
                    Ok(None) => {}
                    Err(source) => return Err(DecideError::Store { what: Box::new(what), source }),
                }
                continue;
            }
            // Inconclusive, a metric missing, not started: nothing is decided; people may.
            (Automatic::Analysis, _) => continue,
        };
        let what = What { decision: Decision::Approve, key: g.key, phase: g.phase.clone(), person: actor.to_owned() };
        let req = DecisionRequest {
            key: g.key,
            phase: &g.phase,
            decision: Decision::Approve,
            person: actor,
            os_user: "shipdeck",
            comment: Some(&comment),
            reason: None,
            now,
            automatic: Some(g.automatic),
        };
        match store.decide(&req) {
            Ok(outcome) => recorded.push(Recorded { what, outcome }),
            // Refused now (a freeze, a halt in between): nothing recorded, tried again later.
            Err(GateError::Refused(_)) => {}
            Err(GateError::Store(source)) => return Err(DecideError::Store { what: Box::new(what), source }),
            Err(e) => return Err(DecideError::Damaged { what: Box::new(what), text: e.to_string() }),
        }
    }
    Ok(Taken { approved: recorded, halted })
}

/// The decisions one look of the automation took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taken {
    /// Gates approved (rolling batches, passed canary analyses).
    pub approved: Vec<Recorded>,
    /// Deployments halted on a failed canary analysis.
    pub halted: Vec<Halted>,
}

/// A deployment halted by its failed canary analysis. Its `Display` is what front ends say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halted {
    pub key: DeploymentKey,
    /// The canary phase, failed by its analysis.
    pub phase: String,
    pub audit_id: i64,
    /// The analysis's summary, with its numbers.
    pub text: String,
}

impl fmt::Display for Halted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recorded: {} {} halt by {}: deployment failed, waiting for a person (audit record {}): {}",
            self.key,
            self.phase,
            Automatic::Analysis.actor(),
            self.audit_id,
            self.text
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DeploymentStatus;
    use crate::domain::gate::Allowed;

    fn recorded(decision: Decision, approvals: u32, required: u32, freeze: Option<&str>) -> Recorded {
        let key: DeploymentKey = "DEP-7".parse().expect("key");
        let after = if approvals >= required { GateState::Approved } else { GateState::Pending };
        Recorded {
            what: What { decision, key, phase: "wave-1".into(), person: "omar".into() },
            outcome: DecisionOutcome {
                audit_id: 12,
                decision,
                allowed: Allowed {
                    role: Some("deployment_manager".into()),
                    freeze_override: freeze.map(str::to_owned),
                    window: None,
                    before: GateState::Pending,
                    after,
                    approvals,
                    required,
                },
                deployment_status: DeploymentStatus::RolledBack,
                flags: Vec::new(),
            },
        }
    }

    #[test]
    fn an_approval_says_how_many_are_still_missing_and_the_freeze_it_overrode() {
        assert_eq!(
            recorded(Decision::Approve, 1, 3, Some("year-end")).to_string(),
            "recorded: DEP-7 wave-1 approve by omar as deployment_manager, overriding freeze \"year-end\": \
             1 of 3 approvals, 2 missing (audit record 12)"
        );
        assert_eq!(
            recorded(Decision::Approve, 2, 2, None).to_string(),
            "recorded: DEP-7 wave-1 approve by omar as deployment_manager: gate approved (2 of 2) (audit record 12)"
        );
        assert!(
            recorded(Decision::Rollback, 0, 0, None)
                .to_string()
                .ends_with(": deployment rolled back (audit record 12)")
        );
    }

    #[test]
    fn a_name_that_is_not_a_person_is_refused_before_the_log_is_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let config = Config::built_in();
        let ask = Ask {
            key: "DEP-1".parse().expect("key"),
            phase: "pilot".into(),
            decision: Decision::Approve,
            comment: None,
            reason: None,
        };
        let who = Operator::named(&config, "mallory", "mal");
        let err = Desk::new(&config, who).decide(&mut store, &ask, chrono::DateTime::UNIX_EPOCH).expect_err("refused");
        assert!(err.is_refusal());
        assert_eq!(
            err.to_string(),
            "approve of DEP-1 pilot by mallory refused: \"mallory\" is not a person of the log's team \
             (set SHIPDECK_OPERATOR or `operator` to your name)"
        );
        // A person of the log's team asking the same is told about the deployment instead.
        store
            .sync_team(&config.team(), &[], crate::store::SyncBy::Seed { os_user: "d" }, chrono::DateTime::UNIX_EPOCH)
            .expect("seeds");
        let dana = Operator::named(&config, "dana", "d");
        let err = Desk::new(&config, dana).decide(&mut store, &ask, chrono::DateTime::UNIX_EPOCH).expect_err("unknown");
        assert!(matches!(err, DecideError::Store { .. }) && !err.is_refusal(), "{err}");
    }

    /// Every host of `hosts` reports `undrain` (the rolling model's last step) as `status`.
    fn report(
        store: &mut Store,
        key: DeploymentKey,
        hosts: std::ops::RangeInclusive<usize>,
        status: &str,
        at: DateTime<Utc>,
    ) {
        let nonce = store.last_seq().expect("seq");
        let lines: Vec<String> = hosts
            .map(|i| {
                format!(
                    r#"{{"id":"u-{i}-{nonce}","deployment":"{key}","target":"web-{i:02}","step":"undrain","status":"{status}"}}"#
                )
            })
            .collect();
        crate::store::testing::ingest(store, &lines, at);
    }

    #[test]
    fn rolling_batches_advance_automatically_and_pause_on_failure_for_a_person() {
        use crate::store::testing;
        let (_dir, mut store) = testing::open();
        let t0 = testing::t0();
        let key = testing::Plan::new("rolling", 25).plan(&mut store);
        let phases: Vec<String> =
            store.detail(key, false).expect("detail").phases.iter().map(|p| p.name.clone()).collect();
        assert_eq!(phases, vec!["batch-1", "batch-2", "batch-3"]);
        // Nothing to do while batch-1 runs.
        assert!(automatic(&mut store, t0).expect("runs").approved.is_empty());
        report(&mut store, key, 1..=10, "succeeded", t0);
        assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::AwaitingApproval);
        let done = automatic(&mut store, t0).expect("runs").approved;
        assert_eq!(done.len(), 1);
        assert_eq!(
            done[0].to_string(),
            format!(
                "recorded: {key} batch-2 approve by shipdeck (rolling) as automatic: gate approved (1 of 1) (audit record {})",
                done[0].outcome.audit_id
            )
        );
        assert!(automatic(&mut store, t0).expect("runs").approved.is_empty(), "approved once");
        let audit = store.audit_records(Some(key)).expect("audit");
        let last = audit.last().expect("a record");
        assert_eq!((last.person.as_str(), last.decision.as_str()), ("shipdeck (rolling)", "approve"));
        assert_eq!(
            last.comment.as_deref(),
            Some("batch-1 succeeded within its failure budget (0 of 10 target(s) failed, budget 1): batch-2 starts")
        );
        // batch-2 fails past its budget of 1: the rollout pauses there for a person.
        report(&mut store, key, 11..=12, "failed", t0);
        assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::Failed);
        assert!(
            automatic(&mut store, t0).expect("runs").approved.is_empty(),
            "no automatic decision on a failed batch"
        );
        let gate3 = store.gate(key, "batch-3").expect("gate");
        assert_eq!(gate3.state, crate::domain::gate::GateState::Waiting);
        // A person retries; the batch succeeds; batch-3 starts on its own.
        let config = Config::built_in();
        let ask = Ask { key, phase: "batch-2".into(), decision: Decision::Retry, comment: None, reason: None };
        Desk::new(&config, Operator::named(&config, "omar", "o")).decide(&mut store, &ask, t0).expect("retry");
        report(&mut store, key, 11..=20, "succeeded", t0);
        let done = automatic(&mut store, t0).expect("runs").approved;
        assert_eq!(done.iter().map(|d| d.what.phase.as_str()).collect::<Vec<_>>(), vec!["batch-3"]);
        // Nobody may claim the automation's name: it is not a person of the team.
        let fake = Operator::named(&config, "shipdeck (rolling)", "o");
        let ask = Ask { key, phase: "batch-3".into(), decision: Decision::Approve, comment: None, reason: None };
        assert!(Desk::new(&config, fake).decide(&mut store, &ask, t0).expect_err("refused").is_refusal());
    }

    #[test]
    fn a_supervised_run_is_never_advanced_by_shipdeck() {
        use crate::store::testing;
        let (_dir, mut store) = testing::open();
        let t0 = testing::t0();
        let key = testing::Plan::new("rolling", 25).supervised().plan(&mut store);
        assert_eq!(store.supervised(key).expect("reads"), Some((1, 3)));
        let config = Config::built_in();
        let omar = Desk::new(&config, Operator::named(&config, "omar", "o"));
        let ask =
            |phase: &str| Ask { key, phase: phase.into(), decision: Decision::Approve, comment: None, reason: None };
        omar.decide(&mut store, &ask("batch-1"), t0).expect("a person starts the first batch");
        report(&mut store, key, 1..=10, "succeeded", t0);
        let taken = automatic(&mut store, t0).expect("runs");
        assert!(taken.approved.is_empty() && taken.halted.is_empty(), "batch-2 waits for a person");
        assert_eq!(store.gate(key, "batch-2").expect("gate").state, crate::domain::gate::GateState::Pending);
        omar.decide(&mut store, &ask("batch-2"), t0).expect("a person advances it");
    }
}

#[cfg(test)]
mod canary_tests;
