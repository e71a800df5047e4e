//! Past deployments and their failure reviews: History's pages, the facts of a failure, reviews
//! and their improvement actions.
//!
//! History pages walk `deployments_history` (an index that covers every filter) newest first and
//! read the details of one page only, so the first page of a log with years of deployments costs
//! what a page costs; counts come from `history_counts`, kept by triggers, when they can.

use super::gates::audit;
use super::gates::views::{NOTIFICATION_SELECT, notification};
use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::errors::{self, Failure};
use crate::domain::gate::view::Notification;
use crate::domain::history::{HistoryFilter, HistoryRow, ReviewRule, ReviewState};
use crate::domain::report::{self, PhaseTimes, Report};
use crate::domain::review::{Action, Completion, Review, ReviewContent};
use crate::domain::{DeploymentKey, DeploymentStatus, TargetProgress};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

/// A filter as SQL: the `WHERE` clause over `deployments d` alone and its values.
///
/// The walk is over `deployments_history` (migration 0007), which covers every column a filter
/// reads from `d` in History's order, so a page stops after `limit` matches and a count reads
/// the index only. The release, the review and the text search are subqueries of the matching
/// rows, never joins the planner could start from; `+` keeps it off `deployments_by_status`,
/// which would read every finished row and sort them.
struct Where {
    sql: String,
    values: Vec<Value>,
    /// Only `= value` / `IN` filters on what `history_counts` keys: the count can be summed
    /// from that table instead of walking the rows.
    summable: bool,
}

