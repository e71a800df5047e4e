//! The demo's pipeline: what a CI/CD pipeline does between phases. Before a gated phase it
//! blocks until the gate is decided (as `shipdeck gate wait` would); after a phase that failed
//! its budget it waits for someone to retry, abort or roll back. In a headless demo simulated
//! colleagues take those decisions; on screen, the operator does, and colleagues only add the
//! approvals still missing after the operator's own.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::decide::{Ask, Operator, Rules, decide};
use crate::domain::gate::{Decision, GateState};
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
    pub fn new(store: Store, config: Config, clock: SharedClock, deciders: Deciders) -> Self {
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
        let rules_now = (config.windows.as_slice(), config.freezes.as_slice());
        if store.would_refuse(d.key, d.phase, d.decision, colleague.decider(), rules_now, d.now).is_some() {
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
                        let operator_started = !gate.approvals.is_empty();
                        if self.deciders == Deciders::Colleagues || operator_started {
                            let requester = self
                                .with_store(move |s, _| s.summary(key).map(|d| d.requested_by))
                                .await
                                .and_then(Result::ok)
                                .unwrap_or_default();
                            self.colleague(key, phase, Decision::Approve, requester).await;
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
                    PhaseStatus::Succeeded => return After::Next,
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
