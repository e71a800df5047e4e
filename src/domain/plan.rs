//! Planning: which targets go into which phase of a model.

use super::{DeploymentModel, GatePolicy, Share};

/// One phase of a planned deployment, with its targets in rollout order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPhase {
    pub name: String,
    pub targets: Vec<String>,
    /// Failed targets tolerated.
    pub failure_budget: usize,
    pub gate: Option<GatePolicy>,
    /// Phases of the model that got no target and whose place this phase takes: their gates
    /// are merged into this one's, so no approval the model asks for is lost.
    pub absorbed: Vec<String>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no targets given: pass --targets with a file of host names or a comma-separated list")]
    NoTargets,
    #[error("target \"{0}\" is listed twice")]
    DuplicateTarget(String),
    #[error("target name \"{0}\" is invalid: names are 1 to 256 bytes with no spaces or control characters")]
    BadTargetName(String),
    #[error("the environment must not be empty (e.g. --env production)")]
    EmptyEnvironment,
}

/// Splits `targets` over the model's phases, in order.
///
/// Counts and percentages (of all targets, rounded up, at least one) are taken in phase order;
/// `rest` and the last phase take whatever remains, so no target is ever left out. Phases that
/// would get no target are dropped (a 3-host deployment of a 4-phase model has at most 3), but
/// never their gates: a dropped phase's gate applies to the next phase that runs (or, after the
/// last one that runs, to that last one), merged with its own as the strictest of them
/// ([`GatePolicy::strictest`]).
pub fn plan(model: &DeploymentModel, targets: &[String]) -> Result<Vec<PlannedPhase>, PlanError> {
    if targets.is_empty() {
        return Err(PlanError::NoTargets);
    }
    let mut seen = std::collections::HashSet::with_capacity(targets.len());
    for t in targets {
        if t.is_empty() || t.len() > 256 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PlanError::BadTargetName(t.clone()));
        }
        if !seen.insert(t.as_str()) {
            return Err(PlanError::DuplicateTarget(t.clone()));
        }
    }
    let total = targets.len();
    let mut next = 0;
    let mut phases: Vec<PlannedPhase> = Vec::with_capacity(model.phases.len());
    // Dropped phases waiting for the next phase that runs: (name, gate).
    let mut carried: Vec<(String, Option<GatePolicy>)> = Vec::new();
    for (i, spec) in model.phases.iter().enumerate() {
        let remaining = total - next;
        let last = i + 1 == model.phases.len();
        let want = match spec.targets {
            _ if last => remaining,
            Share::Rest => remaining,
            Share::Count(n) => n,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            Share::Percent(p) => ((total as f64 * p / 100.0).ceil() as usize).max(1),
        };
        let take = want.min(remaining);
        if take == 0 {
            carried.push((spec.name.clone(), spec.gate.clone()));
            continue;
        }
        let mut phase = PlannedPhase {
            name: spec.name.clone(),
            targets: targets[next..next + take].to_vec(),
            failure_budget: spec.failure_budget.allowed(take),
            gate: spec.gate.clone(),
            absorbed: Vec::new(),
        };
        absorb(&mut phase, carried.drain(..));
        phases.push(phase);
        next += take;
    }
    if let Some(last) = phases.last_mut() {
        absorb(last, carried.drain(..));
    }
    Ok(phases)
}

