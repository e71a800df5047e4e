//! Planning: which targets go into which phase of a model.
//!
//! The technique decides how phases are built: `rolling` cuts batches from `batch` and
//! `max_unavailable`, `big-bang` without phases is one phase of every target, the others follow
//! the listed phases, which take a count, a percentage, `rest`, or the targets a label selector
//! matches, optionally spread across a label.

use super::inventory::{self, Inventory};
use super::model::Automatic;
use super::{Budget, DeploymentModel, GatePolicy, PhaseSpec, Share, Technique};
use std::borrow::Cow;

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
    #[error("phase \"{phase}\" selects by label \"{label}\", which no target carries ({known})")]
    UnknownLabel { phase: String, label: String, known: String },
    #[error("the selector \"{selector}\" of phase \"{phase}\" matches no target of the inventory")]
    SelectorEmpty { phase: String, selector: String },
    #[error(
        "{count} target(s) match no phase of the model (first: \"{first}\"): end the model with a phase that takes the rest"
    )]
    Unassigned { count: usize, first: String },
    #[error(
        "max_unavailable {text} of {total} target(s) is 0: no batch could ever run (use a count, or a larger percentage)"
    )]
    NothingMayBeUnavailable { text: String, total: usize },
    #[error("a batch of {batch} target(s) is larger than max_unavailable allows ({max} of {total} target(s) at once)")]
    BatchOverBudget { batch: usize, max: usize, total: usize },
    #[error("model technique {technique} needs {what}")]
    Incomplete { technique: Technique, what: &'static str },
    #[error(
        "every target matches new = \"{selector}\": a parallel deployment needs an old set beside the new one (targets the selector does not match)"
    )]
    NoOldSet { selector: String },
}

/// The phase of a `parallel` deployment whose gate is the switch-over: it has no targets of its
/// own, and approving its gate moves traffic to the new set.
pub const SWITCH_PHASE: &str = "switch";

/// The two sets of a `parallel` (blue/green) deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelSets {
    /// The selector of the new set (`slot=green`).
    pub selector: String,
    /// The phase that deploys the new set: the selected value (`green`), else `new`.
    pub new_phase: String,
    /// The new set's targets, in rollout order.
    pub new: Vec<String>,
    /// The old set: every other target, which keeps the old release and the traffic until the
    /// switch-over.
    pub old: Vec<String>,
}

/// Splits the inventory into the new set (the model's `new` selector) and the old set (the
/// rest). A selector naming an unknown label or matching nothing, and a selector matching
/// every target (no old set to switch back to), are errors.
pub fn parallel_sets(model: &DeploymentModel, inventory: &Inventory) -> Result<ParallelSets, PlanError> {
    let Some(selector) = &model.new else {
        return Err(PlanError::Incomplete {
            technique: model.technique,
            what: "new = \"slot=green\" (the set of targets that gets the new release)",
        });
    };
    let wanted = selector.wanted();
    let new_phase = match wanted.as_slice() {
        [(_, value)] if selector.keys().count() == 1 && *value != SWITCH_PHASE => (*value).to_owned(),
        _ => "new".to_owned(),
    };
    let targets = &inventory.targets;
    if let Some(label) = selector.keys().find(|k| !targets.iter().any(|t| t.labels.contains_key(*k))) {
        let known = inventory.label_keys();
        return Err(PlanError::UnknownLabel {
            phase: new_phase,
            label: label.to_owned(),
            known: if known.is_empty() {
                "the targets carry no labels".into()
            } else {
                format!("labels in the inventory: {}", known.iter().copied().collect::<Vec<_>>().join(", "))
            },
        });
    }
    let (new, old): (Vec<&inventory::Target>, Vec<&inventory::Target>) =
        targets.iter().partition(|t| selector.matches(&t.labels));
    if new.is_empty() {
        return Err(PlanError::SelectorEmpty { phase: new_phase, selector: selector.to_string() });
    }
    if old.is_empty() {
        return Err(PlanError::NoOldSet { selector: selector.to_string() });
    }
    let names = |set: Vec<&inventory::Target>| set.into_iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    Ok(ParallelSets { selector: selector.to_string(), new_phase, new: names(new), old: names(old) })
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn percent_up(total: usize, p: f64) -> usize {
    ((total as f64 * p / 100.0).ceil() as usize).max(1)
}

/// The phases a model lists, or the one phase of every target a `big-bang` without phases has.
fn phase_specs(model: &DeploymentModel) -> Cow<'_, [PhaseSpec]> {
    if model.phases.is_empty() && model.technique != Technique::Rolling {
        Cow::Owned(vec![PhaseSpec {
            name: "all".into(),
            targets: Share::Rest,
            select: None,
            spread: None,
            failure_budget: model.failure_budget,
            gate: None,
        }])
    } else {
        Cow::Borrowed(&model.phases)
    }
}