impl Where {
    fn new(filter: &HistoryFilter, rule: &ReviewRule, now: DateTime<Utc>) -> Self {
        // A deployment has a finish time exactly when its status is final (the ingest and the
        // decisions set and clear both together), so no results filter means no status test.
        let mut w = Self { sql: "d.finished_ms IS NOT NULL".into(), values: Vec::new(), summable: true };
        if !filter.results.is_empty() {
            w.any("+d.status", filter.results.iter().map(|s| s.as_str().to_owned()));
        }
        if let Some(service) = &filter.service {
            w.values.push(Value::Text(service.clone()));
            w.sql.push_str(&format!(" AND d.release_id IN (SELECT id FROM releases WHERE name = ?{})", w.values.len()));
        }
        for (column, value) in [
            ("+d.environment", &filter.environment),
            ("+d.model", &filter.model),
            ("+d.requested_by", &filter.requester),
        ] {
            if let Some(v) = value {
                w.values.push(Value::Text(v.clone()));
                w.sql.push_str(&format!(" AND {column} = ?{}", w.values.len()));
            }
        }
        let (from, until) = filter.period.bounds(now);
        if let Some(from) = from {
            w.values.push(Value::Integer(to_ms(from)));
            w.sql.push_str(&format!(" AND d.finished_ms >= ?{}", w.values.len()));
            w.summable = false;
        }
        if let Some(until) = until {
            w.values.push(Value::Integer(to_ms(until)));
            w.sql.push_str(&format!(" AND d.finished_ms < ?{}", w.values.len()));
            w.summable = false;
        }
        // Where it failed: checked per candidate row through each table's deployment index.
        if let Some(phase) = &filter.phase {
            w.values.push(Value::Text(phase.clone()));
            w.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM phases p WHERE p.deployment_id = d.id AND p.status = 'failed' AND p.name = ?{})",
                w.values.len()
            ));
            w.summable = false;
        }
        if let Some(step) = &filter.step {
            w.values.push(Value::Text(step.clone()));
            w.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM targets t WHERE t.deployment_id = d.id AND t.status IN ('failed', 'lost') AND t.last_step = ?{})",
                w.values.len()
            ));
            w.summable = false;
        }
        let words: Vec<String> = filter.text.iter().flat_map(|t| t.split_whitespace()).map(str::to_lowercase).collect();
        if !words.is_empty() {
            // The trigram index finds the rows whose words hold each word (LIKE, through the
            // index from three characters on); instr() keeps `%` and `_` in a word literal.
            let mut tests = Vec::new();
            for word in words {
                w.values.push(Value::Text(format!("%{word}%")));
                let like = w.values.len();
                w.values.push(Value::Text(word));
                tests.push(format!("s.text LIKE ?{like} AND instr(s.text, ?{}) > 0", w.values.len()));
            }
            w.sql.push_str(&format!(
                " AND d.id IN (SELECT s.rowid FROM deployment_search s WHERE {})",
                tests.join(" AND ")
            ));
            w.summable = false;
        }
        if !filter.reviews.is_empty() {
            let review =
                |state: &str| format!("EXISTS (SELECT 1 FROM reviews rv WHERE rv.deployment_id = d.id{state})");
            let mut states = Vec::new();
            for state in &filter.reviews {
                states.push(match state {
                    ReviewState::Draft => review(" AND rv.state = 'draft'"),
                    ReviewState::Complete => review(" AND rv.state = 'complete'"),
                    // The rule's cheap tests on the index first, the review's absence last.
                    ReviewState::Owed => format!("({} AND NOT {})", w.owes(rule), review("")),
                    ReviewState::NotNeeded => format!("(NOT {} AND NOT {})", w.owes(rule), review("")),
                });
            }
            w.sql.push_str(&format!(" AND ({})", states.join(" OR ")));
            w.summable = false;
        }
        w
    }

    /// `AND column IN (...)` over text values.
    fn any(&mut self, column: &str, values: impl Iterator<Item = String>) {
        let mut marks = Vec::new();
        for v in values {
            self.values.push(Value::Text(v));
            marks.push(format!("?{}", self.values.len()));
        }
        if marks.is_empty() {
            self.sql.push_str(" AND 0");
        } else {
            self.sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        }
    }

    /// The SQL of [`ReviewRule::owes`], for a deployment row `d`.
    fn owes(&mut self, rule: &ReviewRule) -> String {
        let mut part = Self { sql: String::new(), values: std::mem::take(&mut self.values), summable: false };
        part.any("+d.status", rule.results.iter().map(|s| s.as_str().to_owned()));
        part.any("+d.environment", rule.environments.iter().cloned());
        self.values = part.values;
        format!("(1{} AND NOT (d.status = 'aborted' AND d.started_ms IS NULL))", part.sql)
    }

    /// The same filter over `history_counts` (only when [`Self::summable`]).
    fn counts(filter: &HistoryFilter) -> Self {
        let mut w = Self { sql: "1".into(), values: Vec::new(), summable: true };
        if !filter.results.is_empty() {
            w.any("status", filter.results.iter().map(|s| s.as_str().to_owned()));
        }
        for (column, value) in [
            ("release_name", &filter.service),
            ("environment", &filter.environment),
            ("model", &filter.model),
            ("requested_by", &filter.requester),
        ] {
            if let Some(v) = value {
                w.values.push(Value::Text(v.clone()));
                w.sql.push_str(&format!(" AND {column} = ?{}", w.values.len()));
            }
        }
        w
    }
}

const FROM: &str = "FROM deployments d";

