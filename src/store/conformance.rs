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
use crate::domain::conformance::{Flag, FlagKind, Tally, TimeRules};
use crate::domain::gate::{self as gate_rules, GateState};
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
        if gate_rules::active_freeze(&rules.freezes, &self.environment, at).is_some() {
            out.push(FlagKind::InFreeze);
        }
        if !self.windows.is_empty() && !self.open_at(rules, at_ms) {
            out.push(FlagKind::OutsideWindow);
        }
    }

    fn open_at(&mut self, rules: &TimeRules, at_ms: i64) -> bool {
        if self.open.is_some_and(|(s, e)| s <= at_ms && at_ms < e) {
            return true;
        }
        let at = from_ms(at_ms);
        // A window named by the deployment but missing from the config is never open.
        let found = rules
            .windows
            .iter()
            .filter(|w| self.windows.contains(&w.name))
            .find_map(|w| w.open_at(at))
            .map(|(s, e)| (s.timestamp_millis(), e.timestamp_millis()));
        self.open = found.or(self.open);
        found.is_some()
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
    /// Tells the writer the config's windows and freezes (for window and freeze flags).
    pub fn set_time_rules(&mut self, rules: TimeRules) {
        self.rules = std::sync::Arc::new(rules);
    }

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
