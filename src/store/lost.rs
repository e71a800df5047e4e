//! Lost targets: a target that started reporting and then said nothing for longer than its
//! deployment's `recovery.lost_after` becomes `lost` (a target still waiting for its turn is
//! not silent). It counts as failed, so the phase can
//! finish (failing when that exceeds its budget) and the deployment manager decides: retry
//! starts it over, abort or rollback stop the deployment. The receiver's writer sweeps for them.

use super::{Store, StoreError};
use crate::domain::{PhaseCounts, PhaseStatus, RecoveryPolicy};
use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};

impl Store {
    /// Marks the targets silent past their deployment's `lost_after` as lost, in one write
    /// transaction, and re-derives their phases and deployments. Returns how many were marked.
    pub fn mark_lost(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        // Silence of the deployments with a lost_after: read first, write only when needed.
        let candidates: Vec<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, recovery FROM deployments WHERE status IN ('running', 'awaiting_approval')
                 AND recovery LIKE '%lost_after%'",
            )
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(sql)?;
        let now_ms = now.timestamp_millis();
        let cutoffs: Vec<(i64, i64, String)> = candidates
            .into_iter()
            .filter_map(|(id, json)| {
                let after = serde_json::from_str::<RecoveryPolicy>(&json).ok()?.lost_after?;
                Some((id, now_ms - after.num_milliseconds(), crate::domain::duration::format(after)))
            })
            .collect();
        if cutoffs.is_empty() {
            return Ok(0);
        }
        // The writer's cache of targets' state must not outlive this change.
        self.targets.clear();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let mut marked = 0;
        for (deployment, cutoff, after) in &cutoffs {
            let phases: Vec<(i64, usize)> = tx
                .prepare_cached(
                    "SELECT p.id, count(*) FROM targets t JOIN phases p ON p.id = t.phase_id
                     WHERE t.deployment_id = ?1 AND p.status = 'running' AND t.status = 'running'
                       AND t.seen_ms < ?2
                     GROUP BY p.id",
                )
                .and_then(|mut s| s.query_map(params![deployment, cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(sql)?;
            if phases.is_empty() {
                continue;
            }
            for (phase, count) in &phases {
                let message = format!("lost: no report for {after} (recovery.lost_after)");
                if let Some(dep) = super::gates::load_deployment(&tx, *deployment).map_err(sql)? {
                    let text = (
                        format!("DEP-{deployment}: {count} host(s) silent for {after}"),
                        format!(
                            "They count as failed now (recovery.lost_after) in {} to {}.",
                            dep.release, dep.environment
                        ),
                    );
                    super::gates::views::notify_happening(&tx, &dep, *phase, "hosts_silent", true, text, now_ms)
                        .map_err(sql)?;
                }
                marked += tx
                    .prepare_cached(
                        "UPDATE targets SET status = 'lost', last_error = ?3
                         WHERE phase_id = ?1 AND status = 'running' AND seen_ms < ?2",
                    )
                    .and_then(|mut s| s.execute(params![phase, cutoff, message]))
                    .map_err(sql)?;
                recount(&tx, *phase, self.budget_warning, now_ms).map_err(sql)?;
            }
            super::ingest::update_deployment(&tx, *deployment, 0, now_ms).map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(marked)
    }
}

/// Re-derives a phase's counts and status from its targets.
fn recount(tx: &rusqlite::Connection, phase: i64, budget_warning: f64, now_ms: i64) -> rusqlite::Result<()> {
    let (total, succeeded, failed, running, budget): (usize, usize, usize, usize, usize) = tx
        .prepare_cached(
            "SELECT p.target_count,
                    (SELECT count(*) FROM targets WHERE phase_id = p.id AND status = 'succeeded'),
                    (SELECT count(*) FROM targets WHERE phase_id = p.id AND status IN ('failed', 'lost')),
                    (SELECT count(*) FROM targets WHERE phase_id = p.id AND status = 'running'),
                    p.failure_budget
             FROM phases p WHERE p.id = ?1",
        )?
        .query_row([phase], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    let counts = PhaseCounts { total, succeeded, failed, running };
    let status = counts.status(budget);
    let finished = matches!(status, PhaseStatus::Succeeded | PhaseStatus::Failed).then_some(now_ms);
    tx.prepare_cached(
        "UPDATE phases SET succeeded = ?2, failed = ?3, running = ?4, status = ?5,
                finished_ms = CASE WHEN ?6 IS NULL THEN NULL ELSE coalesce(finished_ms, ?6) END WHERE id = ?1",
    )?
    .execute(params![phase, succeeded, failed, running, status.as_str(), finished])?;
    super::budget::check(tx, phase, &counts, budget, budget_warning, now_ms)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::domain::event::parse_line;
    use crate::domain::gate::Decision;
    use crate::domain::{DeploymentStatus, PhaseStatus, ReleaseRef, TargetStatus};
    use crate::store::{DecisionRequest, PlanRequest, Store, Submission, SyncBy};
    use chrono::{DateTime, TimeDelta, Utc};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
    }

    /// A log with a deployment of two hosts, lost after 10 minutes, both started at t0.
    fn silent_deployment() -> (tempfile::TempDir, Store, crate::domain::DeploymentKey) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let config = Config::built_in();
        store.sync_team(&config.team(), &[], SyncBy::Seed { os_user: "t" }, t0()).expect("team");
        let mut model = config.model("big-bang").expect("model").clone();
        model.recovery.lost_after = Some(TimeDelta::minutes(10));
        let req = PlanRequest {
            release: "api@1".parse::<ReleaseRef>().expect("valid"),
            environment: "staging".into(),
            model_name: "big-bang".into(),
            model: &model,
            targets: (1..=2).map(|i| format!("web-{i:02}")).collect(),
            change_ref: None,
            requested_by: "dana".into(),
            release_record: Default::default(),
            planned_start: t0(),
            planned_end: None,
            now: t0(),
        };
        let key = store.plan(&req).expect("plans").0;
        let line = |id: &str, target: &str, status: &str| {
            format!(
                r#"{{"id":"{id}","deployment":"{key}","target":"{target}","step":"install","status":"{status}","at":"2026-11-26T10:00:00Z"}}"#
            )
        };
        let events = [line("1", "web-01", "started"), line("2", "web-02", "started")]
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, parse_line(l, t0()).expect("valid")))
            .collect();
        store.ingest(&[Submission { events, received_ms: t0().timestamp_millis() }]).expect("ingests");
        (dir, store, key)
    }

