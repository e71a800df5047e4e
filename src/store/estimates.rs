//! How long a phase of a deployment model takes, learnt from the log: the per-host durations of
//! the model's recently succeeded phases, and how long those phases took per host on the wall.
//!
//! The Approvals inbox uses it to say when the next phase would end if approved now, and to
//! warn when that runs past the change window or into a freeze. Only the newest succeeded phases
//! are read (each through the events' `(deployment_id, seq)` index), so the cost does not grow
//! with the size of the log.

use super::{Store, StoreError};
use chrono::TimeDelta;
use rusqlite::params;

/// Succeeded phases of a model read for an estimate, newest first.
const PHASES_SAMPLED: usize = 20;

/// What the log says about how long a model's phases take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Hosts measured (first to last event of each succeeded host).
    pub hosts: usize,
    /// The median and the 90th percentile of one host's duration.
    pub host_median: TimeDelta,
    pub host_p90: TimeDelta,
    /// The median wall time of a phase divided by its hosts: what each host adds when agents
    /// work through a phase in batches rather than all at once.
    pub per_host_wall: TimeDelta,
}

impl Estimate {
    /// How long a phase of `hosts` hosts should take: never less than a slow host, and no less
    /// than past phases took per host.
    #[must_use]
    pub fn phase(&self, hosts: usize) -> TimeDelta {
        let n = i32::try_from(hosts).unwrap_or(i32::MAX);
        self.host_p90.max(self.per_host_wall * n)
    }
}

/// The value at quantile `q` (0..=1) of sorted durations.
fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Store {
    /// The estimate for phases of `model`, or `None` when none of its phases succeeded yet.
    pub fn estimate(&self, model: &str) -> Result<Option<Estimate>, StoreError> {
        self.read_snapshot(|s| s.estimate_in(model))
    }

    fn estimate_in(&self, model: &str) -> Result<Option<Estimate>, StoreError> {
        let sql = |e| self.sql(e);
        let phases: Vec<(i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT p.deployment_id, p.id, p.target_count
                 FROM phases p JOIN deployments d ON d.id = p.deployment_id
                 WHERE d.model = ?1 AND p.status = 'succeeded' AND p.target_count > 0
                 ORDER BY p.finished_ms DESC, p.id DESC LIMIT ?2",
            )
            .map_err(sql)?
            .query_map(params![model, i64::try_from(PHASES_SAMPLED).unwrap_or(20)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(sql)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql)?;
        if phases.is_empty() {
            return Ok(None);
        }
        let mut hosts: Vec<i64> = Vec::new();
        let mut walls: Vec<i64> = Vec::new();
        // Agent time, not receive time: the hosts' own first and last events.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT min(e.at_ms), max(e.at_ms) FROM events e JOIN targets t ON t.id = e.target_id
                 WHERE e.deployment_id = ?1 AND e.phase_id = ?2 AND t.status = 'succeeded' GROUP BY e.target_id",
            )
            .map_err(sql)?;
        for (deployment, phase, count) in &phases {
            let rows = stmt
                .query_map(params![deployment, phase], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            let (Some(first), Some(last)) = (rows.iter().map(|r| r.0).min(), rows.iter().map(|r| r.1).max()) else {
                continue;
            };
            hosts.extend(rows.iter().map(|(a, b)| (b - a).max(0)));
            walls.push((last - first).max(0) / count.max(&1));
        }
        if hosts.is_empty() {
            return Ok(None);
        }
        hosts.sort_unstable();
        walls.sort_unstable();
        Ok(Some(Estimate {
            hosts: hosts.len(),
            host_median: TimeDelta::milliseconds(quantile(&hosts, 0.5)),
            host_p90: TimeDelta::milliseconds(quantile(&hosts, 0.9)),
            per_host_wall: TimeDelta::milliseconds(quantile(&walls, 0.5)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentEvent, DeploymentKey, EventStatus};
    use crate::store::Submission;
    use crate::store::testing::Plan;
    use chrono::{DateTime, Utc};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
    }

    fn plan(store: &mut Store, version: &str, hosts: usize) -> DeploymentKey {
        Plan::new("big-bang", hosts)
            .release(&format!("api@{version}"))
            .env("staging")
            .targets((1..=hosts).map(|i| format!("h{i}")).collect())
            .plan(store)
    }

    /// Host `i` installs from `t0` and verifies after `secs[i]` seconds.
    fn run(store: &mut Store, key: DeploymentKey, secs: &[i64]) {
        let mut events = Vec::new();
        for (i, s) in secs.iter().enumerate() {
            for (step, status, at) in [
                ("install", EventStatus::Started, 0),
                ("install", EventStatus::Succeeded, s / 2),
                ("verify", EventStatus::Succeeded, *s),
            ] {
                events.push(AgentEvent {
                    id: format!("{key}-{i}-{step}-{status:?}"),
                    deployment: key.to_string(),
                    target: Some(format!("h{}", i + 1)),
                    phase: None,
                    step: step.into(),
                    status,
                    at: t0() + TimeDelta::seconds(at),
                    message: None,
                    data: None,
                });
            }
        }
        // Received when the last step was done: an event is never from the receiver's future.
        let received = t0() + TimeDelta::seconds(secs.iter().copied().max().unwrap_or(0));
        let sub =
            Submission { events: events.into_iter().enumerate().collect(), received_ms: received.timestamp_millis() };
        store.ingest(&[sub]).expect("ingests");
    }

    #[test]
    fn a_model_without_succeeded_phases_has_no_estimate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        plan(&mut store, "1.0.0", 3);
        assert_eq!(store.estimate("big-bang").expect("reads"), None);
        assert_eq!(store.estimate("phased").expect("reads"), None);
    }

    #[test]
    fn past_host_durations_give_the_median_the_tail_and_a_phase_eta() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let a = plan(&mut store, "1.0.0", 4);
        run(&mut store, a, &[60, 120, 180, 600]);
        let b = plan(&mut store, "1.0.1", 1);
        run(&mut store, b, &[120]);
        let e = store.estimate("big-bang").expect("reads").expect("an estimate");
        assert_eq!(e.hosts, 5);
        assert_eq!(e.host_median, TimeDelta::seconds(120));
        assert_eq!(e.host_p90, TimeDelta::seconds(600));
        // Wall per host: 600 s / 4 hosts and 120 s / 1 host: median of 150 s and 120 s.
        assert!(e.per_host_wall >= TimeDelta::seconds(120) && e.per_host_wall <= TimeDelta::seconds(150));
        assert_eq!(e.phase(1), TimeDelta::seconds(600), "one host takes as long as a slow host");
        assert_eq!(e.phase(20), e.per_host_wall * 20, "a big phase takes as long per host as past ones");
    }
}
