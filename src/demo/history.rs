//! The demo's past: a few hundred deployments over ~90 days across services and environments,
//! with successes, failures and rollbacks, written through the same store paths as live data
//! (plan, then events ingested at the times they happened), and the failure reviews people
//! wrote about them (see [`super::reviews`]).
//!
//! Failures have causes ([`Cause`]) that hit several hosts of a phase, so History's error groups
//! have counts; and two trends show: `checkout-web` kept filling its hosts' disks until an
//! improvement action ("prune old releases") was done, [`Trend::fixed`] days before now, and the
//! approvals of one gate ([`SLOW_GATE`]) take longer week after week.

use super::failures::Cause;
use super::pipeline::{ColleagueDecision, approve_as_colleagues, decide_as_colleague, tick_as_colleagues};
use super::reviews::{self, Failed};
use super::rng::Rng;
use crate::config::Config;
use crate::domain::checklist::List;
use crate::domain::gate::Decision;
use crate::domain::{AgentEvent, DeploymentKey, EventStatus, ReleaseRef};
use crate::store::{PlanRequest, Store, StoreError, Submission};
use chrono::{DateTime, Duration, Utc};

/// A service of the demo estate: its model and fleet size per environment.
pub struct Service {
    pub name: &'static str,
    pub model: &'static str,
    pub prefix: &'static str,
    pub production_hosts: usize,
}

pub const SERVICES: [Service; 6] = [
    Service { name: "payments-api", model: "phased", prefix: "pay", production_hosts: 40 },
    Service { name: "checkout-web", model: "rolling", prefix: "web", production_hosts: 36 },
    Service { name: "search-svc", model: "canary", prefix: "srch", production_hosts: 24 },
    Service { name: "auth-gateway", model: "phased", prefix: "auth", production_hosts: 20 },
    Service { name: "inventory-db", model: "big-bang", prefix: "inv", production_hosts: 6 },
    Service { name: "notify-worker", model: "rolling", prefix: "ntf", production_hosts: 30 },
];

/// The trend the history shows: `service`'s production deployments failed with full disks until
/// old releases were pruned, an action done `fixed` before now; none failed so since.
#[derive(Debug, Clone, Copy)]
pub struct Trend {
    pub service: &'static str,
    pub fixed: DateTime<Utc>,
    /// The history's "now".
    pub now: DateTime<Utc>,
}

/// The gate whose approval waits grow over the history: `(model, phase)`.
pub const SLOW_GATE: (&str, &str) = ("phased", "wave-2");

impl Trend {
    fn at(now: DateTime<Utc>) -> Self {
        Self { service: "checkout-web", fixed: now - Duration::days(40), now }
    }

    /// How long the approvers of `model`'s gate before `phase` took past its bake and window
    /// for a deployment that started at `start`: the trend's slow gate (`phased`, before
    /// `wave-2`) from 20 minutes 90 days ago to about six hours now; other gates none.
    fn approval_delay(&self, model: &str, phase: &str, start: DateTime<Utc>) -> Duration {
        if (model, phase) != SLOW_GATE {
            return Duration::zero();
        }
        let days_ago = (self.now - start).num_days().clamp(0, 90);
        Duration::minutes(20 + (90 - days_ago) * 4)
    }

    /// Whether a deployment of `service` starting at `start` in a production environment fails
    /// for want of disk space: often, before the fix.
    fn disk_fills(&self, service: &str, production: bool, start: DateTime<Utc>) -> bool {
        service == self.service && production && start < self.fixed
    }
}

/// What the history holds, for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seeded {
    pub deployments: usize,
    pub events: usize,
    pub failed: usize,
    pub rolled_back: usize,
    pub reviews: reviews::Seeded,
}