impl Store {
    /// One page of History, newest first: rows `offset..offset + limit` of those matching.
    pub fn history(
        &self,
        filter: &HistoryFilter,
        rule: &ReviewRule,
        now: DateTime<Utc>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let sql = |e| self.sql(e);
        let mut w = Where::new(filter, rule, now);
        w.values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        w.values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        let n = w.values.len();
        // Find the page's ids through the index first, then read the details of those rows only.
        let query = format!(
            "WITH page AS (SELECT d.id AS id {FROM} WHERE {} ORDER BY d.finished_ms DESC, d.id DESC LIMIT ?{} OFFSET ?{n})
             SELECT d.id, r.name, r.version, d.environment, d.model, d.requested_by, d.status, d.started_ms, d.finished_ms,
                    d.planned_ms, d.target_count,
                    (SELECT coalesce(sum(p.failed), 0) FROM phases p WHERE p.deployment_id = d.id),
                    rv.state
             FROM page JOIN deployments d ON d.id = page.id JOIN releases r ON r.id = d.release_id
                  LEFT JOIN reviews rv ON rv.deployment_id = d.id
             ORDER BY d.finished_ms DESC, d.id DESC",
            w.sql,
            n - 1
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(sql)?;
        let rows = stmt
            .query_map(params_from_iter(w.values.iter()), |r| {
                let result: DeploymentStatus = r.get::<_, String>(6)?.parse().unwrap_or(DeploymentStatus::Failed);
                let environment: String = r.get(3)?;
                let started: Option<i64> = r.get(7)?;
                let finished: i64 = r.get(8)?;
                let planned: i64 = r.get(9)?;
                let review = match r.get::<_, Option<String>>(12)?.as_deref() {
                    Some("complete") => ReviewState::Complete,
                    Some(_) => ReviewState::Draft,
                    None if rule.owes(result, &environment, started.is_some()) => ReviewState::Owed,
                    None => ReviewState::NotNeeded,
                };
                Ok(HistoryRow {
                    key: DeploymentKey(r.get(0)?),
                    release: r.get(1)?,
                    version: r.get(2)?,
                    environment,
                    model: r.get(4)?,
                    requested_by: r.get(5)?,
                    result,
                    started_at: started.map(from_ms),
                    finished_at: from_ms(finished),
                    duration_s: (finished - started.unwrap_or(planned).min(finished)) / 1000,
                    hosts_failed: r.get(11)?,
                    hosts_total: r.get(10)?,
                    review,
                })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    /// How many finished deployments match.
    pub fn history_count(
        &self,
        filter: &HistoryFilter,
        rule: &ReviewRule,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let w = Where::new(filter, rule, now);
        let (w, query) = if w.summable {
            let w = Where::counts(filter);
            let query = format!("SELECT coalesce(sum(n), 0) FROM history_counts WHERE {}", w.sql);
            (w, query)
        } else {
            let query = format!("SELECT count(*) {FROM} WHERE {}", w.sql);
            (w, query)
        };
        self.conn
            .prepare_cached(&query)
            .and_then(|mut s| s.query_row(params_from_iter(w.values.iter()), |r| r.get(0)))
            .map_err(|e| self.sql(e))
    }

    /// Run `b` against run `a`: the one comparison `shipdeck compare` and History's `c` show.
    pub fn comparison(
        &self,
        a: DeploymentKey,
        b: DeploymentKey,
        rule: &ReviewRule,
    ) -> Result<crate::domain::compare::Comparison, StoreError> {
        let failed = |key| -> Result<Vec<crate::domain::compare::Failed>, StoreError> {
            let phases = self.failed_phases(key)?;
            Ok(self
                .failures(key)?
                .into_iter()
                .map(|f| (phases.get(&f.target).cloned().unwrap_or_default(), f))
                .collect())
        };
        let (ra, rb) = (self.report(a, rule)?, self.report(b, rule)?);
        Ok(crate::domain::compare::compare(&ra, &failed(a)?, &rb, &failed(b)?))
    }

    /// The finished run of the same service in the same environment just before `key`, if any.
    pub fn previous_run(&self, key: DeploymentKey) -> Result<Option<DeploymentKey>, StoreError> {
        self.conn
            .query_row(
                "SELECT p.id FROM deployments d JOIN releases r ON r.id = d.release_id
                 JOIN releases pr ON pr.name = r.name JOIN deployments p ON p.release_id = pr.id
                 WHERE d.id = ?1 AND p.environment = d.environment AND p.id < d.id AND p.finished_ms IS NOT NULL
                 ORDER BY p.id DESC LIMIT 1",
                params![key.0],
                |r| r.get(0).map(DeploymentKey),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The phase of each failed (or lost) target of a deployment, by target name.
    pub fn failed_phases(&self, key: DeploymentKey) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT t.name, p.name FROM targets t JOIN phases p ON p.id = t.phase_id
                 WHERE t.deployment_id = ?1 AND t.status IN ('failed', 'lost')",
            )
            .and_then(|mut s| s.query_map(params![key.0], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.sql(e))
    }

    /// The failed targets of a deployment with the step, time and message of their failure, for
    /// error groups. Read from the targets' derived state: one row per failed host.
    pub fn failures(&self, key: DeploymentKey) -> Result<Vec<Failure>, StoreError> {
        let sql = |e| self.sql(e);
        let steps = self.steps_of(key)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.name, t.progress, t.last_step, t.last_at_ms, coalesce(t.last_error, t.last_message, '')
                 FROM targets t WHERE t.deployment_id = ?1 AND t.status = 'failed'",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([key.0], |r| {
                let progress: TargetProgress = serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default();
                let failure = progress.failure();
                let step = failure.and_then(|(i, _)| steps.get(i).cloned()).or(r.get::<_, Option<String>>(2)?);
                let at = failure.map(|(_, at)| at).or(r.get::<_, Option<i64>>(3)?).unwrap_or(0);
                Ok(Failure { target: r.get(0)?, step: step.unwrap_or_default(), at: from_ms(at), message: r.get(4)? })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    /// The post-deployment report of one deployment (see [`crate::domain::report`]).
    pub fn report(&self, key: DeploymentKey, rule: &ReviewRule) -> Result<Report, StoreError> {
        self.read_snapshot(|s| {
            let detail = s.detail(key, false)?;
            let failures = s.failures(key)?;
            let error_groups = errors::group(&failures);
            let phase_times = s.phase_times(key)?;
            let decisions = s.audit_records(Some(key))?;
            // The first failure of each phase, with its host.
            let mut first: Vec<(String, DateTime<Utc>, String)> = Vec::new();
            let phase_of = s.target_phases(key)?;
            for f in &failures {
                let phase = phase_of.get(&f.target).cloned().unwrap_or_default();
                match first.iter_mut().find(|(p, _, _)| *p == phase) {
                    Some(e) if f.at < e.1 => *e = (phase, f.at, f.target.clone()),
                    Some(_) => {}
                    None => first.push((phase, f.at, f.target.clone())),
                }
            }
            let d = &detail.summary;
            let timeline = report::timeline(d, &phase_times, &decisions, &error_groups, &first, s.zone);
            let usual = s.usual_step_p50(&d.model, key)?;
            let step_durations = report::step_stats(s.step_samples(key)?, &usual);
            let review = s.review(key)?;
            let review_state = match &review {
                Some(r) if r.content.state == Completion::Complete => ReviewState::Complete,
                Some(_) => ReviewState::Draft,
                None if d.status.is_final() && rule.owes(d.status, &d.environment, d.started_at.is_some()) => {
                    ReviewState::Owed
                }
                None => ReviewState::NotNeeded,
            };
            let silent_hosts = s.hosts_in(key, "running")?;
            let notifications = s.deployment_notifications(key)?;
            Ok(Report {
                deployment: detail.summary,
                phases: detail.phases,
                timeline,
                decisions,
                error_groups,
                step_durations,
                silent_hosts,
                review_state,
                review,
                verification: s.verification(key)?,
                notifications,
                failed_by_label: report::failed_by_label(&s.targets(key)?),
            })
        })
    }

    /// Everything a deployment's stakeholders were told, oldest first.
    fn deployment_notifications(&self, key: DeploymentKey) -> Result<Vec<Notification>, StoreError> {
        let sql = |e| self.sql(e);
        let query = format!("{NOTIFICATION_SELECT} WHERE n.deployment_id = ?1 ORDER BY n.id");
        let mut stmt = self.conn.prepare_cached(&query).map_err(sql)?;
        let rows = stmt.query_map([key.0], notification).map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    /// When each phase's gate opened, it started and it ended.
    fn phase_times(&self, key: DeploymentKey) -> Result<Vec<PhaseTimes>, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, gate_opened_ms, started_ms, finished_ms, status FROM phases WHERE deployment_id = ?1 ORDER BY idx",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([key.0], |r| {
                Ok(PhaseTimes {
                    name: r.get(0)?,
                    gate_opened: r.get::<_, Option<i64>>(1)?.map(from_ms),
                    started: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    finished: r.get::<_, Option<i64>>(3)?.map(from_ms),
                    failed: r.get::<_, String>(4)? == "failed",
                })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    /// Each target's phase, by target name.
    fn target_phases(&self, key: DeploymentKey) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.name, p.name FROM targets t JOIN phases p ON p.id = t.phase_id
                 WHERE t.deployment_id = ?1 AND t.status = 'failed'",
            )
            .map_err(sql)?;
        let rows = stmt.query_map([key.0], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)
    }

    /// Names of a deployment's targets in one status.
    fn hosts_in(&self, key: DeploymentKey, status: &str) -> Result<Vec<String>, StoreError> {
        let sql = |e| self.sql(e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM targets WHERE deployment_id = ?1 AND status = ?2 ORDER BY id")
            .map_err(sql)?;
        let rows = stmt.query_map(params![key.0, status], |r| r.get(0)).map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)
    }

    /// Per phase and step, how long each host took (ms), from the targets' step marks.
    fn step_samples(&self, key: DeploymentKey) -> Result<Vec<(String, String, Vec<i64>)>, StoreError> {
        let sql = |e| self.sql(e);
        let steps = self.steps_of(key)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.name, t.progress FROM targets t JOIN phases p ON p.id = t.phase_id
                 WHERE t.deployment_id = ?1 ORDER BY p.idx",
            )
            .map_err(sql)?;
        let mut out: Vec<(String, String, Vec<i64>)> = Vec::new();
        let mut rows = stmt.query([key.0]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let phase: String = r.get(0).map_err(sql)?;
            let progress: TargetProgress =
                serde_json::from_str(&r.get::<_, String>(1).map_err(sql)?).unwrap_or_default();
            for (i, ms) in progress.step_durations() {
                let Some(step) = steps.get(i) else { continue };
                match out.iter_mut().find(|(p, s, _)| *p == phase && s == step) {
                    Some(entry) => entry.2.push(ms),
                    None => out.push((phase.clone(), step.clone(), vec![ms])),
                }
            }
        }
        Ok(out)
    }

    /// Each step's median duration over the model's newest succeeded deployments before `key`.
    fn usual_step_p50(&self, model: &str, key: DeploymentKey) -> Result<Vec<(String, i64)>, StoreError> {
        const SAMPLED: usize = 10;
        let sql = |e| self.sql(e);
        let keys: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM deployments WHERE model = ?1 AND status = 'succeeded' AND id < ?2 ORDER BY id DESC LIMIT ?3",
            )
            .and_then(|mut s| s.query_map(params![model, key.0, SAMPLED], |r| r.get(0))?.collect())
            .map_err(sql)?;
        let mut by_step: Vec<(String, Vec<i64>)> = Vec::new();
        for k in keys {
            for (_, step, samples) in self.step_samples(DeploymentKey(k))? {
                match by_step.iter_mut().find(|(s, _)| *s == step) {
                    Some(e) => e.1.extend(samples),
                    None => by_step.push((step, samples)),
                }
            }
        }
        Ok(by_step
            .into_iter()
            .map(|(step, mut v)| {
                v.sort_unstable();
                (step, report::quantile(&v, 0.5))
            })
            .collect())
    }

    fn steps_of(&self, key: DeploymentKey) -> Result<Vec<String>, StoreError> {
        self.conn
            .query_row("SELECT steps FROM deployments WHERE id = ?1", [key.0], |r| r.get::<_, String>(0))
            .optional()
            .map_err(|e| self.sql(e))?
            .map(|s| serde_json::from_str(&s).unwrap_or_default())
            .ok_or_else(|| StoreError::UnknownDeployment(key.to_string()))
    }

    /// A deployment's review, if one was written.
    pub fn review(&self, key: DeploymentKey) -> Result<Option<Review>, StoreError> {
        let sql = |e| self.sql(e);
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, summary, impact, cause_category, root_cause, factors, lessons, authors, created_ms, updated_ms,
                        completed_ms, (SELECT count(*) FROM review_revisions v WHERE v.deployment_id = ?1)
                 FROM reviews WHERE deployment_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        [r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                        [r.get::<_, i64>(8)?, r.get(9)?],
                        r.get::<_, Option<i64>>(10)?,
                        r.get::<_, usize>(11)?,
                    ))
                })
                .optional()
            })
            .map_err(sql)?;
        let Some((
            state,
            [summary, impact, cause_category, root_cause, factors, lessons, authors],
            [created, updated],
            completed,
            revisions,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(Review {
            content: ReviewContent {
                state: if state == "complete" { Completion::Complete } else { Completion::Draft },
                summary,
                impact,
                cause_category,
                root_cause,
                contributing_factors: serde_json::from_str(&factors).unwrap_or_default(),
                lessons,
                actions: self.actions_of(key)?.into_iter().map(|a| a.action).collect(),
            },
            authors: serde_json::from_str(&authors).unwrap_or_default(),
            created_at: from_ms(created),
            updated_at: from_ms(updated),
            completed_at: completed.map(from_ms),
            revisions,
        }))
    }

    /// Stores a review as written (`body` is the file, kept as a revision) and replaces its
    /// actions with the file's, numbered in order; an action marked done keeps when it was done.
    /// Returns whether this save completed the review.
    pub fn save_review(
        &mut self,
        key: DeploymentKey,
        content: &ReviewContent,
        body: &str,
        (author, os_user): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let now_ms = to_ms(now);
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql)?;
        let exists: bool =
            tx.query_row("SELECT count(*) FROM deployments WHERE id = ?1", [key.0], |r| r.get(0)).map_err(sql)?;
        if !exists {
            return Err(StoreError::UnknownDeployment(key.to_string()));
        }
        let before: Option<(String, String)> = tx
            .query_row("SELECT state, authors FROM reviews WHERE deployment_id = ?1", [key.0], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(sql)?;
        let mut authors: Vec<String> =
            before.as_ref().and_then(|(_, a)| serde_json::from_str(a).ok()).unwrap_or_default();
        if !authors.iter().any(|a| a == author) {
            authors.push(author.to_owned());
        }
        let completes = content.state == Completion::Complete && before.as_ref().is_none_or(|(s, _)| s != "complete");
        tx.execute(
            "INSERT INTO reviews (deployment_id, state, summary, impact, cause_category, root_cause, factors, lessons, authors,
                                  created_ms, updated_ms, completed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
             ON CONFLICT (deployment_id) DO UPDATE SET state = excluded.state, summary = excluded.summary,
                 impact = excluded.impact, cause_category = excluded.cause_category, root_cause = excluded.root_cause,
                 factors = excluded.factors, lessons = excluded.lessons, authors = excluded.authors,
                 updated_ms = excluded.updated_ms,
                 completed_ms = CASE WHEN excluded.state = 'complete' THEN coalesce(reviews.completed_ms, excluded.updated_ms) END",
            params![
                key.0,
                content.state.as_str(),
                content.summary,
                content.impact,
                content.cause_category,
                content.root_cause,
                serde_json::to_string(&content.contributing_factors).unwrap_or_default(),
                content.lessons,
                serde_json::to_string(&authors).unwrap_or_default(),
                now_ms,
                (content.state == Completion::Complete).then_some(now_ms),
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO review_revisions (deployment_id, author, body, saved_ms) VALUES (?1, ?2, ?3, ?4)",
            params![key.0, author, body, now_ms],
        )
        .map_err(sql)?;
        for (i, a) in content.actions.iter().enumerate() {
            tx.execute(
                "INSERT INTO actions (deployment_id, n, text, owner, due, done_ms, done_by, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 THEN ?7 END, CASE WHEN ?6 THEN ?8 END, ?7)
                 ON CONFLICT (deployment_id, n) DO UPDATE SET text = excluded.text, owner = excluded.owner, due = excluded.due,
                     done_ms = CASE WHEN ?6 THEN coalesce(actions.done_ms, ?7) END,
                     done_by = CASE WHEN ?6 THEN coalesce(actions.done_by, ?8) END",
                params![key.0, i + 1, a.text, a.owner, a.due.format("%Y-%m-%d").to_string(), a.done, now_ms, author],
            )
            .map_err(sql)?;
        }
        tx.execute("DELETE FROM actions WHERE deployment_id = ?1 AND n > ?2", params![key.0, content.actions.len()])
            .map_err(sql)?;
        if completes {
            // Completing a review is a decision of record: who closed the analysis, and with what.
            let state = serde_json::json!({
                "summary": content.summary,
                "cause_category": content.cause_category,
                "actions": content.actions.len(),
            });
            audit::append(
                &tx,
                &audit::NewRecord {
                    subject: None,
                    deployment_id: key.0,
                    phase_id: 0,
                    decision: REVIEW_COMPLETE,
                    person: author,
                    role: None,
                    os_user,
                    comment: Some(&content.summary),
                    reason: None,
                    policy_state: &state.to_string(),
                    decided_ms: now_ms,
                    outcome: None,
                },
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(completes)
    }

    /// Marks action `n` of a deployment's review done (or open again).
    pub fn set_action_done(
        &mut self,
        key: DeploymentKey,
        n: usize,
        done: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.mark_action("deployment_id", &key.0, n, done, by, now)? == 0 {
            return Err(StoreError::UnknownAction { key: key.to_string(), n });
        }
        Ok(())
    }

    /// Marks action `n` of an owner (`deployment_id` or `model`, the `actions` column naming
    /// whose it is) done, keeping when and by whom it was first done, or open again; the rows
    /// changed (0: no such action). Reviews' and models' actions are the same actions.
    pub(super) fn mark_action(
        &self,
        owner_column: &'static str,
        owner: &dyn rusqlite::ToSql,
        n: usize,
        done: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        debug_assert!(matches!(owner_column, "deployment_id" | "model"));
        let sql = format!(
            "UPDATE actions SET done_ms = CASE WHEN ?3 THEN coalesce(done_ms, ?4) END,
                                done_by = CASE WHEN ?3 THEN coalesce(done_by, ?5) END
             WHERE {owner_column} = ?1 AND n = ?2"
        );
        self.conn.execute(&sql, params![owner, n, done, to_ms(now), by]).map_err(|e| self.sql(e))
    }

    /// A deployment's actions, in order.
    pub fn actions_of(&self, key: DeploymentKey) -> Result<Vec<ActionRow>, StoreError> {
        self.actions_where("a.deployment_id = ?1", [key.0])
    }

    /// Every action not done yet, the earliest due first.
    pub fn open_actions(&self) -> Result<Vec<ActionRow>, StoreError> {
        self.actions_where("a.done_ms IS NULL", [])
    }

    pub(super) fn actions_where<P: rusqlite::Params>(
        &self,
        cond: &str,
        params: P,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let sql = |e| self.sql(e);
        let query = format!(
            "SELECT a.deployment_id, a.n, a.text, a.owner, a.due, a.done_ms, a.done_by, a.model FROM actions a WHERE {cond}
             ORDER BY CASE WHEN a.done_ms IS NULL THEN a.due END, a.deployment_id, a.model, a.n"
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(sql)?;
        let rows = stmt
            .query_map(params, |r| {
                let due: String = r.get(4)?;
                let done_ms: Option<i64> = r.get(5)?;
                Ok(ActionRow {
                    deployment: r.get::<_, Option<i64>>(0)?.map(DeploymentKey),
                    model: r.get(7)?,
                    n: r.get(1)?,
                    action: Action {
                        text: r.get(2)?,
                        owner: r.get(3)?,
                        due: NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap_or_default(),
                        done: done_ms.is_some(),
                    },
                    done_at: done_ms.map(from_ms),
                    done_by: r.get(6)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }
}

/// The audit record's `decision` when a review is completed.
pub const REVIEW_COMPLETE: &str = "review_complete";

#[cfg(test)]
mod tests;

/// A stored improvement action: of a deployment's failure review, or of a model review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionRow {
    /// The deployment whose review it comes from (`null` for a model's action).
    #[serde(serialize_with = "key_text_opt")]
    pub deployment: Option<DeploymentKey>,
    /// The deployment model whose review it comes from (`null` for a review's action).
    pub model: Option<String>,
    /// Its number within the deployment's review or the model's actions (1-based).
    pub n: usize,
    #[serde(flatten)]
    pub action: Action,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

impl ActionRow {
    /// What it belongs to, for a listing: `DEP-3` or `model phased`.
    #[must_use]
    pub fn of(&self) -> String {
        match (&self.deployment, &self.model) {
            (Some(key), _) => key.to_string(),
            (None, Some(model)) => format!("model {model}"),
            (None, None) => String::new(),
        }
    }
}

fn key_text_opt<S: serde::Serializer>(k: &Option<DeploymentKey>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.collect_str(k),
        None => s.serialize_none(),
    }
}
