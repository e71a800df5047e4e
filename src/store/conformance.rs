//! Conformance flags: checking each stored event against what was authorised, in the ingest
//! transaction, and reading the flags back.
//!
//! The hot path stays cheap: what a deployment has authorised (its gates, whether it was
//! halted, its planned start and windows) is read once per batch, each event is compared with
//! it in memory, and flags are tallied in memory and written once per batch. A flag seen for the
//! first time notifies the stakeholders and is recorded in the audit trail.

use super::gates::{self, load_decisions, load_phases, previous_of};
use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::conformance::{Flag, FlagKind, Tally};
use crate::domain::gate::{self as gate_rules, GateState};
use crate::domain::schedule::TimeRules;
use crate::domain::{DeploymentKey, DeploymentStatus};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// What one deployment has authorised, read once per batch.
#[derive(Debug)]
pub(super) struct Authority {
    halted: bool,
    planned_ms: i64,
    environment: String,
    /// The change windows its activity must fall in (empty: any time).
    windows: Vec<String>,
    /// Phases at this index and after have a gate (their own or an earlier one) not approved.
    unapproved_from: usize,
    /// The newest open interval found, so that a busy window is looked up once.
    open: Option<(i64, i64)>,
}

impl Authority {
    pub(super) fn load(conn: &Connection, deployment: i64) -> rusqlite::Result<Option<Self>> {
        let Some((status, planned_ms, environment, windows)) = conn
            .prepare_cached("SELECT status, planned_ms, environment, windows FROM deployments WHERE id = ?1")?
            .query_row([deployment], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let phases = load_phases(conn, deployment)?;
        let mut unapproved_from = phases.len();
        for (i, p) in phases.iter().enumerate() {
            let Some(policy) = &p.gate else { continue };
            let decisions = load_decisions(conn, p.id)?;
            if gate_rules::state(policy, previous_of(&phases, i), &decisions) != GateState::Approved {
                unapproved_from = i;
                break;
            }
        }
        let status: DeploymentStatus = status.parse().unwrap_or(DeploymentStatus::Planned);
        Ok(Some(Self {
            halted: status.is_halted(),
            planned_ms,
            environment,
            windows: windows.and_then(|w| serde_json::from_str(&w).ok()).unwrap_or_default(),
            unapproved_from,
            open: None,
        }))
    }

    /// The flags one event raises. `phase` is its phase index, `planned` whether its target (if
    /// it names one) is in the plan.
    pub(super) fn check(
        &mut self,
        rules: &TimeRules,
        at_ms: i64,
        phase: Option<usize>,
        planned: bool,
        out: &mut Vec<FlagKind>,
    ) {
        if self.halted {
            out.push(FlagKind::AfterHalt);
        }
        if phase.is_some_and(|i| i >= self.unapproved_from) {
            out.push(FlagKind::AheadOfGate);
        }
        if at_ms < self.planned_ms {
            out.push(FlagKind::BeforePlannedStart);
        }
        if !planned {
            out.push(FlagKind::UnplannedTarget);
        }
        if rules.freezes.is_empty() && self.windows.is_empty() {
            return;
        }
        let at = from_ms(at_ms);
        if rules.freeze_at(&self.environment, at).is_some() {
            out.push(FlagKind::InFreeze);
        }
        if !self.windows.is_empty() && !self.open_at(rules, at_ms) {
            out.push(FlagKind::OutsideWindow);
        }
    }

    /// The window rule at `at_ms`: the gates' own check ([`TimeRules::window_open`]), with the
    /// last open stretch remembered so a busy window is looked up once.
    fn open_at(&mut self, rules: &TimeRules, at_ms: i64) -> bool {
        use crate::domain::gate::timing::{WindowState, window_state};
        if self.open.is_some_and(|(s, e)| s <= at_ms && at_ms < e) {
            return true;
        }
        match window_state(&self.windows, &rules.windows, &self.environment, from_ms(at_ms)) {
            WindowState::Open { closes, .. } => {
                self.open = Some((at_ms, closes.timestamp_millis()));
                true
            }
            WindowState::NotRequired => true,
            WindowState::Closed { .. } | WindowState::Never => false,
        }
    }
}

/// Flags tallied by a batch: `(deployment, kind, phase index)`.
pub(super) type Tallies = HashMap<(i64, FlagKind, Option<usize>), Tally>;

/// Writes a batch's tallies; flags new to the log notify and are audited.
pub(super) fn write(
    conn: &Connection,
    tallies: &Tallies,
    phase_names: &dyn Fn(i64, usize) -> Option<String>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let mut keys: Vec<_> = tallies.keys().copied().collect();
    keys.sort();
    for key in keys {
        let (deployment, kind, phase_idx) = key;
        let mut tally = tallies[&key].clone();
        let phase = phase_idx.and_then(|i| phase_names(deployment, i)).unwrap_or_default();
        let stored = conn
            .prepare_cached(
                "SELECT first_ms, last_ms, count, samples FROM conformance_flags
                 WHERE deployment_id = ?1 AND kind = ?2 AND phase = ?3",
            )?
            .query_row(params![deployment, kind.as_str(), phase], |r| {
                Ok(Tally {
                    first_ms: r.get(0)?,
                    last_ms: r.get(1)?,
                    count: r.get(2)?,
                    samples: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                })
            })
            .optional()?;
        let is_new = stored.is_none();
        if let Some(s) = &stored {
            tally.merge(s);
        }
        let samples = serde_json::to_string(&tally.samples).unwrap_or_else(|_| "[]".into());
        conn.prepare_cached(
            "INSERT INTO conformance_flags (deployment_id, kind, phase, first_ms, last_ms, count, samples)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (deployment_id, kind, phase) DO UPDATE SET first_ms = excluded.first_ms,
                 last_ms = excluded.last_ms, count = excluded.count, samples = excluded.samples",
        )?
        .execute(params![
            deployment,
            kind.as_str(),
            phase,
            tally.first_ms,
            tally.last_ms,
            tally.count,
            samples
        ])?;
        if is_new {
            let flag = Flag {
                deployment: DeploymentKey(deployment),
                kind,
                phase: (!phase.is_empty()).then_some(phase),
                first_at: from_ms(tally.first_ms),
                last_at: from_ms(tally.last_ms),
                count: tally.count,
                sample_targets: tally.samples,
            };
            gates::flag_raised(conn, &flag, now_ms)?;
        }
    }
    Ok(())
}

fn flag_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Flag> {
    let phase: String = r.get(2)?;
    Ok(Flag {
        deployment: DeploymentKey(r.get(0)?),
        kind: r.get::<_, String>(1)?.parse().unwrap_or(FlagKind::UnplannedTarget),
        phase: (!phase.is_empty()).then_some(phase),
        first_at: from_ms(r.get(3)?),
        last_at: from_ms(r.get(4)?),
        count: r.get(5)?,
        sample_targets: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
    })
}

impl Store {
    /// Conformance flags of one deployment, or of all, oldest first.
    pub fn conformance(&self, key: Option<DeploymentKey>) -> Result<Vec<Flag>, StoreError> {
        if let Some(k) = key {
            self.summary(k)?;
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT deployment_id, kind, phase, first_ms, last_ms, count, samples FROM conformance_flags
                 WHERE ?1 IS NULL OR deployment_id = ?1 ORDER BY first_ms, id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([key.map(|k| k.0)], flag_row).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// How many flags each deployment has (for the dashboard's list and header).
    pub fn conformance_counts(&self) -> Result<HashMap<DeploymentKey, usize>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT deployment_id, count(*) FROM conformance_flags GROUP BY deployment_id")
            .map_err(|e| self.sql(e))?;
        let rows =
            stmt.query_map([], |r| Ok((DeploymentKey(r.get(0)?), r.get::<_, usize>(1)?))).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::event::parse_line;
    use crate::domain::gate::Decision;
    use crate::domain::{DeploymentModel, ReleaseRef};
    use crate::store::{DecisionRequest, PlanRequest, Submission};
    use chrono::{DateTime, Utc};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    fn plan(store: &mut Store, model_name: &str, model: &DeploymentModel, planned: &str) -> DeploymentKey {
        plan_to(store, "production", model_name, model, planned)
    }

    fn plan_to(
        store: &mut Store,
        environment: &str,
        model_name: &str,
        model: &DeploymentModel,
        planned: &str,
    ) -> DeploymentKey {
        let req = PlanRequest {
            release: "payments-api@2.4.1".parse::<ReleaseRef>().expect("valid"),
            environment: environment.into(),
            model_name: model_name.into(),
            model,
            targets: (1..=4).map(|i| format!("web-{i:02}")).collect(),
            change_ref: None,
            requested_by: "dana".into(),
            release_record: crate::domain::release::ReleaseRecord::default(),
            planned_start: utc(planned),
            planned_end: None,
            now: utc("2026-11-01T00:00:00Z"),
        };
        store.plan(&req).expect("plans").0
    }

    /// Stores one event per `(id, target, at)`, each received when it happened.
    fn send(store: &mut Store, key: DeploymentKey, events: &[(&str, &str, &str)]) {
        for (id, target, at) in events {
            let line = format!(
                r#"{{"id":"{id}","deployment":"{key}","target":"{target}","step":"install","status":"started","at":"{at}"}}"#
            );
            let ev = parse_line(&line, utc(at)).expect("parses");
            let sub = Submission { events: vec![(1, ev)], received_ms: utc(at).timestamp_millis() };
            let out = store.ingest(&[sub]).expect("ingests").remove(0);
            assert_eq!(out.accepted, 1, "{out:?}");
        }
    }

    fn kinds(store: &Store, key: DeploymentKey) -> Vec<(FlagKind, Option<String>, u64)> {
        let mut k: Vec<_> =
            store.conformance(Some(key)).expect("flags").into_iter().map(|f| (f.kind, f.phase, f.count)).collect();
        k.sort();
        k
    }

    #[test]
    fn windows_freezes_and_the_planned_start_flag_what_agents_did_and_keep_it() {
        let (_dir, mut store) = crate::store::testing::open();
        let config = Config::built_in();
        let mut model = config.model("big-bang").expect("shipped").clone();
        model.windows = vec!["weekday-evenings".into()];
        // Not a supervised run: its phase has no gate to run ahead of.
        model.supervised_runs = 0;
        let key = plan(&mut store, "big-bang", &model, "2026-11-26T17:00:00Z");
        send(
            &mut store,
            key,
            &[
                // Thursday 18:30 in Berlin: inside weekday-evenings, after the planned start.
                ("ok", "web-01", "2026-11-26T17:30:00Z"),
                // Thursday 17:30 in Berlin: before the planned start and outside the window.
                ("early", "web-02", "2026-11-26T16:30:00Z"),
                // Tuesday 19:00 in Berlin, inside the window but in the year-end freeze.
                ("frozen", "web-03", "2026-12-22T18:00:00Z"),
                ("frozen-2", "web-04", "2026-12-22T18:05:00Z"),
                // A host nobody planned, in the window.
                ("stray", "db-09", "2026-11-26T17:40:00Z"),
            ],
        );
        let all = Some("all".to_owned());
        assert_eq!(
            kinds(&store, key),
            vec![
                (FlagKind::OutsideWindow, all.clone(), 1),
                (FlagKind::InFreeze, all.clone(), 2),
                (FlagKind::BeforePlannedStart, all.clone(), 1),
                (FlagKind::UnplannedTarget, None, 1),
            ]
        );
        let frozen = store.conformance(Some(key)).expect("flags").into_iter().find(|f| f.kind == FlagKind::InFreeze);
        let frozen = frozen.expect("flagged");
        assert_eq!((frozen.first_at, frozen.last_at), (utc("2026-12-22T18:00:00Z"), utc("2026-12-22T18:05:00Z")));
        assert_eq!(frozen.sample_targets, ["web-03", "web-04"]);
        // Everything was stored all the same: the log is the record of what happened.
        assert_eq!(store.events(key, 10).expect("events").len(), 5);
        // Each flag told the requester once and went into the audit trail.
        let told = store.notifications("dana", false, 20).expect("notifications");
        assert_eq!(told.iter().filter(|n| n.kind == "conformance_flag").count(), 4);
        let audit = store.audit_records(Some(key)).expect("audit");
        assert_eq!(audit.iter().filter(|r| r.decision == "flag").count(), 4);
        assert_eq!(store.audit_verify().expect("reads"), Ok(6), "the team stored with the log, the plan, and 4 flags");
    }

    #[test]
    fn events_after_a_halt_and_ahead_of_a_gate_are_flagged_and_the_gate_stays_in_the_inbox() {
        let (_dir, mut store) = crate::store::testing::open();
        let config = Config::built_in();
        let model = config.model("phased").expect("shipped").clone();
        let key = plan(&mut store, "phased", &model, "2026-11-26T08:00:00Z");
        // The pilot's gate was never approved.
        send(&mut store, key, &[("a", "web-01", "2026-11-26T09:00:00Z")]);
        assert_eq!(kinds(&store, key), vec![(FlagKind::AheadOfGate, Some("pilot".into()), 1)]);
        let omar = config.person("omar").expect("configured").clone();
        let inbox = store
            .inbox(crate::domain::gate::Decider { name: "omar", roles: &omar.roles }, utc("2026-11-26T09:01:00Z"))
            .expect("inbox");
        let item = inbox.iter().find(|i| i.deployment == key).expect("the gate agents ran past stays");
        assert!(item.ran_past && item.phase == "pilot");
        // Halting it is a retroactive decision; what agents do afterwards is flagged too.
        let req = DecisionRequest {
            key,
            phase: "pilot",
            decision: Decision::Reject,
            person: "omar",
            os_user: "omar",
            comment: None,
            reason: Some("nobody approved this"),
            now: utc("2026-11-26T09:02:00Z"),
            automatic: None,
        };
        store.decide(&req).expect("recorded");
        send(&mut store, key, &[("b", "web-02", "2026-11-26T09:05:00Z")]);
        assert_eq!(
            kinds(&store, key),
            vec![(FlagKind::AheadOfGate, Some("pilot".into()), 2), (FlagKind::AfterHalt, Some("pilot".into()), 1)]
        );
        assert_eq!(store.summary(key).expect("summary").status, DeploymentStatus::Aborted, "events never undo it");
    }

    #[test]
    fn conformance_flags_come_from_the_rules_stored_in_the_log_not_the_receivers_config() {
        // The writer is told nothing (a receiver whose config has no freeze, or none at all):
        // the year-end freeze stored with the team flags what agents do in it all the same.
        let (_dir, mut store) = crate::store::testing::open();
        let config = Config::built_in();
        let mut model = config.model("big-bang").expect("shipped").clone();
        model.supervised_runs = 0;
        let key = plan(&mut store, "big-bang", &model, "2026-12-01T00:00:00Z");
        send(&mut store, key, &[("frozen", "web-01", "2026-12-22T18:00:00Z")]);
        assert_eq!(kinds(&store, key), vec![(FlagKind::InFreeze, Some("all".into()), 1)]);
    }

    #[test]
    fn a_window_of_another_environment_binds_neither_gates_nor_agents() {
        // weekday-evenings is a production window: a staging deployment naming it may be
        // approved at any time (the gate's window rule), so its agents are not flagged either.
        let (_dir, mut store) = crate::store::testing::open();
        let config = Config::built_in();
        let mut model = config.model("big-bang").expect("shipped").clone();
        model.windows = vec!["weekday-evenings".into()];
        model.supervised_runs = 0;
        let key = plan_to(&mut store, "staging", "big-bang", &model, "2026-11-26T08:00:00Z");
        // Thursday 17:30 in Berlin: weekday-evenings is closed.
        let at = utc("2026-11-26T16:30:00Z");
        let rules = store.time_rules().expect("rules");
        let names = vec!["weekday-evenings".to_owned()];
        let gate = crate::domain::gate::timing::window_state(&names, &rules.windows, "staging", at);
        assert_eq!(gate, crate::domain::gate::timing::WindowState::NotRequired);
        send(&mut store, key, &[("a", "web-01", "2026-11-26T16:30:00Z")]);
        assert_eq!(kinds(&store, key), vec![], "no window of staging was closed");
    }
}