/// Splits the inventory's targets over the model's phases, in order.
///
/// Counts and percentages (of all targets, or of those a selector matches; rounded up, at least
/// one) are taken in phase order; `rest` and the last phase without a selector take whatever
/// remains, so no target is ever left out. Phases that would get no target are dropped (a
/// 3-host deployment of a 4-phase model has at most 3), but never their gates: a dropped phase's
/// gate applies to the next phase that runs (or, after the last one that runs, to that last
/// one), merged with its own as the strictest of them ([`GatePolicy::strictest`]). A selector
/// naming a label no target carries, or matching no target at all, is an error.
pub fn plan(model: &DeploymentModel, inventory: &Inventory) -> Result<Vec<PlannedPhase>, PlanError> {
    let targets = &inventory.targets;
    if targets.is_empty() {
        return Err(PlanError::NoTargets);
    }
    let mut seen = std::collections::HashSet::with_capacity(targets.len());
    for t in targets {
        let t = &t.name;
        if t.is_empty() || t.len() > 256 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PlanError::BadTargetName(t.clone()));
        }
        if !seen.insert(t.as_str()) {
            return Err(PlanError::DuplicateTarget(t.clone()));
        }
    }
    let total = targets.len();
    let all: Vec<usize> = (0..total).collect();
    let order = match &model.spread {
        Some(key) => inventory::spread(targets, &all, key),
        None => all,
    };
    if model.technique == Technique::Rolling {
        return rolling(model, inventory, &order);
    }
    if model.technique == Technique::Parallel {
        return parallel(model, inventory, &order);
    }
    let specs = phase_specs(model);
    let mut taken = vec![false; total];
    let mut left = total;
    let mut phases: Vec<PlannedPhase> = Vec::with_capacity(specs.len());
    // Dropped phases waiting for the next phase that runs: (name, gate).
    let mut carried: Vec<(String, Option<GatePolicy>)> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let last = i + 1 == specs.len();
        let mut candidates: Vec<usize> = match &spec.select {
            None => order.iter().copied().filter(|&t| !taken[t]).collect(),
            Some(selector) => {
                if let Some(label) = selector.keys().find(|k| !targets.iter().any(|t| t.labels.contains_key(*k))) {
                    let known = inventory.label_keys();
                    return Err(PlanError::UnknownLabel {
                        phase: spec.name.clone(),
                        label: label.to_owned(),
                        known: if known.is_empty() {
                            "the targets carry no labels".into()
                        } else {
                            format!("labels in the inventory: {}", known.iter().copied().collect::<Vec<_>>().join(", "))
                        },
                    });
                }
                if !targets.iter().any(|t| selector.matches(&t.labels)) {
                    return Err(PlanError::SelectorEmpty { phase: spec.name.clone(), selector: selector.to_string() });
                }
                order.iter().copied().filter(|&t| !taken[t] && selector.matches(&targets[t].labels)).collect()
            }
        };
        if let Some(key) = &spec.spread {
            candidates = inventory::spread(targets, &candidates, key);
        }
        let of = if spec.select.is_some() { candidates.len() } else { total };
        let want = match spec.targets {
            _ if last && spec.select.is_none() => candidates.len(),
            Share::Rest => candidates.len(),
            Share::Count(n) => n,
            Share::Percent(p) => percent_up(of, p),
        };
        let take = want.min(candidates.len());
        if take == 0 {
            carried.push((spec.name.clone(), gate_of(model, i, spec)));
            continue;
        }
        for &t in &candidates[..take] {
            taken[t] = true;
        }
        left -= take;
        let mut phase = PlannedPhase {
            name: spec.name.clone(),
            targets: candidates[..take].iter().map(|&t| targets[t].name.clone()).collect(),
            failure_budget: spec.failure_budget.allowed(take),
            gate: gate_of(model, i, spec),
            absorbed: Vec::new(),
        };
        absorb(&mut phase, carried.drain(..));
        phases.push(phase);
    }
    if left > 0 {
        let first = order.iter().find(|&&t| !taken[t]).map(|&t| targets[t].name.clone()).unwrap_or_default();
        return Err(PlanError::Unassigned { count: left, first });
    }
    if let Some(last) = phases.last_mut() {
        absorb(last, carried.drain(..));
    }
    Ok(phases)
}

