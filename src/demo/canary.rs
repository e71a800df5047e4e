//! The demo's canaries: metric samples for their analysis, as the agents on the canary and
//! baseline hosts report them.
//!
//! Live, [`feed`] posts samples over HTTP to the receiver while a canary deployment waits at
//! its analysed gate: for the healthy release the canary looks like the baseline, for the bad
//! one its error rate climbs after a while, so the analysis fails and shipdeck halts it. The
//! history writes the samples of its past canaries straight into the log ([`history_samples`]),
//! so they went through their analysis as live ones do.

use crate::domain::analysis::AnalysisRule;
use crate::domain::event::parse_line;
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy, PhaseStatus};
use crate::store::{Store, StoreError, Submission};
use chrono::{DateTime, Duration, Utc};

/// How a canary's metrics behave against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Within every rule's margin.
    Healthy,
    /// Its error rate goes well past the baseline's once the analysis has run this long.
    Degrades { after: Duration },
}

/// The value a host reports for `metric`: the baseline's level, the canary's a little above it,
/// or far above it when it has degraded. Jitter is a few percent, so rules hold or fail clearly.
fn value(metric: &str, canary: bool, bad: bool, jitter: f64) -> f64 {
    let base = if metric.contains("latency") { 120.0 } else { 0.4 };
    let level = match (canary, bad) {
        (false, _) => base,
        (true, false) => base * 1.05,
        (true, true) if metric.contains("latency") => base * 1.1,
        (true, true) => base * 6.0,
    };
    level * (1.0 + 0.04 * (jitter - 0.5))
}

/// One sample line, as an agent on `host` sends it.
fn line(key: DeploymentKey, host: &str, metric: &str, value: f64, at: DateTime<Utc>, n: u64) -> String {
    format!(
        r#"{{"id":"m-{host}-{metric}-{n}","deployment":"{key}","target":"{host}","step":"metrics","status":"info","at":"{}","data":{{"metric":"{metric}","value":{value:.4}}}}}"#,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}

/// The canary's and (some of) the baseline's hosts of the deployment's analysed gate.
fn hosts(store: &Store, key: DeploymentKey) -> Option<(Vec<String>, Vec<String>, GatePolicy)> {
    let detail = store.detail(key, true).ok()?;
    let pos = detail.phases.iter().position(|p| p.gate.as_ref().is_some_and(|g| !g.analysis.is_empty()))?;
    let canary = &detail.phases.get(pos.checked_sub(1)?)?.name;
    let policy = detail.phases[pos].gate.clone()?;
    let (on, off): (Vec<_>, Vec<_>) = detail.target_list.iter().partition(|t| &t.phase == canary);
    // A few baseline hosts are enough to compare with.
    Some((on.iter().map(|t| t.name.clone()).collect(), off.iter().take(4).map(|t| t.name.clone()).collect(), policy))
}

/// Writes healthy samples for a past canary from `started` (its canary phase succeeded) until its
/// analysis passes; returns when that is.
pub fn history_samples(
    store: &mut Store,
    key: DeploymentKey,
    started: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let Some((canary, baseline, policy)) = hosts(store, key) else { return Ok(None) };
    let interval = policy.analysis.iter().map(|r| r.interval).min().unwrap_or_else(|| Duration::minutes(1));
    let until = started + needed(&policy.analysis);
    let mut t = started + interval / 2;
    let mut n = 0_u64;
    let mut lines = Vec::new();
    while t < until {
        for (host, on) in canary.iter().map(|h| (h, true)).chain(baseline.iter().map(|h| (h, false))) {
            for rule in &policy.analysis {
                n += 1;
                let jitter = f64::from(u32::try_from(n % 97).unwrap_or(0)) / 97.0;
                lines.push(line(key, host, &rule.metric, value(&rule.metric, on, false, jitter), t, n));
            }
        }
        t += interval;
    }
    let events = lines.iter().enumerate().filter_map(|(i, l)| parse_line(l, until).ok().map(|e| (i + 1, e))).collect();
    store.ingest(&[Submission { events, received_ms: until.timestamp_millis() }])?;
    Ok(Some(until + Duration::seconds(1)))
}

/// How long every rule of `rules` takes to pass, in whole intervals, plus one interval to spare.
fn needed(rules: &[AnalysisRule]) -> Duration {
    rules.iter().map(|r| r.hold + r.interval).max().unwrap_or_else(Duration::zero)
}

/// What a live canary's agents need to report metrics.
pub struct Feed {
    pub receiver: std::net::SocketAddr,
    /// To see where the deployment stands (used from `spawn_blocking` only).
    pub store: std::sync::Arc<std::sync::Mutex<Store>>,
    pub clock: crate::clock::SharedClock,
    /// The demo's speed: samples come every 15 demo seconds (at most every 2 real ones).
    pub speed: f64,
}

impl Feed {
    /// Posts samples for the canary `key` to the receiver from its canary phase's success until
    /// its fleet starts or the deployment is stopped.
    pub async fn run(self, key: DeploymentKey, health: Health) {
        let client = reqwest::Client::new();
        let url = format!("http://{}/v1/events", self.receiver);
        let period = std::time::Duration::from_secs_f64((15.0 / self.speed).clamp(0.05, 2.0));
        let mut started: Option<DateTime<Utc>> = None;
        let mut n = 0_u64;
        loop {
            tokio::time::sleep(period).await;
            let store = self.store.clone();
            let look = tokio::task::spawn_blocking(move || {
                let s = store.lock().ok()?;
                let detail = s.detail(key, true).ok()?;
                let canary_done = detail
                    .phases
                    .first()
                    .is_some_and(|p| matches!(p.status, PhaseStatus::Succeeded | PhaseStatus::Failed));
                let fleet_started = detail.phases.get(1).is_some_and(|p| p.status != PhaseStatus::Pending);
                Some((detail.summary.status, canary_done, fleet_started, hosts(&s, key)))
            })
            .await
            .ok()
            .flatten();
            let Some((status, canary_done, fleet_started, Some((canary, baseline, policy)))) = look else { return };
            if status.is_halted() || status == DeploymentStatus::Succeeded || fleet_started {
                return;
            }
            if !canary_done {
                continue;
            }
            let now = self.clock.now();
            let since = *started.get_or_insert(now);
            let bad = matches!(health, Health::Degrades { after } if now - since >= after);
            let mut body = String::new();
            for (host, on) in canary.iter().map(|h| (h, true)).chain(baseline.iter().map(|h| (h, false))) {
                for rule in &policy.analysis {
                    n += 1;
                    let jitter = f64::from(u32::try_from(n % 89).unwrap_or(0)) / 89.0;
                    body.push_str(&line(key, host, &rule.metric, value(&rule.metric, on, bad, jitter), now, n));
                    body.push('\n');
                }
            }
            let _ = client.post(&url).header("content-type", "application/x-ndjson").body(body).send().await;
        }
    }
}
