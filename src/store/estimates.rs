//! How long a phase of a deployment model takes, learnt from the log: the per-host durations of
//! the model's recently succeeded phases, and how a phase's wall time grows with its hosts.
//!
//! Agents work through a phase several hosts at a time, so a phase of `n` hosts takes neither
//! `n` host durations nor one: its wall time is a fixed part (about one host's duration) plus a
//! part per host (hosts started one after another, or queued for a free slot). The model fits
//! that line, `wall = base + per_host × n`, to the past phases with the Theil-Sen estimator (the
//! median of the slopes between pairs of phases), which one slow phase cannot drag off.
//! `shipdeck demo --headless` measures its error against the phases it runs.
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
/// Phases it takes to trust the fitted line: through one or two, one slow host (a retry) drags
/// the whole line, so fewer are read host by host instead (see [`Estimate::phase`]).
const PHASES_FOR_A_LINE: usize = 3;

/// What the log says about how long a model's phases take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Hosts measured (first to last event of each succeeded host).
    pub hosts: usize,
    /// The median and the 90th percentile of one host's duration.
    pub host_median: TimeDelta,
    pub host_p90: TimeDelta,
    /// The fitted wall time of a phase: `base + per_host × hosts`.
    pub base: TimeDelta,
    pub per_host: TimeDelta,
    /// Phases measured (the points of the line).
    pub phases: usize,
    /// The median time between two hosts of a phase starting, over the phases measured.
    pub start_gap: TimeDelta,
}

impl Estimate {
    /// How long a phase of `hosts` hosts should take: the fitted line, and never less than one
    /// typical host. Until [`PHASES_FOR_A_LINE`] phases are known, one typical host after the
    /// others started one `start_gap` apart, as they did in the phases measured.
    #[must_use]
    pub fn phase(&self, hosts: usize) -> TimeDelta {
        let n = i32::try_from(hosts).unwrap_or(i32::MAX);
        if self.phases < PHASES_FOR_A_LINE {
            return self.host_median + self.start_gap * (n - 1).max(0);
        }
        self.host_median.max(self.base + self.per_host * n)
    }
}