/// The gate of phase `i`: as the model says, except that a `pilot` model's phase after the
/// pilot approves on feedback (a comment is required), and gets a gate for it when it has none
/// (one approval from the model's recovery roles).
///
/// A `canary` model with analysis rules gives the phase after the canary a gate that its
/// analysis decides ([`Automatic::Analysis`], the rules copied in), made the same way when the
/// config gives that phase none.
fn gate_of(model: &DeploymentModel, i: usize, spec: &PhaseSpec) -> Option<GatePolicy> {
    let analysed = model.technique == Technique::Canary && !model.analysis.is_empty();
    if i != 1 || !(model.technique == Technique::Pilot || analysed) {
        return spec.gate.clone();
    }
    let mut gate = spec.gate.clone().unwrap_or_else(|| GatePolicy::one_approval(model.recovery.roles.clone()));
    if analysed {
        gate.auto = Some(Automatic::Analysis);
        gate.analysis.clone_from(&model.analysis);
    } else {
        gate.feedback = true;
    }
    Some(gate)
}

/// The batch size and the most targets that may be unavailable at once, for `total` targets.
pub fn batching(model: &DeploymentModel, total: usize) -> Result<(usize, usize), PlanError> {
    let Some(batch) = model.batch else {
        return Err(PlanError::Incomplete { technique: model.technique, what: "batch = N or \"10%\"" });
    };
    let size = match batch {
        Share::Count(n) => n,
        Share::Percent(p) => percent_up(total, p),
        Share::Rest => total,
    }
    .min(total);
    let max = match model.max_unavailable {
        None => size,
        Some(Budget::Count(n)) => n,
        Some(b @ Budget::Percent(_)) => b.allowed(total),
    };
    if max == 0 {
        let text = model.max_unavailable.map_or_else(|| "0".to_owned(), |b| format!("\"{b}\""));
        return Err(PlanError::NothingMayBeUnavailable { text, total });
    }
    if size > max {
        return Err(PlanError::BatchOverBudget { batch: size, max, total });
    }
    Ok((size, max))
}

