//! Delivery KPIs, defined once: what `shipdeck kpi` prints and the Metrics view shows.
//!
//! The store reads one [`KpiDeployment`] per finished deployment of a period (with the waits of
//! its gates already split by [`split_gate_wait`]); [`compute`] turns a slice of them into
//! [`Kpis`]. Every rate is `None` when its denominator is zero, never NaN, so an empty scope
//! says "no deployments in this period" instead of dividing by zero. The README's "Delivery
//! KPIs" section states the same definitions in words.

use super::DeploymentStatus;
use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// One finished deployment as the KPIs see it.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiDeployment {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub model: String,
    /// Whether its environment is declared `production = true` in the config.
    pub production: bool,
    pub status: DeploymentStatus,
    /// When it was planned (the record was created): lead time starts here.
    pub planned: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: DateTime<Utc>,
    pub hosts_failed: u64,
    /// Whether any phase of it was retried (a `retry` decision).
    pub retried: bool,
    /// Its gates that were approved, in phase order.
    pub gates: Vec<GateWait>,
    /// The first phase that failed, if one did.
    pub failed_phase: Option<String>,
}

/// The wait at one approved gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateWait {
    /// The phase the gate stands before.
    pub phase: String,
    /// Gate opened -> approved (the approval that made it pass).
    pub total: TimeDelta,
    /// The part of `total` the bake time held the gate.
    pub bake: TimeDelta,
    /// The part of `total` a closed change window, a freeze or the planned start held it.
    pub window: TimeDelta,
    /// The rest of `total`: every time rule held and the approvals were missing.
    pub approval: TimeDelta,
    /// Gate opened -> each approving role's first approval.
    pub roles: Vec<(String, TimeDelta)>,
}

/// Splits a gate's wait `[opened, approved]` by the rule that held it: the bake until
/// `bake_end`, then the time rules (windows, freezes, planned start) until `rules_hold` (the
/// first instant every time rule held, [`super::gate::timing::earliest`]), then the approvals.
#[must_use]
pub fn split_gate_wait(
    opened: DateTime<Utc>,
    approved: DateTime<Utc>,
    bake_end: Option<DateTime<Utc>>,
    rules_hold: Option<DateTime<Utc>>,
) -> (TimeDelta, TimeDelta, TimeDelta) {
    let approved = approved.max(opened);
    let clamp = |t: DateTime<Utc>| t.clamp(opened, approved);
    let baked = bake_end.map_or(opened, clamp);
    // No instant in the horizon where the rules held: they held the gate until it was approved.
    let rules = rules_hold.map_or(approved, clamp).max(baked);
    (baked - opened, rules - baked, approved - rules)
}

/// A median and a 90th percentile of durations, in seconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Spread {
    pub count: usize,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

impl Spread {
    /// The spread of `values` (sorted here).
    #[must_use]
    pub fn of(mut values: Vec<TimeDelta>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len(),
            median_s: percentile(&values, 50).map(|d| d.num_seconds()),
            p90_s: percentile(&values, 90).map(|d| d.num_seconds()),
        }
    }
}

/// The nearest-rank percentile `p` of sorted values; `None` for none.
#[must_use]
pub fn percentile<T: Copy>(sorted: &[T], p: usize) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Failed deployment recovery time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Recovery {
    /// Production failures followed by a success of the same service in the same environment.
    #[serde(flatten)]
    pub time: Spread,
    /// Production failures with no such success yet.
    pub open: usize,
}

/// Lead time (planned -> finished) and its parts. The parts are means, so they add up to the
/// mean lead time (medians of parts would not add up to anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LeadTime {
    #[serde(flatten)]
    pub total: Spread,
    pub mean_s: Option<i64>,
    pub approval_wait_mean_s: Option<i64>,
    pub window_wait_mean_s: Option<i64>,
    pub bake_wait_mean_s: Option<i64>,
    pub running_mean_s: Option<i64>,
}

/// The mean of durations, in whole seconds; `None` for none.
fn mean_s(values: &[TimeDelta]) -> Option<i64> {
    let n = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().map(TimeDelta::num_milliseconds).sum::<i64>() / n / 1000)
}

/// Approval waits of one gate (`model/phase`) or one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedWait {
    pub name: String,
    #[serde(flatten)]
    pub wait: Spread,
}