/// Writes `count` past deployments ending before `now`.
pub fn seed(
    store: &mut Store,
    config: &Config,
    rng: &mut Rng,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Seeded, StoreError> {
    store.relax_durability_for_bulk_load()?;
    let mut seeded = Seeded::default();
    let trend = Trend::at(now);
    let mut failed = Vec::new();
    let mut versions = [0u64; SERVICES.len()];
    // Oldest first, so keys grow with time like a real log. Nothing starts in the last two days:
    // a phased rollout waits for its bake and the next window, and one approved just before the
    // demo's "now" would show as running without its agents (they are the live ones' job).
    let mut starts: Vec<i64> =
        (0..count).map(|_| i64::try_from(rng.range(2 * 86_400, 90 * 86_400)).unwrap_or(2 * 86_400)).collect();
    starts.sort_unstable_by(|a, b| b.cmp(a));
    let progress = crate::progress::bar(starts.len() as u64, "seeding the demo's history");
    for ago in starts {
        progress.inc(1);
        let si = usize::try_from(rng.range(0, SERVICES.len() as u64)).unwrap_or(0);
        let service = &SERVICES[si];
        versions[si] += 1;
        let production = rng.chance(0.6);
        let (env, hosts, model_name) = if production {
            (if rng.chance(0.15) { "dr-site" } else { "production" }, service.production_hosts, service.model)
        } else {
            ("staging", usize::try_from(rng.range(3, 7)).unwrap_or(4), "big-bang")
        };
        let Ok(model) = config.model_for(model_name, env) else { continue };
        let start = now - Duration::seconds(ago);
        let version = format!("{}.{}.{}", 1 + versions[si] / 40, versions[si] / 8 % 5, versions[si] % 8);
        let targets: Vec<String> = (1..=hosts).map(|i| format!("{}-{}-{i:02}", service.prefix, &env[..3])).collect();
        let req = PlanRequest {
            release: ReleaseRef { name: service.name.into(), version },
            environment: env.into(),
            model_name: model_name.into(),
            model,
            targets: targets.into(),
            change_ref: production.then(|| format!("CHG-{}", 4000 + seeded.deployments)),
            requested_by: rng.pick(&["dana", "omar", "sam", "priya"]).to_string(),
            release_record: Default::default(),
            planned_start: start,
            planned_end: None,
            now: start - Duration::hours(i64::try_from(rng.range(2, 48)).unwrap_or(4)),
        };
        let requester = req.requested_by.clone();
        let (key, phases) = store.plan(&req)?;
        tick_as_colleagues(store, config, key, &[List::Pre, List::Environment], req.now);
        // About one deployment in eight fails in some phase; the trend's service far more often,
        // until its fix, and never again for want of disk.
        let disk_fills = trend.disk_fills(service.name, production, start);
        let doomed = rng
            .chance(if disk_fills { 0.5 } else { 0.12 })
            .then(|| usize::try_from(rng.range(0, phases.len() as u64)).unwrap_or(0));
        let after_fix = service.name == trend.service && start >= trend.fixed;
        let pick = |rng: &mut Rng| loop {
            let c = Cause::pick(rng);
            if !(after_fix && c == Cause::DiskFull) {
                break c;
            }
        };
        let cause = if disk_fills { Cause::DiskFull } else { pick(rng) };
        let mut t = start;
        let mut halted = false;
        for (pi, phase) in phases.iter().enumerate() {
            if phase.gate.is_some() {
                // Approval waits for its bake and window, as it did for real; the slow gate's
                // approvers take longer and longer.
                let asked = t + trend.approval_delay(model_name, &phase.name, start);
                match approve_as_colleagues(store, config, key, &phase.name, &requester, asked) {
                    // Not approvable before now: it is still waiting at its gate.
                    Some(approved) if approved > now => {
                        halted = true;
                        break;
                    }
                    Some(approved) => t = approved.max(t),
                    None => {
                        halted = true;
                        break;
                    }
                }
            }
            // A doomed phase exceeds its budget, a few hosts past it; one host may fail for
            // another reason. Other phases sometimes lose a host within their budget.
            let failing: Vec<Cause> = if doomed == Some(pi) {
                let extra = usize::try_from(rng.range(1, 2 + phase.targets.len() as u64 / 4)).unwrap_or(1);
                let mut causes = vec![cause; phase.failure_budget + 1 + extra];
                if causes.len() > 2 && rng.chance(0.4) {
                    causes[1] = pick(rng);
                }
                causes
            } else if phase.failure_budget > 0 && rng.chance(0.2) {
                vec![pick(rng)]
            } else {
                Vec::new()
            };
            let shape = PhaseShape {
                steps: &model.steps,
                hosts: &phase.targets,
                service: service.name,
                failing: &failing,
                seed: key.0.unsigned_abs(),
                parallel: super::agents::parallel_for(model_name),
            };
            let (events, end) = phase_events(key, &shape, rng, t);
            seeded.events += events.len();
            let (begun, rest): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.at == t);
            for (batch, at) in [(begun, t), (rest, end)] {
                let events = batch.into_iter().enumerate().map(|(i, e)| (i + 1, e)).collect();
                store.ingest(&[Submission { events, received_ms: at.timestamp_millis() }])?;
            }
            if doomed == Some(pi) {
                seeded.failed += 1;
                // Someone on call rolled it back or aborted it: the first person whose role
                // the policy allows.
                let decision = if rng.chance(0.7) { Decision::Rollback } else { Decision::Abort };
                let d = ColleagueDecision {
                    key,
                    phase: &phase.name,
                    decision,
                    not_by: "",
                    comment: "failure budget exceeded; see the failed hosts",
                    now: end + Duration::minutes(i64::try_from(rng.range(5, 40)).unwrap_or(10)),
                };
                if decide_as_colleague(store, config, &d) {
                    seeded.rolled_back += usize::from(decision == Decision::Rollback);
                }
                failed.push(Failed { key, service: service.name, environment: env, cause, requester, at: d.now });
                break;
            }
            // Approval, bake and the next window take a while.
            t = end + Duration::minutes(i64::try_from(rng.range(10, 90)).unwrap_or(20));
        }
        if doomed.is_none() && !halted {
            // A service owner verified the outcome.
            tick_as_colleagues(store, config, key, &[List::Post], t);
        }
        seeded.deployments += 1;
    }
    progress.finish_and_clear();
    seeded.reviews = reviews::seed(store, config, rng, now, &failed, trend)?;
    // What the history told people was read long ago.
    for person in &config.people {
        store.mark_read(&person.name, &[], now)?;
    }
    Ok(seeded)
}