/// `rolling`: batches of `batch` targets in rollout order (spread when the model spreads). Every
/// batch after the first has a gate shipdeck approves once the batch before succeeded within its
/// budget ([`Automatic::Rolling`]); a failed batch stops there for a person's decision (retry,
/// abort, rollback), and the people of the model's recovery roles may approve a batch too.
fn rolling(model: &DeploymentModel, inventory: &Inventory, order: &[usize]) -> Result<Vec<PlannedPhase>, PlanError> {
    let (size, _) = batching(model, order.len())?;
    let auto = GatePolicy {
        approvals: 1,
        roles: model.recovery.roles.clone(),
        allow_self: true,
        bake: chrono::TimeDelta::zero(),
        windows: Vec::new(),
        freeze_override_roles: Vec::new(),
        require: Vec::new(),
        auto: Some(Automatic::Rolling),
        feedback: false,
        analysis: Vec::new(),
    };
    Ok(order
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| PlannedPhase {
            name: format!("batch-{}", i + 1),
            targets: chunk.iter().map(|&t| inventory.targets[t].name.clone()).collect(),
            failure_budget: model.failure_budget.allowed(chunk.len()),
            gate: (i > 0).then(|| auto.clone()),
            absorbed: Vec::new(),
        })
        .collect())
}

/// `parallel` (blue/green): the new set gets the release in one phase (in rollout order, spread
/// when the model spreads) while the old set keeps serving, then the `switch` phase, with no
/// targets, whose gate is the switch-over: approving it moves traffic to the new set.
fn parallel(model: &DeploymentModel, inventory: &Inventory, order: &[usize]) -> Result<Vec<PlannedPhase>, PlanError> {
    let sets = parallel_sets(model, inventory)?;
    let chosen: std::collections::HashSet<&str> = sets.new.iter().map(String::as_str).collect();
    let new: Vec<String> =
        order.iter().map(|&t| &inventory.targets[t].name).filter(|n| chosen.contains(n.as_str())).cloned().collect();
    let switch = model.switch.clone().unwrap_or_else(|| GatePolicy::one_approval(model.recovery.roles.clone()));
    Ok(vec![
        PlannedPhase {
            name: sets.new_phase,
            failure_budget: model.failure_budget.allowed(new.len()),
            targets: new,
            gate: None,
            absorbed: Vec::new(),
        },
        PlannedPhase {
            name: SWITCH_PHASE.to_owned(),
            targets: Vec::new(),
            failure_budget: 0,
            gate: Some(switch),
            absorbed: Vec::new(),
        },
    ])
}