/// Every KPI of one scope and period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    /// Finished deployments in the period.
    pub deployments: usize,
    pub per_day: f64,
    pub per_week: f64,
    pub succeeded: usize,
    pub success_rate: Option<f64>,
    /// Production deployments that started.
    pub production_started: usize,
    /// Of those, the ones that failed, were rolled back or aborted.
    pub production_failed: usize,
    pub change_failure_rate: Option<f64>,
    pub recovery: Recovery,
    pub lead_time: LeadTime,
    /// Gate opened -> approved, over every approved gate.
    pub approval_wait: Spread,
    pub approval_wait_by_gate: Vec<NamedWait>,
    pub approval_wait_by_role: Vec<NamedWait>,
    /// Succeeded without any retry decision, over deployments.
    pub first_time_right_rate: Option<f64>,
    pub hosts_failed_per_deployment: Option<f64>,
    pub rollbacks: usize,
}

/// A production deployment that counts as a change failure: failed, rolled back, or aborted
/// after it started.
#[must_use]
pub fn is_change_failure(d: &KpiDeployment) -> bool {
    d.production
        && d.started.is_some()
        && matches!(d.status, DeploymentStatus::Failed | DeploymentStatus::RolledBack | DeploymentStatus::Aborted)
}

/// When each production service/environment succeeded, for recovery times: the finish times of
/// succeeded production deployments, sorted per `(service, environment)`.
#[derive(Debug, Clone, Default)]
pub struct Successes(BTreeMap<(String, String), Vec<DateTime<Utc>>>);

impl Successes {
    #[must_use]
    pub fn new(rows: impl IntoIterator<Item = (String, String, DateTime<Utc>)>) -> Self {
        let mut map: BTreeMap<(String, String), Vec<DateTime<Utc>>> = BTreeMap::new();
        for (service, env, at) in rows {
            map.entry((service, env)).or_default().push(at);
        }
        for v in map.values_mut() {
            v.sort_unstable();
        }
        Self(map)
    }

    /// The first success of `service` in `env` after `at`.
    #[must_use]
    pub fn next_after(&self, service: &str, env: &str, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let v = self.0.get(&(service.to_owned(), env.to_owned()))?;
        v.get(v.partition_point(|t| *t <= at)).copied()
    }
}

/// The KPIs of `rows` (finished within `[from, until)`, which sets the frequency's days).
#[must_use]
pub fn compute(rows: &[&KpiDeployment], from: DateTime<Utc>, until: DateTime<Utc>, successes: &Successes) -> Kpis {
    let n = rows.len();
    let rate =
        |num: usize, den: usize| (den > 0).then(|| f64::from(u32::try_from(num).unwrap_or(u32::MAX)) / count(den));
    #[allow(clippy::cast_precision_loss)] // milliseconds of a period fit an f64 exactly enough
    let days = ((until - from).num_milliseconds().max(1) as f64) / 86_400_000.0;
    let succeeded = rows.iter().filter(|d| d.status == DeploymentStatus::Succeeded).count();
    let production_started = rows.iter().filter(|d| d.production && d.started.is_some()).count();
    let failures: Vec<&&KpiDeployment> = rows.iter().filter(|d| is_change_failure(d)).collect();
    let mut recovered = Vec::new();
    let mut open = 0;
    for f in &failures {
        match successes.next_after(&f.service, &f.environment, f.finished) {
            Some(at) => recovered.push(at - f.finished),
            None => open += 1,
        }
    }
    let mut parts: [Vec<TimeDelta>; 4] = Default::default();
    let mut by_gate: BTreeMap<String, Vec<TimeDelta>> = BTreeMap::new();
    let mut by_role: BTreeMap<String, Vec<TimeDelta>> = BTreeMap::new();
    let mut leads = Vec::with_capacity(n);
    let mut gate_waits = Vec::new();
    for d in rows {
        let lead = (d.finished - d.planned).max(TimeDelta::zero());
        leads.push(lead);
        let (mut approval, mut window, mut bake) = (TimeDelta::zero(), TimeDelta::zero(), TimeDelta::zero());
        for g in &d.gates {
            approval += g.approval;
            window += g.window;
            bake += g.bake;
            gate_waits.push(g.total);
            by_gate.entry(format!("{}/{}", d.model, g.phase)).or_default().push(g.total);
            for (role, wait) in &g.roles {
                by_role.entry(role.clone()).or_default().push(*wait);
            }
        }
        let running = (lead - approval - window - bake).max(TimeDelta::zero());
        for (i, v) in [approval, window, bake, running].into_iter().enumerate() {
            parts[i].push(v);
        }
    }
    let [approval, window, bake, running] = parts.map(|v| mean_s(&v));
    let mean = mean_s(&leads);
    let named = |m: BTreeMap<String, Vec<TimeDelta>>| {
        m.into_iter().map(|(name, v)| NamedWait { name, wait: Spread::of(v) }).collect::<Vec<_>>()
    };
    let first_time_right = rows.iter().filter(|d| d.status == DeploymentStatus::Succeeded && !d.retried).count();
    let hosts_failed: u64 = rows.iter().map(|d| d.hosts_failed).sum();
    #[allow(clippy::cast_precision_loss)]
    let per_day = count(n) / days;
    Kpis {
        deployments: n,
        per_day,
        per_week: per_day * 7.0,
        succeeded,
        success_rate: rate(succeeded, n),
        production_started,
        production_failed: failures.len(),
        change_failure_rate: rate(failures.len(), production_started),
        recovery: Recovery { time: Spread::of(recovered), open },
        lead_time: LeadTime {
            total: Spread::of(leads),
            mean_s: mean,
            approval_wait_mean_s: approval,
            window_wait_mean_s: window,
            bake_wait_mean_s: bake,
            running_mean_s: running,
        },
        approval_wait: Spread::of(gate_waits),
        approval_wait_by_gate: named(by_gate),
        approval_wait_by_role: named(by_role),
        first_time_right_rate: rate(first_time_right, n),
        #[allow(clippy::cast_precision_loss)]
        hosts_failed_per_deployment: (n > 0).then(|| hosts_failed as f64 / count(n)),
        rollbacks: rows.iter().filter(|d| d.status == DeploymentStatus::RolledBack).count(),
    }
}

fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

/// How `--by` splits the KPIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Week,
    Service,
    Environment,
    Model,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "week" => Ok(Self::Week),
            "service" => Ok(Self::Service),
            "env" | "environment" => Ok(Self::Environment),
            "model" => Ok(Self::Model),
            _ => Err(format!("--by \"{s}\" is not a grouping (use week, service, env or model)")),
        }
    }
}

/// The Monday 00:00 (in `tz`) of the week holding `at`, as UTC. Weeks follow the configured
/// zone, so a week with a DST change is 167 or 169 hours long and nothing lands in the wrong one.
#[must_use]
pub fn week_start(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&tz).date_naive();
    let monday = local - TimeDelta::days(i64::from(local.weekday().num_days_from_monday()));
    let midnight = monday.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Midnight may not exist (a DST change at 00:00): take the first instant of that day.
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + TimeDelta::hours(1))).earliest())
        .map_or(at, |t| t.with_timezone(&Utc))
}

/// One group of `--by`: its label, bounds and KPIs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub group: String,
    /// Where the group's time starts (its week's Monday, or the period's start).
    #[serde(skip)]
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// The KPIs of `rows` per group. Weeks run Monday to Monday in `tz`, every week of the period
/// listed (an empty one with zeros and no rates); other groups are those present, by name.
#[must_use]
pub fn grouped(
    rows: &[KpiDeployment],
    by: GroupBy,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    tz: Tz,
    successes: &Successes,
) -> Vec<Group> {
    if by == GroupBy::Week {
        let mut out = Vec::new();
        let mut start = week_start(from, tz);
        while start < until {
            let end = week_start(start + TimeDelta::days(8), tz);
            let (lo, hi) = (start.max(from), end.min(until));
            let in_week: Vec<&KpiDeployment> = rows.iter().filter(|d| d.finished >= lo && d.finished < hi).collect();
            let label = start.with_timezone(&tz).format("%Y-%m-%d").to_string();
            out.push(Group { group: label, start: lo, kpis: compute(&in_week, lo, hi, successes) });
            start = end;
        }
        return out;
    }
    let mut map: BTreeMap<&str, Vec<&KpiDeployment>> = BTreeMap::new();
    for d in rows {
        let key = match by {
            GroupBy::Service => &d.service,
            GroupBy::Environment => &d.environment,
            GroupBy::Model | GroupBy::Week => &d.model,
        };
        map.entry(key).or_default().push(d);
    }
    map.into_iter()
        .map(|(k, v)| Group { group: k.to_owned(), start: from, kpis: compute(&v, from, until, successes) })
        .collect()
}

