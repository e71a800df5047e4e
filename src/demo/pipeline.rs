//! The demo's pipeline: what a CI/CD pipeline does between phases. Before a gated phase it
//! blocks until the gate is decided (as `shipdeck gate wait` would); after a phase that failed
//! its budget it waits for someone to retry, abort or roll back. In a headless demo simulated
//! colleagues take those decisions; on screen, the operator does, and colleagues only add the
//! approvals still missing after the operator's own.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::decide::{Ask, DecideError, Operator, Rules, TickAsk, checklist, decide};
use crate::domain::checklist::{ItemState, List};
use crate::domain::gate::{Decision, GateState};
use crate::domain::model::Automatic;
use crate::domain::{DeploymentKey, PhaseStatus, TargetStatus};
use crate::store::{GateError, Store};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A boxed future, for the pipeline's object-safe trait.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What happens after a phase's hosts all reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// On to the next phase.
    Next,
    /// A retry was decided: deploy these hosts again.
    Rerun(Vec<String>),
    /// The deployment was stopped (rejected, aborted or rolled back).
    Stop,
}

/// The agents ask the pipeline before and after each phase.
pub trait Pipeline: Send + Sync {
    /// Resolves when the phase may start; `false` when the deployment was stopped.
    fn before_phase<'a>(&'a self, key: DeploymentKey, phase: &'a str) -> Pending<'a, bool>;
    /// Resolves once the phase's outcome is settled.
    fn after_phase<'a>(&'a self, key: DeploymentKey, phase: &'a str) -> Pending<'a, After>;
}

/// Who takes decisions in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deciders {
    /// Simulated colleagues decide everything.
    Colleagues,
    /// The person at the dashboard decides; colleagues only complete approvals they started.
    Operator,
}

/// A pipeline backed by the demo's log.
///
/// Its store is used from `spawn_blocking` only: a read or a decision may wait for another
/// writer's lock (the busy timeout), which must never stall a runtime worker.
pub struct LogPipeline {
    store: Arc<Mutex<Store>>,
    config: Arc<Config>,
    clock: SharedClock,
    deciders: Deciders,
    /// Real time between two looks at the log.
    poll: Duration,
    /// The ETA the inbox would have shown for each phase as it started, to check it against
    /// how long the phase took.
    etas: Mutex<Vec<super::eta_check::Predicted>>,
}

impl LogPipeline {
    pub fn new(mut store: Store, config: Config, clock: SharedClock, deciders: Deciders) -> Self {
        store.set_zone(config.timezone);
        Self {
            store: Arc::new(Mutex::new(store)),
            config: Arc::new(config),
            clock,
            deciders,
            poll: Duration::from_millis(200),
            etas: Mutex::default(),
        }
    }

    /// The ETAs predicted so far, one per phase started.
    pub fn predicted(&self) -> Vec<super::eta_check::Predicted> {
        self.etas.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Notes the ETA of a phase that starts now, as the Approvals inbox computes it.
    async fn predict(&self, key: DeploymentKey, phase: &str) {
        let name = phase.to_owned();
        if let Some(Ok(Some(p))) = self.with_store(move |s, _| super::eta_check::predict(s, key, &name)).await {
            self.etas.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(p);
        }
    }

    /// Runs `f` on the store on a blocking thread; `None` if that thread panicked.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store, &Config) -> T + Send + 'static,
    ) -> Option<T> {
        let (store, config) = (self.store.clone(), self.config.clone());
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut store, &config)
        })
        .await
        .ok()
    }
}

/// A decision a simulated colleague takes.
pub struct ColleagueDecision<'a> {
    pub key: DeploymentKey,
    pub phase: &'a str,
    pub decision: Decision,
    /// Someone who must not take it (the requester, for an approval).
    pub not_by: &'a str,
    /// Kept in the audit trail; also the reason of a rejection.
    pub comment: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Records the decision as the first configured person whose decision the policy accepts,
/// through the same [`decide`] as the CLI and the dashboard; `false` when it refuses everyone
/// (a time rule: try again later) or the log failed.
pub fn decide_as_colleague(store: &mut Store, config: &Config, d: &ColleagueDecision<'_>) -> bool {
    let rules = Rules::from_config(config);
    let ask = Ask {
        key: d.key,
        phase: d.phase.to_owned(),
        decision: d.decision,
        comment: Some(d.comment.to_owned()),
        reason: (d.decision == Decision::Reject).then(|| d.comment.to_owned()),
    };
    for person in config.people.iter().filter(|p| p.name != d.not_by) {
        let colleague = Operator::named(config, &person.name, "shipdeck-demo");
        // Only colleagues the policy would accept try: a refused attempt is an audit record.
        if store.would_refuse(d.key, d.phase, d.decision, colleague.decider(), d.now).is_some() {
            continue;
        }
        match decide(store, &rules, &colleague, &ask, d.now) {
            Ok(_) => return true,
            Err(e) if e.is_refusal() => {}
            Err(_) => return false,
        }
    }
    false
}

