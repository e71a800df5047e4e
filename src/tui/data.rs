//! The dashboard's data source: a blocking thread with its own [`Store`] that follows the log.
//!
//! Every ~30 ms it asks SQLite whether another connection committed (`PRAGMA data_version`,
//! a few microseconds). Only then does it read, in one snapshot, what is newer than the last
//! event it saw: which deployments were touched (their summaries are re-read), the selected
//! deployment's new events, phases and the targets those events changed. Nothing folds the
//! history: the dashboard holds the deployment list, one deployment's targets and a bounded
//! tail of its events.
//!
//! With an operator ([`Loader::with_gates`]) it also reads their Approvals inbox and
//! notifications (at most once a second while the log changes, and every few seconds anyway,
//! since bake times and windows open with the clock), and makes the decisions they confirm.

mod gates;

// The data types used to live here; code written before `model` existed finds them still.
pub use super::model::{
    Decided, DecisionCmd, DetailUpdate, GateData, LIST_LIMIT, NOTIFICATIONS_SHOWN, Pending, Refresh, TAIL_CAP,
    TAIL_FETCH, TARGET_EVENTS, TargetEvents,
};

use super::model::{CalendarPage, HISTORY_WINDOW, HistoryPage, Loaded, first_selection};
use super::strings;
use crate::clock::SharedClock;
use crate::decide::Desk;
use crate::domain::DeploymentKey;
use crate::domain::history::{HistoryFilter, ReviewRule};
use crate::domain::review::ReviewContent;
use crate::store::{ListFilter, Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// How often the log is checked for commits by other processes.
pub const POLL: Duration = Duration::from_millis(30);
/// Past this many new events of the selected deployment, its targets are reloaded whole.
const RELOAD_TARGETS_AFTER: usize = 5_000;
/// The gates are read again at most this often while the log changes...
const GATES_MIN: Duration = Duration::from_secs(1);
/// ...and at least this often, for bake times and windows that open with the clock.
const GATES_EVERY: Duration = Duration::from_secs(5);
/// The Metrics view (KPIs and model review, which read a period's deployments) is read again at
/// most this often while the log changes.
const METRICS_MIN: Duration = Duration::from_secs(2);

/// What the dashboard asks of its data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Select(Option<DeploymentKey>),
    Target(DeploymentKey, String),
    Pause(bool),
    /// Record a confirmed decision.
    Decide(DecisionCmd),
    /// Who a decision would notify.
    Preview(DecisionCmd),
    /// Mark these notifications read (all when empty).
    MarkRead(Vec<i64>),
    /// A page of History.
    History(HistoryFilter, usize),
    /// A deployment's report, for its drill-down.
    Report(DeploymentKey),
    /// Save a review as the operator.
    SaveReview(DeploymentKey, ReviewContent, String),
    /// A deployment's checklist.
    Checklist(DeploymentKey),
    /// Record a checklist tick.
    Tick(crate::decide::checklist::TickAsk),
    /// A deployment against its previous run.
    Compare(DeploymentKey),
    /// The Metrics view's KPIs.
    Metrics(crate::domain::kpi::MetricsAsk),
    /// The change calendar of a period.
    Calendar(DateTime<Utc>, DateTime<Utc>),
    /// The model review of the last so many days.
    ModelReview(i64),
    /// Record a model review's suggestion as an improvement action.
    Record(Box<crate::domain::model_review::Suggestion>, crate::decide::improve::RecordAsk),
    /// A deployment's log, for its replay.
    Replay(DeploymentKey),
}

/// Reads the log incrementally; used by the data thread and by the benchmark.
pub struct Loader {
    store: Store,
    clock: SharedClock,
    tz: Tz,
    data_version: i64,
    last_seq: i64,
    newest_deployment: i64,
    selected: Option<DeploymentKey>,
    desk: Option<Desk>,
    estimates: gates::EstimateCache,
    /// Which deployments owe reviews, for History's review column.
    reviews: ReviewRule,
    /// The History page and the drill-down last asked for: read again when the log changes.
    history_wanted: Option<(HistoryFilter, usize)>,
    report_wanted: Option<DeploymentKey>,
    /// The environments that count as production, for the Metrics view.
    production: Vec<String>,
    /// The calendar period last asked for, and the log's version it was read at.
    calendar_wanted: Option<(DateTime<Utc>, DateTime<Utc>)>,
    calendar_version: i64,
    /// The Metrics view's KPIs and model review last asked for: read again when the log changes.
    metrics_wanted: Option<crate::domain::kpi::MetricsAsk>,
    review_wanted: Option<i64>,
}