/// Fits `wall = base + per_host × n` to `(n, wall ms)` points (Theil-Sen): the slope is the
/// median of the slopes between points of different sizes (0 when all sizes are equal), the
/// base the median of what is left. Neither is negative.
fn fit(points: &[(i64, i64)]) -> (i64, i64) {
    let mut slopes: Vec<f64> = Vec::new();
    for (i, (n1, w1)) in points.iter().enumerate() {
        for (n2, w2) in &points[i + 1..] {
            if n1 != n2 {
                #[allow(clippy::cast_precision_loss)]
                slopes.push((w2 - w1) as f64 / (n2 - n1) as f64);
            }
        }
    }
    slopes.sort_by(f64::total_cmp);
    let slope = slopes.get(slopes.len() / 2).copied().unwrap_or(0.0).max(0.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let mut bases: Vec<i64> = points.iter().map(|(n, w)| w - (slope * *n as f64) as i64).collect();
    bases.sort_unstable();
    #[allow(clippy::cast_possible_truncation)]
    (quantile(&bases, 0.5).max(0), slope.round() as i64)
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
        let mut walls: Vec<(i64, i64)> = Vec::new();
        let mut gaps: Vec<i64> = Vec::new();
        // Agent time, not receive time: each host's own first and last lifecycle event. Info
        // events do not count: a canary's agents keep reporting metrics for its analysis long
        // after their hosts are done, and that is not deploying.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT min(e.at_ms), max(e.at_ms), t.status = 'succeeded' FROM events e JOIN targets t ON t.id = e.target_id
                 WHERE e.deployment_id = ?1 AND e.phase_id = ?2 AND e.status <> 'info' GROUP BY e.target_id",
            )
            .map_err(sql)?;
        for (deployment, phase, count) in &phases {
            let rows = stmt
                .query_map(params![deployment, phase], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?))
                })
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            // The phase's wall time runs until its last host is done, failed ones included: the
            // phase is over only then.
            let (Some(first), Some(last)) = (rows.iter().map(|r| r.0).min(), rows.iter().map(|r| r.1).max()) else {
                continue;
            };
            hosts.extend(rows.iter().filter(|r| r.2).map(|(a, b, _)| (b - a).max(0)));
            walls.push((*count, (last - first).max(0)));
            if let (Some(latest), Ok(n)) = (rows.iter().map(|r| r.0).max(), i64::try_from(rows.len())) {
                if n > 1 {
                    gaps.push((latest - first) / (n - 1));
                }
            }
        }
        if hosts.is_empty() {
            return Ok(None);
        }
        hosts.sort_unstable();
        gaps.sort_unstable();
        let (base, per_host) = fit(&walls);
        Ok(Some(Estimate {
            hosts: hosts.len(),
            host_median: TimeDelta::milliseconds(quantile(&hosts, 0.5)),
            host_p90: TimeDelta::milliseconds(quantile(&hosts, 0.9)),
            base: TimeDelta::milliseconds(base),
            per_host: TimeDelta::milliseconds(per_host),
            phases: walls.len(),
            start_gap: TimeDelta::milliseconds(quantile(&gaps, 0.5)),
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
        // Walls: 600 s for 4 hosts, 120 s for 1: the line through them is 160 s × n - 40 s.
        assert_eq!((e.per_host, e.base), (TimeDelta::seconds(160), TimeDelta::zero()));
        // Two phases are too few for the line: one typical host, all started at once.
        assert_eq!((e.phases, e.start_gap), (2, TimeDelta::zero()));
        assert_eq!(e.phase(20), TimeDelta::seconds(120));
        let c = plan(&mut store, "1.0.2", 1);
        run(&mut store, c, &[120]);
        let e = store.estimate("big-bang").expect("reads").expect("an estimate");
        assert_eq!((e.per_host, e.base, e.phases), (TimeDelta::seconds(160), TimeDelta::zero(), 3));
        assert_eq!(e.phase(1), TimeDelta::seconds(160));
        assert_eq!(e.phase(20), TimeDelta::seconds(3200));
    }

    #[test]
    fn one_retried_host_in_the_only_phase_known_does_not_double_the_next_phase_s_eta() {
        // The pilot model's shape: its first phase, 6 hosts started 0.6 s apart, took 78 s
        // because one host retried a step (75 s); the others took 25 s each.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let key = plan(&mut store, "1.0.0", 6);
        let mut lines = Vec::new();
        for (i, secs) in [25, 25, 75, 25, 25, 25].into_iter().enumerate() {
            let start = t0() + TimeDelta::milliseconds(600 * i64::try_from(i).expect("small"));
            lines.extend(lifecycle(key, &format!("h{}", i + 1), start, secs));
        }
        crate::store::testing::ingest(&mut store, &lines, t0() + TimeDelta::seconds(80));
        let e = store.estimate("big-bang").expect("reads").expect("an estimate");
        assert_eq!((e.phases, e.host_median, e.start_gap), (1, TimeDelta::seconds(25), TimeDelta::milliseconds(600)));
        // Twelve hosts: one typical host after eleven start gaps (31.6 s), not the one phase's
        // 78 s, which a line through one point predicts for any size.
        assert_eq!(e.phase(12), TimeDelta::milliseconds(31_600));
    }

    /// NDJSON lines of `host`'s lifecycle in `phase`-less form: install from `start`, verify
    /// done `secs` later.
    fn lifecycle(key: DeploymentKey, host: &str, start: DateTime<Utc>, secs: i64) -> Vec<String> {
        [("install", "started", 0), ("install", "succeeded", secs / 2), ("verify", "succeeded", secs)]
            .iter()
            .map(|(step, status, after)| {
                let at = (start + TimeDelta::seconds(*after)).to_rfc3339();
                format!(
                    r#"{{"id":"{host}-{step}-{status}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","at":"{at}"}}"#
                )
            })
            .collect()
    }

    #[test]
    fn a_canary_fleet_is_not_predicted_from_the_metrics_its_hosts_report_for_the_analysis() {
        use crate::domain::gate::Decision;
        use crate::store::DecisionRequest;
        use crate::store::testing::{self, t0};
        // The canary model's shape: web-01 is the canary (30 s), web-02..05 the fleet (30 s
        // each, started a second apart after the gate). Every host reports metrics each minute for the analysis, from
        // the canary's success until the fleet is done 40 minutes later: the baseline before
        // its own phase started, the canary long after it finished.
        let (_dir, mut store) = testing::open();
        let key = testing::Plan::new("canary", 5).plan(&mut store);
        testing::ingest(&mut store, &lifecycle(key, "web-01", t0(), 30), t0() + TimeDelta::seconds(30));
        let metrics = |store: &mut Store, minutes: std::ops::Range<i64>| {
            for m in minutes {
                let at = t0() + TimeDelta::seconds(30) + TimeDelta::minutes(m);
                let lines: Vec<String> = (1..=5)
                    .map(|h| {
                        format!(
                            r#"{{"id":"m-{h}-{m}","deployment":"{key}","target":"web-{h:02}","step":"metrics","status":"info","at":"{}","data":{{"metric":"error_rate","value":0.1}}}}"#,
                            at.to_rfc3339()
                        )
                    })
                    .collect();
                testing::ingest(store, &lines, at);
            }
        };
        metrics(&mut store, 0..40);
        let approved = t0() + TimeDelta::minutes(40);
        store
            .decide(&DecisionRequest {
                key,
                phase: "fleet",
                decision: Decision::Approve,
                person: "lee",
                os_user: "lee",
                comment: Some("canary healthy"),
                reason: None,
                now: approved,
                automatic: None,
            })
            .expect("approves the fleet");
        let mut fleet = Vec::new();
        for (i, host) in ["web-02", "web-03", "web-04", "web-05"].iter().enumerate() {
            fleet.extend(lifecycle(key, host, approved + TimeDelta::seconds(i64::try_from(i).expect("small")), 30));
        }
        testing::ingest(&mut store, &fleet, approved + TimeDelta::seconds(33));
        metrics(&mut store, 41..45);
        let phases = store.detail(key, false).expect("detail").phases;
        assert!(phases.iter().all(|p| p.status == crate::domain::PhaseStatus::Succeeded), "{phases:?}");

        let e = store.estimate("canary").expect("reads").expect("an estimate");
        // The canary took 30 s and the fleet of 4 took 33 s; the metrics, 40 minutes of them,
        // once made both about 2,400 s: seventy times too long.
        assert_eq!(e.host_median, TimeDelta::seconds(30));
        assert_eq!((e.phase(1), e.phase(4)), (TimeDelta::seconds(30), TimeDelta::seconds(33)), "{e:?}");
    }

    #[test]
    fn the_wall_time_line_is_fitted_robustly() {
        // Phases of 2, 10 and 40 hosts started ~1 s apart, each host ~30 s: wall ≈ 30 + n.
        assert_eq!(fit(&[(2, 32_000), (10, 40_000), (40, 70_000)]), (30_000, 1_000));
        // One phase that waited on a stuck host does not move the line.
        assert_eq!(fit(&[(2, 32_000), (10, 40_000), (40, 70_000), (20, 50_000), (20, 400_000)]).1, 1_000);
        // All phases of one size: no slope, the median wall.
        assert_eq!(fit(&[(5, 10_000), (5, 30_000), (5, 20_000)]), (20_000, 0));
    }
}
