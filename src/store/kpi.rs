//! What the delivery KPIs read: the finished deployments of a period with their phases, gate
//! waits and retries, and the production successes recovery times look for.
//!
//! Three range reads over indexes (the finished deployments through `deployments_history`, their
//! phases and decisions by deployment id), joined in memory: the KPIs of two years of
//! deployments cost a few hundred thousand rows, never a per-deployment query.

use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::gate::Previous;
use crate::domain::gate::timing::{self, TimeFacts};
use crate::domain::kpi::{
    self, GateWait, GroupBy, KpiDeployment, KpiReport, Metrics, MetricsAsk, Successes, split_gate_wait,
};
use crate::domain::{DeploymentStatus, GatePolicy};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};
use std::collections::HashMap;

/// Which deployments the KPIs look at (all when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KpiScope {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub model: Option<String>,
}

/// A phase row of a deployment, as the gate waits need it.
struct PhaseRow {
    deployment: i64,
    name: String,
    failed: bool,
    gate: Option<String>,
    opened: Option<i64>,
    finished: Option<i64>,
}

impl Store {
    /// The KPIs of `scope` over `[from, until)`, split `by` when asked: the one computation
    /// `shipdeck kpi` and the Metrics view share.
    pub fn kpis(
        &self,
        scope: &KpiScope,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        production: &[String],
        by: Option<GroupBy>,
        tz: Tz,
    ) -> Result<KpiReport, StoreError> {
        let rows = self.kpi_deployments(scope, Some(from), until, production)?;
        let successes = self.kpi_successes(Some(from), production)?;
        let all: Vec<&KpiDeployment> = rows.iter().collect();
        Ok(KpiReport {
            total: kpi::compute(&all, from, until, &successes),
            groups: by.map(|by| kpi::grouped(&rows, by, from, until, tz, &successes)),
        })
    }

    /// What the Metrics view shows for `ask` at `now`: both periods' deployments read once.
    pub fn metrics(
        &self,
        ask: &MetricsAsk,
        now: DateTime<Utc>,
        production: &[String],
        tz: Tz,
    ) -> Result<Metrics, StoreError> {
        let span = chrono::TimeDelta::days(ask.days.max(1));
        let from = now - span;
        let scope = KpiScope { environment: ask.environment.clone(), ..KpiScope::default() };
        let rows = self.kpi_deployments(&scope, Some(from - span), now, production)?;
        let successes = self.kpi_successes(Some(from - span), production)?;
        let failed: Vec<i64> = rows
            .iter()
            .filter(|d| d.finished >= from && d.status != DeploymentStatus::Succeeded && d.started.is_some())
            .map(|d| d.id)
            .collect();
        let steps = self.failed_steps(&failed)?;
        let done = self.actions_done(from, now)?;
        Ok(kpi::metrics(ask.clone(), &rows, (from, now), &successes, tz, steps, done))
    }