/// Merges dropped phases' gates into `phase`'s.
fn absorb(phase: &mut PlannedPhase, dropped: impl Iterator<Item = (String, Option<GatePolicy>)>) {
    for (name, gate) in dropped {
        phase.gate = match (phase.gate.take(), gate) {
            (Some(a), Some(b)) => Some(a.strictest(&b)),
            (a, b) => a.or(b),
        };
        phase.absorbed.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Budget, PhaseSpec, Technique};

    fn model(shares: &[(&str, Share, Budget)]) -> DeploymentModel {
        DeploymentModel {
            technique: Technique::Phased,
            description: String::new(),
            recovery: crate::domain::model::RecoveryPolicy::default(),
            environments: Vec::new(),
            steps: vec!["install".into()],
            phases: shares
                .iter()
                .map(|(name, targets, failure_budget)| PhaseSpec {
                    name: (*name).into(),
                    targets: *targets,
                    failure_budget: *failure_budget,
                    gate: None,
                })
                .collect(),
            windows: vec![],
            checklists: crate::domain::checklist::Checklists::default(),
        }
    }

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web-{i:03}")).collect()
    }

    fn sizes(p: &[PlannedPhase]) -> Vec<(String, usize, usize)> {
        p.iter().map(|p| (p.name.clone(), p.targets.len(), p.failure_budget)).collect()
    }

    #[test]
    fn pilot_then_percent_then_rest() {
        let m = model(&[
            ("pilot", Share::Count(2), Budget::Count(0)),
            ("wave-1", Share::Percent(20.0), Budget::Percent(5.0)),
            ("wave-2", Share::Rest, Budget::Percent(5.0)),
        ]);
        let p = plan(&m, &hosts(100)).expect("plans");
        assert_eq!(sizes(&p), vec![("pilot".into(), 2, 0), ("wave-1".into(), 20, 1), ("wave-2".into(), 78, 3)]);
        assert_eq!(p[0].targets, vec!["web-001", "web-002"]);
        assert_eq!(p[1].targets[0], "web-003");
    }

    #[test]
    fn the_last_phase_takes_the_remainder_and_empty_phases_are_dropped() {
        let m = model(&[
            ("canary", Share::Count(1), Budget::Count(0)),
            ("half", Share::Percent(50.0), Budget::Count(0)),
            ("quarter", Share::Percent(25.0), Budget::Count(0)),
        ]);
        assert_eq!(sizes(&plan(&m, &hosts(10)).expect("plans")).iter().map(|s| s.1).collect::<Vec<_>>(), vec![1, 5, 4]);
        assert_eq!(sizes(&plan(&m, &hosts(1)).expect("plans")).len(), 1);
    }

    fn gate(approvals: u32, windows: &[&str]) -> GatePolicy {
        GatePolicy {
            approvals,
            roles: vec!["dm".into()],
            allow_self: false,
            bake: chrono::TimeDelta::zero(),
            windows: windows.iter().map(|w| (*w).to_owned()).collect(),
            freeze_override_roles: vec![],
            require: vec![],
        }
    }

    /// Regression: `phased` over one target kept only the pilot, and wave-1's "two approvals
    /// in a change window" disappeared with the phase.
    #[test]
    fn the_gates_of_phases_that_get_no_target_are_never_lost() {
        let mut m = model(&[
            ("pilot", Share::Count(2), Budget::Count(0)),
            ("wave-1", Share::Percent(20.0), Budget::Count(0)),
            ("wave-2", Share::Rest, Budget::Count(0)),
        ]);
        m.phases[0].gate = Some(gate(1, &[]));
        m.phases[1].gate = Some(gate(2, &["evenings"]));
        m.phases[2].gate = Some(gate(1, &[]));
        let one = plan(&m, &hosts(1)).expect("plans");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].absorbed, vec!["wave-1", "wave-2"]);
        assert_eq!(one[0].gate, Some(gate(2, &["evenings"])), "the strictest gate of the three");
        // Three hosts: wave-2 gets none, its gate goes to wave-1, the last phase that runs.
        let three = plan(&m, &hosts(3)).expect("plans");
        assert_eq!(sizes(&three).iter().map(|s| s.1).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(three[1].absorbed, vec!["wave-2"]);
        assert_eq!(three[1].gate, Some(gate(2, &["evenings"])));
        // A dropped gate moves to the next phase that runs, even one with no gate of its own.
        let mut m = model(&[
            ("canary", Share::Count(1), Budget::Count(0)),
            ("half", Share::Count(5), Budget::Count(0)),
            ("rest", Share::Rest, Budget::Count(0)),
        ]);
        m.phases[1].targets = Share::Count(0);
        m.phases[1].gate = Some(gate(3, &[]));
        let p = plan(&m, &hosts(4)).expect("plans");
        assert_eq!(sizes(&p).iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["canary", "rest"]);
        assert_eq!((p[1].absorbed.clone(), p[1].gate.clone()), (vec!["half".to_owned()], Some(gate(3, &[]))));
        assert!(p[0].absorbed.is_empty());
    }

    #[test]
    fn bad_target_lists_are_refused_by_name() {
        let m = model(&[("all", Share::Rest, Budget::Count(0))]);
        assert_eq!(plan(&m, &[]), Err(PlanError::NoTargets));
        let dup = vec!["a".to_string(), "b".into(), "a".into()];
        assert_eq!(plan(&m, &dup), Err(PlanError::DuplicateTarget("a".into())));
        assert_eq!(plan(&m, &["has space".into()]), Err(PlanError::BadTargetName("has space".into())));
    }
}
