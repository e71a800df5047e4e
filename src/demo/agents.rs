//! Simulated deployment agents: one task per host, posting real HTTP events to the receiver
//! with realistic timing, occasional failures and retries, resends after "timeouts", and a host
//! that goes silent.

use super::failures::Cause;
use super::pipeline::{After, Pipeline};
use super::rng::Rng;
use crate::domain::{DeploymentKey, EventStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Demo seconds after which the pipeline reports a silent host failed.
const SILENT_GIVE_UP_SECS: f64 = 240.0;
/// Demo seconds one lifecycle step takes on a host (least, most). The history is written with
/// the same timing, so what the log learnt matches what the live agents do.
pub const STEP_SECS: (f64, f64) = (3.0, 14.0);
/// Demo seconds between two hosts of a phase being started (least, most).
pub const STAGGER_SECS: (f64, f64) = (0.2, 1.0);

/// Hosts deployed at the same time within a phase of a model.
#[must_use]
pub fn parallel_for(model: &str) -> usize {
    if model == "rolling" { 10 } else { 20 }
}

/// What the agents did, for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub posted: AtomicUsize,
    pub accepted: AtomicUsize,
    pub duplicates: AtomicUsize,
    pub rejected: AtomicUsize,
    pub failed_posts: AtomicUsize,
}

/// A rollout for the agents to carry out.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub key: DeploymentKey,
    /// The release's name (the service), which agents' error texts mention.
    pub service: String,
    pub steps: Vec<String>,
    /// Phase names and their hosts, in order.
    pub phases: Vec<(String, Vec<String>)>,
    /// Hosts deployed at the same time within a phase.
    pub parallel: usize,
    /// Chance that a host fails a step.
    pub failure_rate: f64,
    /// A host that stops reporting after its first step started.
    pub silent: Option<String>,
}

/// The agents of one demo.
#[derive(Clone)]
pub struct Agents {
    client: reqwest::Client,
    url: Arc<str>,
    speed: f64,
    pub stats: Arc<Stats>,
}

impl Agents {
    #[must_use]
    pub fn new(receiver: std::net::SocketAddr, speed: f64) -> Self {
        Self {
            client: crate::client::client(None).unwrap_or_default(),
            url: format!("http://{receiver}/v1/events").into(),
            speed: speed.max(0.01),
            stats: Arc::default(),
        }
    }

    /// Carries out a rollout phase by phase, asking the pipeline before and after each phase.
    pub async fn run(&self, rollout: Rollout, pipeline: Arc<dyn Pipeline>, seed: u64) {
        let mut rng = Rng::seeded(seed);
        for (phase, hosts) in &rollout.phases {
            if !pipeline.before_phase(rollout.key, phase).await {
                return;
            }
            let mut wave = hosts.clone();
            let mut failure_rate = rollout.failure_rate;
            loop {
                self.phase(&rollout, &wave, failure_rate, &mut rng).await;
                match pipeline.after_phase(rollout.key, phase).await {
                    After::Next => break,
                    After::Stop => return,
                    After::Rerun(again) => {
                        wave = again;
                        failure_rate /= 4.0;
                    }
                }
            }
        }
    }

