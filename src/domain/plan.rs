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
}

/// Splits `targets` over the model's phases, in order.
///
/// Counts and percentages (of all targets, rounded up, at least one) are taken in phase order;
/// `rest` and the last phase take whatever remains, so no target is ever left out. Phases that
/// would get no target are dropped (a 3-host deployment of a 4-phase model has at most 3).
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
    let mut phases = Vec::with_capacity(model.phases.len());
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
            continue;
        }
        phases.push(PlannedPhase {
            name: spec.name.clone(),
            targets: targets[next..next + take].to_vec(),
            failure_budget: spec.failure_budget.allowed(take),
            gate: spec.gate.clone(),
        });
        next += take;
    }
    Ok(phases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Budget, PhaseSpec, Technique};

    fn model(shares: &[(&str, Share, Budget)]) -> DeploymentModel {
        DeploymentModel {
            technique: Technique::Phased,
            description: String::new(),
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

    #[test]
    fn bad_target_lists_are_refused_by_name() {
        let m = model(&[("all", Share::Rest, Budget::Count(0))]);
        assert_eq!(plan(&m, &[]), Err(PlanError::NoTargets));
        let dup = vec!["a".to_string(), "b".into(), "a".into()];
        assert_eq!(plan(&m, &dup), Err(PlanError::DuplicateTarget("a".into())));
        assert_eq!(plan(&m, &["has space".into()]), Err(PlanError::BadTargetName("has space".into())));
    }
}