/// The KPIs of a period, and of each group when split.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiReport {
    pub total: Kpis,
    pub groups: Option<Vec<Group>>,
}

/// A DORA performance band (2023 State of DevOps report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

impl Band {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Elite => "elite",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// Deployment frequency: elite on demand (several a day, here: at least one a day), high
    /// between once a day and once a week, medium between once a week and once a month, low
    /// less often.
    #[must_use]
    pub fn frequency(per_day: f64) -> Self {
        if per_day >= 1.0 {
            Self::Elite
        } else if per_day >= 1.0 / 7.0 {
            Self::High
        } else if per_day >= 1.0 / 30.0 {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// Change failure rate: elite up to 5%, high up to 10%, medium up to 15%, low above.
    #[must_use]
    pub fn change_failure_rate(rate: f64) -> Self {
        if rate <= 0.05 {
            Self::Elite
        } else if rate <= 0.10 {
            Self::High
        } else if rate <= 0.15 {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// Failed deployment recovery time: elite under an hour, high under a day, medium under a
    /// week, low longer.
    #[must_use]
    pub fn recovery(median_s: i64) -> Self {
        if median_s < 3600 {
            Self::Elite
        } else if median_s < 86_400 {
            Self::High
        } else if median_s < 7 * 86_400 {
            Self::Medium
        } else {
            Self::Low
        }
    }
}

/// What the Metrics view asks for: a period (days back from now) and a scope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsAsk {
    pub days: i64,
    /// One environment, or all.
    pub environment: Option<String>,
}

/// A name and how many failed deployments it had.
pub type Count = (String, usize);

/// What the Metrics view shows: the KPIs of the period and of the one before, the weeks, where
/// failures concentrate and the improvement actions done.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub ask: MetricsAsk,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub current: Kpis,
    pub previous: Kpis,
    pub weeks: Vec<Group>,
    pub top_services: Vec<Count>,
    pub top_models: Vec<Count>,
    /// `model/phase`.
    pub top_phases: Vec<Count>,
    /// Failed hosts per step.
    pub top_steps: Vec<Count>,
    /// Improvement actions done in the period: when, and their text.
    pub actions_done: Vec<(DateTime<Utc>, String)>,
}

/// Builds [`Metrics`] from the deployments of both periods (`rows` finished in
/// `[from - span, until)`); `steps` are failed hosts per step, already counted.
#[must_use]
pub fn metrics(
    ask: MetricsAsk,
    rows: &[KpiDeployment],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    successes: &Successes,
    tz: Tz,
    steps: Vec<Count>,
    actions_done: Vec<(DateTime<Utc>, String)>,
) -> Metrics {
    let span = until - from;
    let current: Vec<KpiDeployment> = rows.iter().filter(|d| d.finished >= from).cloned().collect();
    let previous: Vec<&KpiDeployment> =
        rows.iter().filter(|d| d.finished < from && d.finished >= from - span).collect();
    let failed: Vec<&KpiDeployment> =
        current.iter().filter(|d| d.status != DeploymentStatus::Succeeded && d.started.is_some()).collect();
    let top = |key: &dyn Fn(&KpiDeployment) -> Option<String>| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for d in &failed {
            if let Some(k) = key(d) {
                *m.entry(k).or_default() += 1;
            }
        }
        rank(m.into_iter().collect())
    };
    let all: Vec<&KpiDeployment> = current.iter().collect();
    Metrics {
        current: compute(&all, from, until, successes),
        previous: compute(&previous, from - span, from, successes),
        weeks: grouped(&current, GroupBy::Week, from, until, tz, successes),
        top_services: top(&|d| Some(d.service.clone())),
        top_models: top(&|d| Some(d.model.clone())),
        top_phases: top(&|d| d.failed_phase.as_ref().map(|p| format!("{}/{p}", d.model))),
        top_steps: rank(steps),
        actions_done,
        ask,
        from,
        until,
    }
}

/// Largest first, then by name; at most ten.
fn rank(mut v: Vec<Count>) -> Vec<Count> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(10);
    v
}

#[cfg(test)]
mod tests;