    /// Failed hosts per step over these deployments.
    fn failed_steps(&self, ids: &[i64]) -> Result<Vec<kpi::Count>, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT coalesce(last_step, '?'), count(*) FROM targets
                 WHERE deployment_id = ?1 AND status IN ('failed', 'lost') GROUP BY 1",
            )
            .map_err(sql)?;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for id in ids {
            let mut q = stmt.query(params![id]).map_err(sql)?;
            while let Some(r) = q.next().map_err(sql)? {
                *counts.entry(r.get(0).map_err(sql)?).or_default() += r.get::<_, usize>(1).map_err(sql)?;
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// Improvement actions done in `[from, until)`, oldest first.
    fn actions_done(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, String)>, StoreError> {
        self.conn
            .prepare_cached("SELECT done_ms, text FROM actions WHERE done_ms >= ?1 AND done_ms < ?2 ORDER BY done_ms")
            .and_then(|mut s| {
                s.query_map(params![to_ms(from), to_ms(until)], |r| Ok((from_ms(r.get(0)?), r.get(1)?)))?.collect()
            })
            .map_err(|e| self.sql(e))
    }

    /// The finished deployments of `scope` that finished in `[from, until)` (oldest first), with
    /// `production` naming the environments that count as production.
    pub fn kpi_deployments(
        &self,
        scope: &KpiScope,
        from: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        production: &[String],
    ) -> Result<Vec<KpiDeployment>, StoreError> {
        let sql = |e| self.sql(e);
        let mut values = vec![Value::Integer(from.map_or(i64::MIN, to_ms)), Value::Integer(to_ms(until))];
        let mut cond = String::from("d.finished_ms IS NOT NULL AND d.finished_ms >= ?1 AND d.finished_ms < ?2");
        if let Some(s) = &scope.service {
            values.push(Value::Text(s.clone()));
            cond.push_str(&format!(" AND d.release_id IN (SELECT id FROM releases WHERE name = ?{})", values.len()));
        }
        for (column, v) in [("+d.environment", &scope.environment), ("+d.model", &scope.model)] {
            if let Some(v) = v {
                values.push(Value::Text(v.clone()));
                cond.push_str(&format!(" AND {column} = ?{}", values.len()));
            }
        }
        let query = format!(
            "SELECT d.id, r.name, d.environment, d.model, d.status, d.created_ms, d.started_ms, d.finished_ms, d.planned_ms
             FROM deployments d JOIN releases r ON r.id = d.release_id WHERE {cond} ORDER BY d.finished_ms, d.id"
        );
        let mut rows: Vec<(KpiDeployment, i64)> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&query).map_err(sql)?;
            let mut q = stmt.query(params_from_iter(values.iter())).map_err(sql)?;
            while let Some(r) = q.next().map_err(sql)? {
                let environment: String = r.get(2).map_err(sql)?;
                let status: String = r.get(4).map_err(sql)?;
                rows.push((
                    KpiDeployment {
                        id: r.get(0).map_err(sql)?,
                        service: r.get(1).map_err(sql)?,
                        production: production.contains(&environment),
                        environment,
                        model: r.get(3).map_err(sql)?,
                        status: status.parse().unwrap_or(DeploymentStatus::Failed),
                        planned: from_ms(r.get(5).map_err(sql)?),
                        started: r.get::<_, Option<i64>>(6).map_err(sql)?.map(from_ms),
                        finished: from_ms(r.get(7).map_err(sql)?),
                        hosts_failed: 0,
                        retried: false,
                        gates: Vec::new(),
                        failed_phase: None,
                    },
                    r.get(8).map_err(sql)?,
                ));
            }
        }
        let (Some(lo), Some(hi)) = (rows.iter().map(|r| r.0.id).min(), rows.iter().map(|r| r.0.id).max()) else {
            return Ok(Vec::new());
        };
        let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0.id, i)).collect();
        let phases = self.kpi_phases(lo, hi, &index)?;
        let crate::domain::schedule::TimeRules { windows, freezes } = self.time_rules()?;
        // Approvals and retries per phase, in decision order; refused attempts counted for nothing.
        let mut approvals: HashMap<i64, Vec<(String, Option<String>, i64)>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT deployment_id, phase_id, decision, person, role, decided_ms FROM gate_decisions
                     WHERE deployment_id BETWEEN ?1 AND ?2 AND decision IN ('approve', 'retry') AND outcome IS NULL
                     ORDER BY id",
                )
                .map_err(sql)?;
            let mut q = stmt.query(params![lo, hi]).map_err(sql)?;
            while let Some(r) = q.next().map_err(sql)? {
                let Some(&i) = index.get(&r.get::<_, i64>(0).map_err(sql)?) else { continue };
                let Some(phase) = r.get::<_, Option<i64>>(1).map_err(sql)? else { continue };
                if r.get::<_, String>(2).map_err(sql)? == "retry" {
                    rows[i].0.retried = true;
                } else {
                    approvals.entry(phase).or_default().push((
                        r.get(3).map_err(sql)?,
                        r.get(4).map_err(sql)?,
                        r.get(5).map_err(sql)?,
                    ));
                }
            }
        }
        let mut policies: HashMap<String, Option<GatePolicy>> = HashMap::new();
        let mut previous: Option<(i64, Option<i64>)> = None;
        for (phase_id, p, failed) in phases {
            let i = index[&p.deployment];
            rows[i].0.hosts_failed += failed;
            if p.failed && rows[i].0.failed_phase.is_none() {
                rows[i].0.failed_phase = Some(p.name.clone());
            }
            let prev_finished = previous.filter(|(d, _)| *d == p.deployment).and_then(|(_, f)| f);
            let first = previous.is_none_or(|(d, _)| d != p.deployment);
            previous = Some((p.deployment, p.finished));
            let (Some(gate), Some(opened)) = (&p.gate, p.opened) else { continue };
            let policy = policies.entry(gate.clone()).or_insert_with(|| serde_json::from_str(gate).ok());
            let Some(policy) = policy.as_ref() else { continue };
            let Some(decisions) = approvals.get(&phase_id) else { continue };
            // The approval that made the gate pass: the `approvals`-th distinct person.
            let mut people: Vec<&str> = Vec::new();
            let mut roles: Vec<(String, chrono::TimeDelta)> = Vec::new();
            let mut passed = None;
            for (person, role, at) in decisions {
                if let Some(role) = role.as_ref().filter(|r| !roles.iter().any(|(x, _)| x == *r)) {
                    roles.push((role.clone(), from_ms(*at) - from_ms(opened)));
                }
                if !people.contains(&person.as_str()) {
                    people.push(person);
                }
                if passed.is_none() && people.len() >= usize::try_from(policy.approvals).unwrap_or(1).max(1) {
                    passed = Some(*at);
                }
            }
            let Some(approved) = passed else { continue };
            let (opened, approved) = (from_ms(opened), from_ms(approved));
            let d = &rows[i];
            let facts = TimeFacts {
                policy,
                environment: &d.0.environment,
                previous: match (first, prev_finished) {
                    (true, _) => Previous::None,
                    (false, Some(f)) => Previous::SucceededAt(from_ms(f)),
                    (false, None) => Previous::NotYet,
                },
                planned_start: from_ms(d.1),
                windows: &windows,
                freezes: &freezes,
            };
            let bake_end = timing::bake_end(&facts);
            let rules_hold = timing::earliest(&facts, opened, false);
            let (bake, window, approval) = split_gate_wait(opened, approved, bake_end, rules_hold);
            rows[i].0.gates.push(GateWait { phase: p.name, total: approved - opened, bake, window, approval, roles });
        }
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The phases of the deployments in `index` (ids within `lo..=hi`), in deployment and phase
    /// order, with their failed host counts.
    fn kpi_phases(
        &self,
        lo: i64,
        hi: i64,
        index: &HashMap<i64, usize>,
    ) -> Result<Vec<(i64, PhaseRow, u64)>, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, deployment_id, name, gate, gate_opened_ms, finished_ms, failed, status FROM phases
                 WHERE deployment_id BETWEEN ?1 AND ?2 ORDER BY deployment_id, idx",
            )
            .map_err(sql)?;
        let mut q = stmt.query(params![lo, hi]).map_err(sql)?;
        let mut out = Vec::new();
        while let Some(r) = q.next().map_err(sql)? {
            let deployment: i64 = r.get(1).map_err(sql)?;
            if !index.contains_key(&deployment) {
                continue;
            }
            out.push((
                r.get(0).map_err(sql)?,
                PhaseRow {
                    deployment,
                    name: r.get(2).map_err(sql)?,
                    failed: r.get::<_, String>(7).map_err(sql)? == "failed",
                    gate: r.get(3).map_err(sql)?,
                    opened: r.get(4).map_err(sql)?,
                    finished: r.get(5).map_err(sql)?,
                },
                r.get::<_, i64>(6).map_err(sql)?.try_into().unwrap_or(0),
            ));
        }
        Ok(out)
    }

    /// The succeeded deployments in `production` environments that finished at or after `from`:
    /// where recovery times end.
    pub fn kpi_successes(&self, from: Option<DateTime<Utc>>, production: &[String]) -> Result<Successes, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.name, d.environment, d.finished_ms FROM deployments d JOIN releases r ON r.id = d.release_id
                 WHERE d.finished_ms IS NOT NULL AND d.finished_ms >= ?1 AND +d.status = 'succeeded'",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![from.map_or(i64::MIN, to_ms)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(sql)?
            .filter_map(|r| match r {
                Ok((s, e, at)) if production.contains(&e) => Some(Ok((s, e, from_ms(at)))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        Ok(Successes::new(rows))
    }

    /// When the first deployment finished (the start of "all time"), if any did.
    pub fn first_finished(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row("SELECT min(finished_ms) FROM deployments WHERE finished_ms IS NOT NULL", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(|v| v.flatten().map(from_ms))
            .map_err(|e| self.sql(e))
    }

    /// The names of every service (release name) in the log.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT DISTINCT name FROM releases ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::KpiScope;
    use crate::config::Config;
    use crate::decide::{Ask, Desk, Operator};
    use crate::domain::gate::Decision;
    use crate::store::testing;

    #[test]
    fn a_refused_retry_does_not_make_a_deployment_count_as_retried() {
        let (_dir, mut store) = testing::open();
        let t0 = testing::t0();
        let key = testing::Plan::new("big-bang", 2).env("staging").plan(&mut store);
        let lines: Vec<String> = ["web-01", "web-02"]
            .iter()
            .flat_map(|h| {
                ["install", "verify"].map(|step| {
                    format!(r#"{{"id":"{h}-{step}","deployment":"{key}","target":"{h}","step":"{step}","status":"succeeded"}}"#)
                })
            })
            .collect();
        testing::ingest(&mut store, &lines, t0);
        let config = Config::built_in();
        let ask = Ask { key, phase: "all".into(), decision: Decision::Retry, comment: None, reason: None };
        let omar = Desk::new(&config, Operator::named(&config, "omar", "o"));
        assert!(omar.decide(&mut store, &ask, t0).expect_err("nothing failed").is_refusal());
        let rows =
            store.kpi_deployments(&KpiScope::default(), None, t0 + chrono::TimeDelta::hours(1), &[]).expect("kpi");
        assert_eq!(rows.len(), 1, "the deployment finished");
        assert!(!rows[0].retried, "a refused retry retried nothing");
    }
}