/// One phase to write into the history.
struct PhaseShape<'a> {
    steps: &'a [String],
    hosts: &'a [String],
    /// The release's name, which error texts mention.
    service: &'a str,
    /// Why the first hosts fail a step for good: the first `failing.len()` hosts, each for its
    /// cause.
    failing: &'a [Cause],
    /// What the hosts of one deployment share (see [`Cause::message`]).
    seed: u64,
    /// Hosts deployed at the same time.
    parallel: usize,
}

/// A random duration between `lo` and `hi` seconds, to the millisecond.
fn secs(rng: &mut Rng, (lo, hi): (f64, f64)) -> Duration {
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = ((lo * 1000.0) as u64, (hi * 1000.0) as u64);
    Duration::milliseconds(i64::try_from(rng.range(lo, hi)).unwrap_or(0))
}

/// Events of one phase, timed as the live agents work: hosts are started a moment apart and
/// deployed `parallel` at a time, each step taking [`STEP_SECS`](super::agents::STEP_SECS).
fn phase_events(
    key: DeploymentKey,
    shape: &PhaseShape<'_>,
    rng: &mut Rng,
    start: DateTime<Utc>,
) -> (Vec<AgentEvent>, DateTime<Utc>) {
    let mut events = Vec::with_capacity(shape.hosts.len() * shape.steps.len() * 2);
    let mut end = start;
    // When each slot is free again; hosts take the first free slot in the order they start.
    let mut slots = vec![start; shape.parallel.max(1)];
    let mut ready = start;
    for (hi, host) in shape.hosts.iter().enumerate() {
        let (slot, free) = slots.iter().copied().enumerate().min_by_key(|(_, t)| *t).unwrap_or((0, start));
        let mut t = ready.max(free);
        ready += secs(rng, super::agents::STAGGER_SECS);
        let cause = shape.failing.get(hi).copied();
        let fails_at = cause.map(|c| c.step(shape.steps));
        for (si, step) in shape.steps.iter().enumerate() {
            let ev = |status: EventStatus, at: DateTime<Utc>, message: Option<String>, id: String| AgentEvent {
                id,
                deployment: key.to_string(),
                target: Some(host.clone()),
                phase: None,
                step: step.clone(),
                status,
                at,
                message,
                data: None,
            };
            events.push(ev(EventStatus::Started, t, None, rng.uuid_v4()));
            t += secs(rng, super::agents::STEP_SECS);
            if let Some(cause) = cause.filter(|_| fails_at == Some(si)) {
                let text = cause.message(shape.service, host, shape.seed, rng);
                events.push(ev(EventStatus::Failed, t, Some(text), rng.uuid_v4()));
                break;
            }
            events.push(ev(EventStatus::Succeeded, t, None, rng.uuid_v4()));
        }
        slots[slot] = t;
        end = end.max(t);
    }
    (events, end)
}