impl Loader {
    #[must_use]
    pub fn new(mut store: Store, clock: SharedClock, tz: Tz) -> Self {
        // What the store words (reports' timelines, notifications) names times in the zone
        // the dashboard shows.
        store.set_zone(tz);
        Self {
            store,
            clock,
            tz,
            data_version: 0,
            last_seq: 0,
            newest_deployment: 0,
            selected: None,
            desk: None,
            estimates: gates::EstimateCache::new(),
            reviews: ReviewRule { results: Vec::new(), environments: Vec::new() },
            history_wanted: None,
            report_wanted: None,
            production: Vec::new(),
            calendar_wanted: None,
            calendar_version: -1,
            metrics_wanted: None,
            review_wanted: None,
        }
    }

    /// The change calendar of `[from, until)` and the next happenings, under the desk's config
    /// (the built-in one without a desk).
    pub fn calendar(&mut self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Refresh, StoreError> {
        let config = self
            .desk
            .as_ref()
            .map_or_else(|| std::sync::Arc::new(crate::config::Config::built_in()), |d| d.config.clone());
        let now = self.clock.now();
        self.calendar_version = self.store.data_version()?;
        let (entries, upcoming) = self.store.read_snapshot(|s| {
            Ok((
                crate::decide::schedule::entries(s, &config, (from, until), now)?,
                crate::decide::schedule::upcoming(s, &config, now, 10)?,
            ))
        })?;
        self.calendar_wanted = Some((from, until));
        Ok(Refresh { calendar: Some(CalendarPage { from, until, entries, upcoming }), ..Refresh::default() })
    }

    /// The calendar again when another process committed since it was read.
    pub(crate) fn calendar_again(&mut self) -> Result<Option<Refresh>, StoreError> {
        let Some((from, until)) = self.calendar_wanted else { return Ok(None) };
        if self.store.data_version()? == self.calendar_version {
            return Ok(None);
        }
        self.calendar(from, until).map(Some)
    }

    /// Tells History which deployments owe a failure review.
    #[must_use]
    pub fn with_reviews(mut self, rule: ReviewRule) -> Self {
        self.reviews = rule;
        self
    }

    /// `key` against the previous run of its service in its environment.
    pub fn compare(&mut self, key: DeploymentKey) -> Result<Refresh, StoreError> {
        // Each report reads in its own snapshot (they cannot nest).
        let answer = match self.store.previous_run(key)? {
            Some(before) => Ok(Box::new(self.store.comparison(before, key, &self.reviews)?)),
            None => Err(format!("{key} has no earlier finished run of its service in its environment")),
        };
        Ok(Refresh { compare: Some((key, answer)), ..Refresh::default() })
    }

    /// A deployment's log for its replay, read in one snapshot.
    pub fn replay(&mut self, key: DeploymentKey) -> Result<Refresh, StoreError> {
        let log = self.store.read_snapshot(|s| s.replay_log(key))?;
        Ok(Refresh { replay: Some((key, Box::new(log))), ..Refresh::default() })
    }

    /// The Metrics view's KPIs for `ask` at the clock's now.
    pub fn metrics(&mut self, ask: crate::domain::kpi::MetricsAsk) -> Result<Refresh, StoreError> {
        let (now, tz) = (self.clock.now(), self.tz);
        let production = &self.production;
        let metrics = self.store.read_snapshot(|s| s.metrics(&ask, now, production, tz))?;
        self.metrics_wanted = Some(ask);
        Ok(Refresh { metrics: Some(Box::new(metrics)), ..Refresh::default() })
    }

    /// The model review of the `days` before the clock's now.
    pub fn model_review(&mut self, days: i64) -> Result<Refresh, StoreError> {
        let now = self.clock.now();
        let production = &self.production;
        let from = now - chrono::TimeDelta::days(days.max(1));
        let review = self.store.read_snapshot(|s| s.model_review(None, from, now, production))?;
        self.review_wanted = Some(days);
        Ok(Refresh { model_review: Some((days, Box::new(review))), ..Refresh::default() })
    }

    /// The Metrics view's KPIs and model review as they are now, when they were asked for.
    fn metrics_again(&mut self) -> Result<Option<Refresh>, StoreError> {
        let mut out = match self.metrics_wanted.clone() {
            Some(ask) => self.metrics(ask)?,
            None => return Ok(None),
        };
        if let Some(days) = self.review_wanted {
            out.model_review = self.model_review(days)?.model_review;
        }
        Ok(Some(out))
    }

    /// [`Self::metrics_again`] for the screen tests, which serve commands as the run loop does.
    #[cfg(test)]
    pub(crate) fn metrics_again_for_tests(&mut self) -> Result<Refresh, StoreError> {
        self.metrics_again().map(Option::unwrap_or_default)
    }

    /// Records a model review's suggestion as the operator, through [`crate::decide::improve`]
    /// as `shipdeck models review --record` does.
    pub fn record(
        &mut self,
        suggestion: &crate::domain::model_review::Suggestion,
        ask: &crate::decide::improve::RecordAsk,
    ) -> Decided {
        let Some(desk) = self.desk.as_ref() else {
            return Decided::NotRecorded(strings::gates::NO_OPERATOR.to_owned());
        };
        let now = self.clock.now();
        let today = now.with_timezone(&self.tz).date_naive();
        match crate::decide::improve::record(&mut self.store, &desk.operator, suggestion, ask, today, now) {
            Ok(said) => Decided::Recorded(said),
            Err(e) => Decided::NotRecorded(e.to_string()),
        }
    }

    /// Tells Metrics which environments count as production.
    #[must_use]
    pub fn with_production(mut self, production: Vec<String>) -> Self {
        self.production = production;
        self
    }

    /// One page of History: up to [`HISTORY_WINDOW`] rows from `offset`, and how many match.
    pub fn history(&mut self, filter: HistoryFilter, offset: usize) -> Result<Refresh, StoreError> {
        let (now, rule) = (self.clock.now(), &self.reviews);
        let (rows, total) = self.store.read_snapshot(|s| {
            Ok((s.history(&filter, rule, now, offset, HISTORY_WINDOW)?, s.history_count(&filter, rule, now)?))
        })?;
        self.history_wanted = Some((filter.clone(), offset));
        Ok(Refresh { history: Some(HistoryPage { filter, offset, rows, total }), ..Refresh::default() })
    }

    /// The report of one deployment, for the drill-down.
    pub fn report(&mut self, key: DeploymentKey) -> Result<Refresh, StoreError> {
        let report = self.store.report(key, &self.reviews)?;
        self.report_wanted = Some(key);
        Ok(Refresh { report: Some(Box::new(report)), ..Refresh::default() })
    }

    /// Saves a review as the operator; what to say about it.
    pub fn save_review(&mut self, key: DeploymentKey, content: &ReviewContent, text: &str) -> Decided {
        let Some(desk) = self.desk.as_ref() else {
            return Decided::NotRecorded("no operator: reviews cannot be written here".into());
        };
        match crate::decide::review::save(&mut self.store, &desk.operator, key, content, text, self.clock.now()) {
            Ok(said) => Decided::Recorded(said),
            Err(e) => Decided::NotRecorded(e.to_string()),
        }
    }

    /// History and the drill-down as they are now, when they were asked for.
    fn history_again(&mut self) -> Result<Refresh, StoreError> {
        let mut out = match self.history_wanted.clone() {
            Some((filter, offset)) => self.history(filter, offset)?,
            None => Refresh::default(),
        };
        if let Some(key) = self.report_wanted {
            out.report = self.report(key)?.report;
        }
        Ok(out)
    }

    /// Also reads the operator's gates and notifications, and makes their decisions.
    #[must_use]
    pub fn with_gates(mut self, desk: Desk) -> Self {
        self.desk = Some(desk);
        self
    }

    /// Everything the first frame needs: the list, counts and the first deployment in detail.
    pub fn initial(&mut self) -> Result<Refresh, StoreError> {
        self.data_version = self.store.data_version()?;
        let since = self.midnight();
        let (list, counts, seq, newest) = self.store.read_snapshot(|s| {
            Ok((
                s.list(&ListFilter { statuses: Vec::new(), limit: LIST_LIMIT })?,
                s.status_counts(since)?,
                s.last_seq()?,
                s.newest_deployment()?,
            ))
        })?;
        self.last_seq = seq;
        self.newest_deployment = newest;
        self.selected = first_selection(&list);
        let detail = match self.selected {
            Some(key) => Some(self.full_detail(key)?),
            None => None,
        };
        let gates = self.gates()?;
        Ok(Refresh { list: Some(list), counts: Some(counts), detail, gates, ..Refresh::default() })
    }

    /// The selected deployment changed: its phases, every target and its tail.
    pub fn select(&mut self, key: Option<DeploymentKey>) -> Result<Refresh, StoreError> {
        self.selected = key;
        let detail = match key {
            Some(key) => Some(self.full_detail(key)?),
            None => None,
        };
        Ok(Refresh { detail, ..Refresh::default() })
    }

    /// The events of one target, newest last.
    pub fn target(&mut self, key: DeploymentKey, name: String) -> Result<Refresh, StoreError> {
        let events = self.store.target_events(key, &name, TARGET_EVENTS)?;
        Ok(Refresh { target: Some(TargetEvents { key, name, events }), ..Refresh::default() })
    }

    /// What changed since the last call, or `None` when no other process committed.
    pub fn poll(&mut self) -> Result<Option<Refresh>, StoreError> {
        let version = self.store.data_version()?;
        if version == self.data_version {
            return Ok(None);
        }
        self.data_version = version;
        self.refresh().map(Some)
    }

    /// Reads what is newer than the last seen event, in one snapshot.
    pub fn refresh(&mut self) -> Result<Refresh, StoreError> {
        let (seen, selected, since, known_newest) =
            (self.last_seq, self.selected, self.midnight(), self.newest_deployment);
        let now = self.clock.now();
        let (refresh, seq, newest) = self.store.read_snapshot(|s| {
            let touched = s.touched_since(seen)?;
            let newest = s.newest_deployment()?;
            let mut out = Refresh { counts: Some(s.status_counts(since)?), ..Refresh::default() };
            // No new event but a commit: a plan or a decision; new deployment: list it.
            if touched.is_empty() || newest != known_newest {
                out.list = Some(s.list(&ListFilter { statuses: Vec::new(), limit: LIST_LIMIT })?);
            }
            let keys: HashSet<DeploymentKey> = touched.iter().map(|t| t.deployment).collect();
            if out.list.is_none() {
                out.changed = keys.iter().map(|k| s.summary(*k)).collect::<Result<_, _>>()?;
            }
            if let Some(key) = selected.filter(|k| keys.contains(k) || touched.is_empty()) {
                let count = touched.iter().find(|t| t.deployment == key).map_or(0, |t| t.count);
                let all_targets = count > RELOAD_TARGETS_AFTER;
                out.detail = Some(DetailUpdate {
                    key,
                    phases: s.phases(key)?,
                    targets: if all_targets { s.targets(key)? } else { s.targets_changed_since(key, seen)? },
                    all_targets,
                    events: if count == 0 { Vec::new() } else { s.deployment_events_after(key, seen, TAIL_FETCH)? },
                    reset_tail: count > TAIL_FETCH,
                    new_events: count,
                    verification: s.verification(key)?,
                    analysis: s.analysis(key, now)?,
                    shape: shape(s, key)?,
                });
            }
            let seq = touched.iter().map(|t| t.newest_seq).max().unwrap_or(seen);
            Ok((out, seq, newest))
        })?;
        self.last_seq = seq;
        self.newest_deployment = newest;
        Ok(refresh)
    }

    fn full_detail(&self, key: DeploymentKey) -> Result<DetailUpdate, StoreError> {
        self.store.read_snapshot(|s| {
            Ok(DetailUpdate {
                key,
                phases: s.phases(key)?,
                targets: s.targets(key)?,
                all_targets: true,
                events: s.events(key, TAIL_CAP)?,
                reset_tail: true,
                new_events: 0,
                verification: s.verification(key)?,
                analysis: s.analysis(key, self.clock.now())?,
                shape: shape(s, key)?,
            })
        })
    }

    /// The start of today in the display zone, for "failed today".
    fn midnight(&self) -> DateTime<Utc> {
        let local = self.clock.now().with_timezone(&self.tz);
        let day = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
        self.tz.from_local_datetime(&day).earliest().map_or(local.with_timezone(&Utc), |t| t.with_timezone(&Utc))
    }

    /// The data thread: answers requests and polls the log until the dashboard hangs up.
    ///
    /// `out` is bounded: when the dashboard falls behind, this thread waits before it reads
    /// again, and the next read starts from the last event it handed over, so nothing is lost.
    pub fn run(mut self, requests: &Receiver<Request>, out: &Sender<Loaded>) {
        let mut paused = false;
        let mut gates_at = Instant::now();
        let mut gates_dirty = false;
        let mut history_at = Instant::now();
        let mut history_dirty = false;
        let mut calendar_at = Instant::now();
        let mut metrics_at = Instant::now();
        let mut metrics_dirty = false;
        loop {
            let mut pending: Vec<Request> = Vec::new();
            match requests.recv_timeout(POLL) {
                Ok(r) => pending.push(r),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            pending.extend(requests.try_iter());
            // Of several selections in a row (j held down) only the last one matters.
            let last_select = pending.iter().rposition(|r| matches!(r, Request::Select(_)));
            for (i, request) in pending.into_iter().enumerate() {
                let answer = match request {
                    Request::Pause(p) => {
                        paused = p;
                        continue;
                    }
                    Request::Select(key) if Some(i) == last_select => self.select(key),
                    Request::Select(_) => continue,
                    Request::Target(key, name) => self.target(key, name),
                    Request::Decide(cmd) => {
                        let decided = self.decide(&cmd);
                        if out.blocking_send(Loaded::Decided(decided)).is_err() {
                            return;
                        }
                        gates_at = Instant::now();
                        self.after_write()
                    }
                    Request::Preview(cmd) => {
                        let told = self.preview(&cmd);
                        if out.blocking_send(Loaded::Previewed(cmd, told)).is_err() {
                            return;
                        }
                        continue;
                    }
                    Request::MarkRead(ids) => {
                        gates_at = Instant::now();
                        self.mark_read(&ids).and_then(|_| self.after_write())
                    }
                    Request::History(filter, offset) => self.history(filter, offset),
                    Request::Checklist(key) => self.checklist(key),
                    Request::Tick(ask) => {
                        let ticked = self.tick(&ask);
                        if out.blocking_send(Loaded::Decided(ticked)).is_err() {
                            return;
                        }
                        gates_at = Instant::now();
                        self.after_write().and_then(|mut r| {
                            r.checklist = self.checklist(ask.key)?.checklist;
                            Ok(r)
                        })
                    }
                    Request::Report(key) => self.report(key),
                    Request::Metrics(ask) => self.metrics(ask),
                    Request::Compare(key) => self.compare(key),
                    Request::Calendar(from, until) => self.calendar(from, until),
                    Request::ModelReview(days) => self.model_review(days),
                    Request::Record(suggestion, ask) => {
                        let recorded = self.record(&suggestion, &ask);
                        if out.blocking_send(Loaded::Decided(recorded)).is_err() {
                            return;
                        }
                        // Its own write does not move data_version: read the view again now.
                        metrics_at = Instant::now();
                        match self.metrics_again() {
                            Ok(Some(r)) => Ok(r),
                            Ok(None) => continue,
                            Err(e) => Err(e),
                        }
                    }
                    Request::Replay(key) => self.replay(key),
                    Request::SaveReview(key, content, text) => {
                        let saved = self.save_review(key, &content, &text);
                        if out.blocking_send(Loaded::Decided(saved)).is_err() {
                            return;
                        }
                        self.history_again()
                    }
                };
                if !send(out, answer) {
                    return;
                }
            }
            if paused {
                continue;
            }
            let polled = self.poll().transpose();
            if let Some(answer) = polled {
                gates_dirty = true;
                history_dirty = true;
                metrics_dirty = true;
                if !send(out, answer) {
                    return;
                }
            }
            // History and the drill-down follow the log too, at most once a second.
            if history_dirty && history_at.elapsed() >= GATES_MIN && self.history_wanted.is_some() {
                history_at = Instant::now();
                history_dirty = false;
                if !send(out, self.history_again()) {
                    return;
                }
            }
            // The Metrics view follows the log too, at most every few seconds (it reads a period).
            if metrics_dirty && metrics_at.elapsed() >= METRICS_MIN {
                metrics_at = Instant::now();
                metrics_dirty = false;
                match self.metrics_again() {
                    Ok(None) => {}
                    answer => {
                        if !send(out, answer.map(Option::unwrap_or_default)) {
                            return;
                        }
                    }
                }
            }
            // The calendar follows every commit (a freeze declared elsewhere), at most once a second.
            if calendar_at.elapsed() >= GATES_MIN {
                calendar_at = Instant::now();
                match self.calendar_again() {
                    Ok(None) => {}
                    Ok(Some(r)) => {
                        if !send(out, Ok(r)) {
                            return;
                        }
                    }
                    Err(e) => {
                        if !send(out, Err(e)) {
                            return;
                        }
                    }
                }
            }
            let due = gates_at.elapsed() >= GATES_EVERY || (gates_dirty && gates_at.elapsed() >= GATES_MIN);
            if self.desk.is_some() && due {
                gates_at = Instant::now();
                gates_dirty = false;
                let answer = self.gates().map(|gates| Refresh { gates, ..Refresh::default() });
                if !send(out, answer) {
                    return;
                }
            }
        }
    }
}

impl Loader {
    /// The operator's gates and notifications now (`None` without an operator, as in benches).
    pub fn gates(&mut self) -> Result<Option<GateData>, StoreError> {
        let Some(desk) = self.desk.as_ref() else { return Ok(None) };
        let now = self.clock.now();
        // The inbox and the estimates each read in one snapshot of their own.
        gates::read(&self.store, desk, &mut self.estimates, now).map(Some)
    }

    /// Records a confirmed decision through [`crate::decide`], as the CLI does.
    pub fn decide(&mut self, cmd: &DecisionCmd) -> Decided {
        let Some(desk) = self.desk.as_ref() else {
            return Decided::NotRecorded(strings::gates::NO_OPERATOR.to_owned());
        };
        match desk.decide(&mut self.store, cmd, self.clock.now()) {
            Ok(recorded) => Decided::Recorded(recorded.to_string()),
            Err(e) => Decided::NotRecorded(e.to_string()),
        }
    }

    /// Who a decision would notify, through [`crate::decide::preview`] (nothing is written).
    pub fn preview(&mut self, cmd: &DecisionCmd) -> Result<Vec<crate::domain::notify::Told>, String> {
        let Some(desk) = self.desk.as_ref() else { return Err(strings::gates::NO_OPERATOR.to_owned()) };
        desk.preview(&mut self.store, cmd, self.clock.now()).map_err(|e| e.to_string())
    }

    /// A deployment's checklist, for its panel.
    pub fn checklist(&mut self, key: DeploymentKey) -> Result<Refresh, StoreError> {
        let items = self.store.checklist(key)?;
        Ok(Refresh { checklist: Some((key, items)), ..Refresh::default() })
    }

    /// Records a confirmed checklist tick through [`crate::decide::checklist`], as `shipdeck
    /// check` does.
    pub fn tick(&mut self, ask: &crate::decide::checklist::TickAsk) -> Decided {
        let Some(desk) = self.desk.as_ref() else {
            return Decided::NotRecorded(strings::gates::NO_OPERATOR.to_owned());
        };
        match crate::decide::checklist::tick(&mut self.store, &desk.rules, &desk.operator, ask, self.clock.now()) {
            Ok(ticked) => Decided::Recorded(ticked.to_string()),
            Err(e) => Decided::NotRecorded(e.to_string()),
        }
    }

    /// Marks the operator's notifications read (all of them when `ids` is empty).
    pub fn mark_read(&mut self, ids: &[i64]) -> Result<usize, StoreError> {
        let Some(desk) = self.desk.as_ref() else { return Ok(0) };
        let now = self.clock.now();
        self.store.mark_read(&desk.operator.name, ids, now)
    }

    /// What the dashboard must see after this loader wrote: its own commits do not move
    /// `data_version`, so the list, the selected deployment and the gates are read now.
    pub fn after_write(&mut self) -> Result<Refresh, StoreError> {
        let mut refresh = self.refresh()?;
        refresh.gates = self.gates()?;
        Ok(refresh)
    }
}

/// Hands a result to the dashboard; `false` when it is gone.
fn send(out: &Sender<Loaded>, answer: Result<Refresh, StoreError>) -> bool {
    let loaded = match answer {
        Ok(r) => Loaded::Refresh(Box::new(r)),
        Err(e) => Loaded::Failed(e.to_string()),
    };
    out.blocking_send(loaded).is_ok()
}

/// What the deployment's technique adds: its switch-over, whether it is a supervised run.
fn shape(s: &Store, key: DeploymentKey) -> Result<crate::tui::model::Shape, StoreError> {
    Ok(crate::tui::model::Shape {
        switch: s.switchover(key)?,
        supervised: s.supervised(key)?.map(|(run, of)| crate::domain::records::Supervision { run, of }),
    })
}