/// Ticks the open, hand-ticked items of `lists` as the first colleagues whose tick the rules
/// accept (a release engineer checks the artifacts, an SRE the backups, a service owner the
/// outcome), through the same tick path as `shipdeck check` and the dashboard.
pub fn tick_as_colleagues(
    store: &mut Store,
    config: &Config,
    key: DeploymentKey,
    lists: &[List],
    now: chrono::DateTime<chrono::Utc>,
) {
    let Ok(items) = store.checklist(key) else { return };
    let rules = Rules::from_config(config);
    for item in items.iter().filter(|i| lists.contains(&i.list) && i.state == ItemState::Open && !i.roles.is_empty()) {
        let ask = TickAsk {
            key,
            item: item.id.clone(),
            evidence: Some("checked by a simulated colleague (shipdeck demo)".into()),
            failed: false,
        };
        for person in &config.people {
            let colleague = Operator::named(config, &person.name, "shipdeck-demo");
            match checklist::tick(store, &rules, &colleague, &ask, now) {
                Ok(_) => break,
                Err(e) if e.is_refusal() => {}
                Err(_) => return,
            }
        }
    }
}

/// Approves a gate as colleagues until it is approved, waiting out time rules (bake, windows,
/// the planned start): the instant it was approved, or `None` when no one may approve it.
/// The history uses it, so that past rollouts went through their gates as live ones do.
pub fn approve_as_colleagues(
    store: &mut Store,
    config: &Config,
    key: DeploymentKey,
    phase: &str,
    requester: &str,
    mut now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let rules = Rules::from_config(config);
    let ask = Ask {
        key,
        phase: phase.to_owned(),
        decision: Decision::Approve,
        comment: Some("simulated colleague (shipdeck demo)".into()),
        reason: None,
    };
    let mut fed = false;
    for _ in 0..16 {
        let gate = store.gate(key, phase).ok()?;
        if gate.state == GateState::Approved {
            return Some(now);
        }
        if gate.policy.auto == Some(Automatic::Analysis) && !fed {
            // The canary's agents reported healthy metrics: its analysis passes, after the bake.
            fed = true;
            let started = gate.previous.as_ref().and_then(|p| p.finished_at).unwrap_or(now);
            if let Ok(Some(passes)) = super::canary::history_samples(store, key, started) {
                now = now.max(passes).max(started + gate.policy.bake);
            }
        }
        if gate.policy.auto.is_some() {
            // As the receiver would: shipdeck approves it through the one decision path.
            crate::decide::automatic(store, now).ok()?;
            continue;
        }
        let mut later = None;
        for person in config.people.iter().filter(|p| p.name != requester) {
            let colleague = Operator::named(config, &person.name, "shipdeck-demo");
            match decide(store, &rules, &colleague, &ask, now) {
                Ok(_) => {
                    later = None;
                    break;
                }
                Err(DecideError::Refused { refusal, .. }) if refusal.is_time_rule() => {
                    later = later.or(refusal.opens_at());
                }
                Err(e) if e.is_refusal() => {}
                Err(_) => return None,
            }
        }
        if let Some(t) = later {
            now = t.max(now);
        }
    }
    None
}

impl LogPipeline {
    async fn colleague(&self, key: DeploymentKey, phase: &str, decision: Decision, not_by: String) -> bool {
        let (phase, now) = (phase.to_owned(), self.clock.now());
        self.with_store(move |s, config| {
            let d = ColleagueDecision {
                key,
                phase: &phase,
                decision,
                not_by: &not_by,
                comment: "simulated colleague (shipdeck demo)",
                now,
            };
            decide_as_colleague(s, config, &d)
        })
        .await
        .unwrap_or(false)
    }
}