    /// Deploys `hosts` of a phase, `rollout.parallel` at a time, and waits for all of them.
    async fn phase(&self, rollout: &Rollout, hosts: &[String], failure_rate: f64, rng: &mut Rng) {
        let slots = Arc::new(tokio::sync::Semaphore::new(rollout.parallel.max(1)));
        let mut tasks = Vec::with_capacity(hosts.len());
        for host in hosts {
            let plan = HostPlan {
                key: rollout.key,
                service: rollout.service.clone(),
                host: host.clone(),
                steps: rollout.steps.clone(),
                fail_at: rng.chance(failure_rate).then(|| rng.range(0, rollout.steps.len() as u64)),
                silent: rollout.silent.as_deref() == Some(host.as_str()),
            };
            let (agents, slots, host_seed) = (self.clone(), slots.clone(), rng.next_u64());
            tasks.push(tokio::spawn(async move {
                let Ok(_slot) = slots.acquire_owned().await else { return };
                agents.host(plan, Rng::seeded(host_seed)).await;
            }));
            // Hosts do not all start in the same millisecond.
            self.pause(rng, STAGGER_SECS.0, STAGGER_SECS.1).await;
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn host(&self, plan: HostPlan, mut rng: Rng) {
        for (i, step) in plan.steps.iter().enumerate() {
            self.post(&plan, step, EventStatus::Started, None, &mut rng).await;
            if plan.silent {
                // The host dies mid-step and its agent falls silent. The dashboard shows it as
                // silent; minutes later the pipeline gives up on it and reports it failed.
                self.pause(&mut rng, SILENT_GIVE_UP_SECS, SILENT_GIVE_UP_SECS).await;
                // The pipeline reports it, on the host's behalf: not a word from its agent.
                let message =
                    format!("agent lost: no report for {SILENT_GIVE_UP_SECS:.0}s; marked failed by the pipeline");
                let by = Some(serde_json::json!({ "reported_by": "pipeline" }));
                self.post_as(&plan, (step, EventStatus::Failed), Some(message), by, &mut rng).await;
                return;
            }
            self.pause(&mut rng, STEP_SECS.0, STEP_SECS.1).await;
            if plan.fail_at == Some(i as u64) {
                // A passing trouble of this step (the retry below works).
                let causes: Vec<Cause> = Cause::ALL.into_iter().filter(|c| c.step(&plan.steps) == i).collect();
                let cause = if causes.is_empty() { Cause::HealthTimeout } else { *rng.pick(&causes) };
                let message = cause.message(&plan.service, &plan.host, plan.key.0.unsigned_abs(), &mut rng);
                self.post(&plan, step, EventStatus::Failed, Some(message), &mut rng).await;
                if !rng.chance(0.6) {
                    return;
                }
                // The agent retries the step after a back-off, and this time it works.
                self.pause(&mut rng, 5.0, 15.0).await;
                self.post(&plan, step, EventStatus::Started, Some("retry 1 of 3".into()), &mut rng).await;
                self.pause(&mut rng, 3.0, 10.0).await;
            }
            if rng.chance(0.3) {
                let note = format!("{step}: {} MiB in {}.{}s", rng.range(20, 400), rng.range(1, 9), rng.range(0, 9));
                self.post(&plan, step, EventStatus::Info, Some(note), &mut rng).await;
            }
            self.post(&plan, step, EventStatus::Succeeded, None, &mut rng).await;
        }
    }

    /// Posts one event of the host's agent; 2% of the time the agent "times out" and sends it
    /// again.
    async fn post(&self, plan: &HostPlan, step: &str, status: EventStatus, message: Option<String>, rng: &mut Rng) {
        self.post_as(plan, (step, status), message, None, rng).await;
    }

    /// Posts one event with its `data` (which may say who reports it on the host's behalf).
    async fn post_as(
        &self,
        plan: &HostPlan,
        (step, status): (&str, EventStatus),
        message: Option<String>,
        data: Option<serde_json::Value>,
        rng: &mut Rng,
    ) {
        let mut event = serde_json::json!({
            "id": rng.uuid_v4(), "deployment": plan.key.to_string(), "target": plan.host,
            "step": step, "status": status.as_str(), "agent": "shipdeck-demo",
        });
        if let Some(m) = message {
            event["message"] = m.into();
        }
        if let Some(d) = data {
            event["data"] = d;
        }
        let body = event.to_string();
        let sends = if rng.chance(0.02) { 2 } else { 1 };
        for _ in 0..sends {
            self.stats.posted.fetch_add(1, Ordering::Relaxed);
            match self.client.post(&*self.url).body(body.clone()).send().await {
                Ok(reply) => {
                    let v: serde_json::Value =
                        reply.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
                    let count = |k: &str| usize::try_from(v[k].as_u64().unwrap_or(0)).unwrap_or(0);
                    self.stats.accepted.fetch_add(count("accepted"), Ordering::Relaxed);
                    self.stats.duplicates.fetch_add(count("duplicates"), Ordering::Relaxed);
                    self.stats.rejected.fetch_add(v["rejected"].as_array().map_or(0, Vec::len), Ordering::Relaxed);
                }
                Err(_) => {
                    self.stats.failed_posts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Sleeps between `lo` and `hi` seconds of demo time.
    async fn pause(&self, rng: &mut Rng, lo: f64, hi: f64) {
        #[allow(clippy::cast_precision_loss)]
        let x = rng.range(0, 1_000) as f64 / 1_000.0;
        tokio::time::sleep(Duration::from_secs_f64((lo + (hi - lo) * x) / self.speed)).await;
    }
}

struct HostPlan {
    key: DeploymentKey,
    service: String,
    host: String,
    steps: Vec<String>,
    fail_at: Option<u64>,
    silent: bool,
}