    #[test]
    fn the_receiver_s_writer_sweeps_for_lost_targets() {
        let (dir, store, key) = silent_deployment();
        let clock: crate::clock::SharedClock =
            std::sync::Arc::new(crate::clock::FixedClock(t0() + TimeDelta::hours(1)));
        let writer = crate::server::Writer::start(store, clock).expect("starts");
        writer.sweep_lost();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(writer.close());
        let store = Store::open_existing(&dir.path().join("log.db")).expect("opens");
        let d = store.detail(key, true).expect("detail");
        assert!(d.target_list.iter().all(|t| t.status == TargetStatus::Lost), "{:?}", d.target_list);
    }

    #[test]
    fn a_silent_target_becomes_lost_its_phase_finishes_and_the_manager_decides() {
        let (_dir, mut store, key) = silent_deployment();
        assert_eq!(store.mark_lost(t0() + TimeDelta::minutes(9)).expect("sweeps"), 0, "not silent long enough");
        assert_eq!(store.mark_lost(t0() + TimeDelta::minutes(11)).expect("sweeps"), 2);
        let d = store.detail(key, true).expect("detail");
        assert!(d.target_list.iter().all(|t| t.status == TargetStatus::Lost), "{:?}", d.target_list);
        assert!(d.target_list[0].last_error.as_deref().is_some_and(|e| e.starts_with("lost: no report for 10m")));
        assert_eq!((d.phases[0].status, d.phases[0].failed), (PhaseStatus::Failed, 2), "over its 10% budget");
        assert_eq!(d.summary.status, DeploymentStatus::Failed, "the manager decides now");
        let told: Vec<String> =
            store.notifications("dana", false, 50).expect("dana's").into_iter().map(|n| n.kind).collect();
        assert_eq!(told.iter().filter(|k| *k == "hosts_silent").count(), 1, "the requester hears of it: {told:?}");
        assert!(told.iter().any(|k| k == "deployment_failed"), "{told:?}");
        // A retry starts the lost targets over.
        let retry = DecisionRequest {
            key,
            phase: "all",
            decision: Decision::Retry,
            person: "omar",
            os_user: "omar",
            comment: None,
            reason: None,
            now: t0() + TimeDelta::minutes(12),
            automatic: None,
        };
        store.decide(&retry).expect("retried");
        let d = store.detail(key, true).expect("detail");
        assert!(d.target_list.iter().all(|t| t.status == TargetStatus::Pending), "{:?}", d.target_list);
        assert_eq!(d.phases[0].failed, 0);
    }
}