impl Pipeline for LogPipeline {
    fn before_phase<'a>(&'a self, key: DeploymentKey, phase: &'a str) -> Pending<'a, bool> {
        Box::pin(async move {
            loop {
                let name = phase.to_owned();
                let gate = match self.with_store(move |s, _| s.gate(key, &name)).await {
                    Some(Ok(g)) => g,
                    Some(Err(GateError::NoGate { .. })) => {
                        self.predict(key, phase).await;
                        return true;
                    }
                    Some(Err(_)) | None => return false,
                };
                if gate.deployment_status.is_halted() {
                    return false;
                }
                match gate.state {
                    GateState::Approved => {
                        self.predict(key, phase).await;
                        return true;
                    }
                    GateState::Rejected => return false,
                    GateState::Pending => {
                        // Colleagues do the checks the gate requires; the approval stays with
                        // whoever decides in this demo.
                        let lists: Vec<List> = gate.policy.require.iter().filter_map(|l| l.parse().ok()).collect();
                        if !lists.is_empty() {
                            let now = self.clock.now();
                            self.with_store(move |s, config| tick_as_colleagues(s, config, key, &lists, now)).await;
                        }
                        let operator_started = !gate.approvals.is_empty();
                        // shipdeck approves automatic gates itself (the receiver's automation).
                        let automatic = gate.policy.auto.is_some();
                        if !automatic && (self.deciders == Deciders::Colleagues || operator_started) {
                            let requester = self
                                .with_store(move |s, _| s.summary(key).map(|d| d.requested_by))
                                .await
                                .and_then(Result::ok)
                                .unwrap_or_default();
                            self.colleague(key, phase, Decision::Approve, requester).await;
                        }
                    }
                    // A failed canary analysis halted it: on call, a colleague rolls it back (on
                    // screen, the operator decides: retry, approve anyway, abort or roll back).
                    GateState::Waiting
                        if gate.deployment_status == crate::domain::DeploymentStatus::Failed
                            && gate.policy.auto == Some(Automatic::Analysis) =>
                    {
                        if self.deciders == Deciders::Colleagues {
                            let previous = gate.previous.as_ref().map(|p| p.name.clone()).unwrap_or_default();
                            self.colleague(key, &previous, Decision::Rollback, String::new()).await;
                        }
                    }
                    GateState::Waiting => {}
                }
                tokio::time::sleep(self.poll).await;
            }
        })
    }

    fn after_phase<'a>(&'a self, key: DeploymentKey, phase: &'a str) -> Pending<'a, After> {
        Box::pin(async move {
            let mut retried = false;
            loop {
                let Some(Ok(detail)) = self.with_store(move |s, _| s.detail(key, true)).await else {
                    return After::Stop;
                };
                if detail.summary.status.is_halted() {
                    return After::Stop;
                }
                let Some(p) = detail.phases.iter().find(|p| p.name == phase) else { return After::Stop };
                match p.status {
                    PhaseStatus::Failed => {
                        if self.deciders == Deciders::Colleagues {
                            let decision = if retried { Decision::Rollback } else { Decision::Retry };
                            retried |= self.colleague(key, phase, decision, String::new()).await;
                        }
                    }
                    PhaseStatus::Succeeded => {
                        // After the last phase, a service owner verifies the outcome.
                        if detail.summary.status == crate::domain::DeploymentStatus::Verifying {
                            let now = self.clock.now();
                            self.with_store(move |s, config| tick_as_colleagues(s, config, key, &[List::Post], now))
                                .await;
                        }
                        return After::Next;
                    }
                    // After a retry the failed hosts are pending again: deploy them once more.
                    PhaseStatus::Running | PhaseStatus::Pending => {
                        let again: Vec<String> = detail
                            .target_list
                            .iter()
                            .filter(|t| t.phase == phase && t.status == TargetStatus::Pending)
                            .map(|t| t.name.clone())
                            .collect();
                        if again.is_empty() {
                            return After::Next;
                        }
                        return After::Rerun(again);
                    }
                }
                tokio::time::sleep(self.poll).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, Plan};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_decision_waiting_for_a_busy_log_does_not_stall_the_runtime() {
        let (dir, mut store) = testing::open();
        let config = Config::built_in();
        let seed = crate::store::SyncBy::Seed { os_user: "test" };
        store.sync_team(&config.team(), &config.subscriptions(), seed, testing::t0()).expect("seeds the team");
        let key = Plan::new("phased", 4).requester("sam").plan(&mut store);
        drop(store);
        let path = dir.path().join("log.db");
        let clock: SharedClock = Arc::new(crate::clock::FixedClock(testing::t0()));
        let pipeline = LogPipeline::new(Store::open(&path).expect("opens"), config, clock, Deciders::Colleagues);
        // Another process holds the write lock: the colleague's approval waits for it.
        let held = Duration::from_millis(600);
        let holder = testing::hold_write_lock(&path, held);
        let released = std::time::Instant::now() + held;
        // One thread for every task: if the wait blocked it, nothing else would run meanwhile.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = ticks.clone();
        let open = rt.block_on(async move {
            let ticker = tokio::spawn(async move {
                // Counts only while the lock is held.
                while std::time::Instant::now() < released {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
            let open = tokio::time::timeout(Duration::from_secs(20), pipeline.before_phase(key, "pilot")).await;
            ticker.abort();
            open.expect("the gate was decided")
        });
        holder.join().expect("the holder ends");
        assert!(open, "approved once the lock was released");
        let ticks = ticks.load(Ordering::Relaxed);
        assert!(ticks >= 20, "the runtime ran other tasks only {ticks} times while the decision waited for the lock");
    }
}