/// A supervised run (the first runs of a new or changed model): every phase needs a person's
/// approval. Phases without a gate get one (one approval from `roles`, no self-approval), and
/// automatic gates (rolling batches) lose their automation, so a person approves each.
pub fn supervise(phases: &mut [PlannedPhase], roles: &[String]) {
    for phase in phases {
        match &mut phase.gate {
            Some(gate) => {
                if gate.auto.take().is_some() {
                    // The automation allowed its own approval; a supervising person may not.
                    gate.allow_self = false;
                }
            }
            None => {
                phase.gate = Some(GatePolicy::one_approval(roles.to_vec()));
            }
        }
    }
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
            new: None,
            switch: None,
            keep_old: None,
            supervised_runs: 0,
            environments: Vec::new(),
            steps: vec!["install".into()],
            batch: None,
            max_unavailable: None,
            failure_budget: Budget::Count(0),
            spread: None,
            phases: shares
                .iter()
                .map(|(name, targets, failure_budget)| PhaseSpec {
                    name: (*name).into(),
                    targets: *targets,
                    select: None,
                    spread: None,
                    failure_budget: *failure_budget,
                    gate: None,
                })
                .collect(),
            windows: vec![],
            checklists: crate::domain::checklist::Checklists::default(),
            analysis: Vec::new(),
        }
    }

    fn hosts(n: usize) -> Inventory {
        (1..=n).map(|i| format!("web-{i:03}")).collect::<Vec<_>>().into()
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
            auto: None,
            feedback: false,
            analysis: Vec::new(),
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
        assert_eq!(plan(&m, &Inventory::default()), Err(PlanError::NoTargets));
        let dup = vec!["a".to_string(), "b".into(), "a".into()];
        assert_eq!(plan(&m, &dup.into()), Err(PlanError::DuplicateTarget("a".into())));
        assert_eq!(plan(&m, &vec!["has space".to_string()].into()), Err(PlanError::BadTargetName("has space".into())));
    }

    /// The same 20 labelled hosts for every technique: 4 in berlin, 8 in paris, 8 in tokyo,
    /// over racks r1..r4 (host i on rack i % 4), the first ten in slot blue, the rest in green.
    fn fleet() -> Inventory {
        let targets = (0..20)
            .map(|i| {
                let site = match i {
                    0..4 => "berlin",
                    4..12 => "paris",
                    _ => "tokyo",
                };
                crate::domain::inventory::Target {
                    name: format!("h{i:02}"),
                    labels: [
                        ("site".to_owned(), site.to_owned()),
                        ("rack".to_owned(), format!("r{}", i % 4)),
                        ("slot".to_owned(), if i < 10 { "blue" } else { "green" }.to_owned()),
                    ]
                    .into_iter()
                    .collect(),
                }
            })
            .collect();
        Inventory { targets }
    }

    fn technique(t: Technique, phases: &[(&str, Share, Option<&str>)]) -> DeploymentModel {
        let mut m = model(&[]);
        m.technique = t;
        m.phases = phases
            .iter()
            .map(|(name, targets, select)| PhaseSpec {
                name: (*name).into(),
                targets: *targets,
                select: select.map(|s| crate::domain::inventory::Selector::parse(s).expect("selector")),
                spread: None,
                failure_budget: Budget::Count(0),
                gate: None,
            })
            .collect();
        m
    }

    fn shape(p: &[PlannedPhase]) -> Vec<(String, usize)> {
        p.iter().map(|p| (p.name.clone(), p.targets.len())).collect()
    }

    #[test]
    fn every_technique_planned_from_the_same_inventory() {
        let inv = fleet();
        let big_bang = plan(&technique(Technique::BigBang, &[]), &inv).expect("plans");
        assert_eq!(shape(&big_bang), vec![("all".into(), 20)]);

        let phased = technique(
            Technique::Phased,
            &[("pilot", Share::Count(2), None), ("wave-1", Share::Percent(20.0), None), ("rest", Share::Rest, None)],
        );
        assert_eq!(
            shape(&plan(&phased, &inv).expect("plans")),
            vec![("pilot".into(), 2), ("wave-1".into(), 4), ("rest".into(), 14)]
        );

        let pilot =
            technique(Technique::Pilot, &[("berlin", Share::Rest, Some("site=berlin")), ("rest", Share::Rest, None)]);
        let p = plan(&pilot, &inv).expect("plans");
        assert_eq!(shape(&p), vec![("berlin".into(), 4), ("rest".into(), 16)]);
        assert_eq!(p[0].targets, vec!["h00", "h01", "h02", "h03"]);
        assert!(p[1].gate.as_ref().is_some_and(|g| g.feedback), "the phase after the pilot approves on feedback");
        assert!(p[0].gate.is_none());
        assert!(!p[1].targets.iter().any(|t| p[0].targets.contains(t)));

        // Half of paris by selector and percentage, spread over racks: one host per rack.
        let mut half = technique(
            Technique::Pilot,
            &[("paris", Share::Percent(50.0), Some("site=paris")), ("rest", Share::Rest, None)],
        );
        half.phases[0].spread = Some("rack".into());
        let p = plan(&half, &inv).expect("plans");
        assert_eq!(p[0].targets, vec!["h04", "h05", "h06", "h07"], "one of each rack first");

        let mut rolling = technique(Technique::Rolling, &[]);
        rolling.batch = Some(Share::Count(4));
        rolling.max_unavailable = Some(Budget::Count(4));
        rolling.failure_budget = Budget::Count(1);
        rolling.spread = Some("rack".into());
        let p = plan(&rolling, &inv).expect("plans");
        assert_eq!(shape(&p).iter().map(|s| s.1).collect::<Vec<_>>(), vec![4; 5]);
        assert_eq!(p[2].name, "batch-3");
        assert!(p.iter().all(|b| b.failure_budget == 1));
        assert_eq!(p[0].gate, None, "the first batch starts as planned");
        assert!(p[1..].iter().all(|b| b.gate.as_ref().and_then(|g| g.auto) == Some(Automatic::Rolling)));
        for batch in &p {
            let mut racks: Vec<&str> = batch
                .targets
                .iter()
                .map(|t| inv.targets.iter().find(|x| &x.name == t).expect("t").labels["rack"].as_str())
                .collect();
            racks.sort_unstable();
            assert_eq!(racks, vec!["r0", "r1", "r2", "r3"], "no rack loses two hosts in {}", batch.name);
        }
        // A percentage batch rounds up; 10% of 20 is 2.
        rolling.batch = Some(Share::Percent(10.0));
        assert_eq!(plan(&rolling, &inv).expect("plans").len(), 10);

        let canary = technique(Technique::Canary, &[("canary", Share::Count(1), None), ("fleet", Share::Rest, None)]);
        assert_eq!(shape(&plan(&canary, &inv).expect("plans")), vec![("canary".into(), 1), ("fleet".into(), 19)]);
        // With analysis rules, the fleet's gate is decided by the analysis, the rules copied in.
        let mut analysed = canary.clone();
        analysed.analysis = vec![
            toml::from_str("metric = \"error_rate\"\ncompare = \"difference\"\nmax = 0.5\nfor = \"10m\"")
                .expect("rule"),
        ];
        let p = plan(&analysed, &inv).expect("plans");
        let gate = p[1].gate.as_ref().expect("the fleet gets a gate");
        assert_eq!((gate.auto, gate.analysis.len(), gate.feedback), (Some(Automatic::Analysis), 1, false));
        assert_eq!(gate.roles, analysed.recovery.roles, "people of the recovery roles may still decide it");
        assert!(p[0].gate.is_none());

        // Blue/green: the green slot gets the release beside blue, then the switch-over gate.
        let mut parallel = technique(Technique::Parallel, &[]);
        parallel.new = Some(crate::domain::inventory::Selector::parse("slot=green").expect("selector"));
        parallel.spread = Some("rack".into());
        parallel.recovery.roles = vec!["deployment_manager".into()];
        let p = plan(&parallel, &inv).expect("plans");
        assert_eq!(shape(&p), vec![("green".into(), 10), ("switch".into(), 0)]);
        assert_eq!(&p[0].targets[..4], ["h10", "h11", "h12", "h13"], "spread over racks r2, r3, r0, r1");
        assert!(p[0].targets.iter().all(|t| t.as_str() >= "h10"), "only green hosts get the release");
        assert_eq!(p[0].gate, None, "the new set deploys as planned");
        let switch = p[1].gate.as_ref().expect("the switch-over is a gate");
        assert_eq!(
            (switch.approvals, switch.roles.as_slice(), switch.allow_self),
            (1, ["deployment_manager".to_owned()].as_slice(), false)
        );
        let sets = parallel_sets(&parallel, &inv).expect("sets");
        assert_eq!(sets.old, (0..10).map(|i| format!("h{i:02}")).collect::<Vec<_>>(), "blue keeps the traffic");
        assert_eq!((sets.new_phase.as_str(), sets.selector.as_str()), ("green", "slot=green"));

        // Supervised, every phase of each shape needs a person: no automatic gate is left.
        for model in [&rolling, &pilot, &big_bang_model(), &parallel] {
            let mut phases = plan(model, &inv).expect("plans");
            supervise(&mut phases, &["deployment_manager".to_owned()]);
            assert!(
                phases.iter().all(|p| p.gate.as_ref().is_some_and(|g| g.auto.is_none() && g.approvals >= 1)),
                "{:?}: {phases:?}",
                model.technique
            );
        }
        let mut batches = plan(&rolling, &inv).expect("plans");
        supervise(&mut batches, &["deployment_manager".to_owned()]);
        assert!(
            batches.iter().all(|b| b.gate.as_ref().is_some_and(|g| !g.allow_self)),
            "a supervising person is not the requester"
        );
        let mut piloted = plan(&pilot, &inv).expect("plans");
        supervise(&mut piloted, &["deployment_manager".to_owned()]);
        assert!(
            piloted[1].gate.as_ref().is_some_and(|g| g.feedback),
            "the pilot's feedback gate keeps asking for feedback"
        );
    }

    fn big_bang_model() -> DeploymentModel {
        technique(Technique::BigBang, &[])
    }

    #[test]
    fn a_parallel_model_needs_a_new_set_and_an_old_set() {
        let inv = fleet();
        let mut m = technique(Technique::Parallel, &[]);
        assert!(matches!(plan(&m, &inv), Err(PlanError::Incomplete { .. })));
        m.new = Some(crate::domain::inventory::Selector::parse("site=berlin|paris|tokyo").expect("selector"));
        assert_eq!(
            plan(&m, &inv).expect_err("no old set").to_string(),
            "every target matches new = \"site=berlin|paris|tokyo\": a parallel deployment needs an old set beside the new one (targets the selector does not match)"
        );
        m.new = Some(crate::domain::inventory::Selector::parse("slot=purple").expect("selector"));
        assert!(matches!(plan(&m, &inv), Err(PlanError::SelectorEmpty { .. })));
        m.new = Some(crate::domain::inventory::Selector::parse("colour=green").expect("selector"));
        assert!(matches!(plan(&m, &inv), Err(PlanError::UnknownLabel { .. })));
        // Two clauses name no single value: the phase is called `new`.
        m.new = Some(crate::domain::inventory::Selector::parse("slot=green,site=tokyo").expect("selector"));
        assert_eq!(shape(&plan(&m, &inv).expect("plans")), vec![("new".into(), 8), ("switch".into(), 0)]);
    }

    #[test]
    fn selectors_and_batches_that_cannot_work_are_refused_by_name() {
        let inv = fleet();
        let typo =
            technique(Technique::Pilot, &[("p", Share::Rest, Some("sight=berlin")), ("rest", Share::Rest, None)]);
        assert_eq!(
            plan(&typo, &inv).expect_err("unknown label").to_string(),
            "phase \"p\" selects by label \"sight\", which no target carries (labels in the inventory: rack, site, slot)"
        );
        let nowhere =
            technique(Technique::Pilot, &[("p", Share::Rest, Some("site=oslo")), ("rest", Share::Rest, None)]);
        assert_eq!(
            plan(&nowhere, &inv).expect_err("empty").to_string(),
            "the selector \"site=oslo\" of phase \"p\" matches no target of the inventory"
        );
        let plain: Inventory = vec!["a".to_owned()].into();
        assert!(
            matches!(plan(&typo, &plain), Err(PlanError::UnknownLabel { known, .. }) if known == "the targets carry no labels")
        );
        let only = technique(Technique::Pilot, &[("p", Share::Rest, Some("site=berlin"))]);
        assert_eq!(plan(&only, &inv), Err(PlanError::Unassigned { count: 16, first: "h04".into() }));

        let mut rolling = technique(Technique::Rolling, &[]);
        assert!(matches!(plan(&rolling, &inv), Err(PlanError::Incomplete { .. })));
        rolling.batch = Some(Share::Count(5));
        rolling.max_unavailable = Some(Budget::Percent(10.0));
        assert_eq!(
            plan(&rolling, &inv).expect_err("over budget").to_string(),
            "a batch of 5 target(s) is larger than max_unavailable allows (2 of 20 target(s) at once)"
        );
        rolling.batch = Some(Share::Count(1));
        let three: Inventory = vec!["a".to_owned(), "b".into(), "c".into()].into();
        assert_eq!(
            plan(&rolling, &three).expect_err("rounds to 0").to_string(),
            "max_unavailable \"10%\" of 3 target(s) is 0: no batch could ever run (use a count, or a larger percentage)"
        );
    }
}
