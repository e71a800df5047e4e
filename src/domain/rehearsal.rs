//! Deployment model testing (ITIL "deployment model testing"): what a model's plan would look
//! like for the edge cases of a fleet, before a real deployment finds out.
//!
//! `shipdeck models test` and `config check` both run [`rehearse`]: the model is planned for 1,
//! 2, 3, 7, 100 and 10,000 labelled targets, for targets without labels and for a fleet whose
//! percentages round below one target. A model is refused when a well-labelled fleet would give
//! it an empty phase (a selector whose targets earlier phases took) or a phase over its budget
//! (a batch larger than `max_unavailable`, nothing allowed unavailable, targets no phase takes).

use super::inventory::{Inventory, Labels, Target};
use super::plan::{self, PlanError, PlannedPhase};
use super::{Budget, DeploymentModel, Share};

/// The fleet sizes every model is tried on.
pub const SIZES: [usize; 6] = [1, 2, 3, 7, 100, 10_000];

/// One tried fleet and what the plan made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// What the fleet is (`7 targets`, `10 targets without labels`).
    pub title: String,
    pub targets: usize,
    pub outcome: Result<Vec<PlannedPhase>, PlanError>,
    /// Why this case refuses the model (`None`: the model is fine here).
    pub problem: Option<String>,
    /// What a reader should know (a phase dropped, a budget rounding to 0).
    pub notes: Vec<String>,
}

/// Label keys and the values the model's selectors ask for, and the keys it spreads over.
fn label_plan(model: &DeploymentModel) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |key: &str, value: Option<&str>| {
        let pos = keys.iter().position(|(k, _)| k == key).unwrap_or_else(|| {
            keys.push((key.to_owned(), Vec::new()));
            keys.len() - 1
        });
        if let Some(v) = value.filter(|v| !keys[pos].1.iter().any(|x| x == v)) {
            keys[pos].1.push(v.to_owned());
        }
    };
    for phase in &model.phases {
        if let Some(sel) = &phase.select {
            for (k, v) in sel.wanted() {
                add(k, Some(v));
            }
            for k in sel.keys() {
                add(k, None);
            }
        }
        if let Some(k) = &phase.spread {
            add(k, None);
        }
    }
    if let Some(k) = &model.spread {
        add(k, None);
    }
    if let Some(sel) = &model.new {
        for (k, v) in sel.wanted() {
            add(k, Some(v));
        }
        for k in sel.keys() {
            add(k, None);
        }
    }
    keys
}

/// `n` targets carrying every label the model names: the values its selectors ask for in turn
/// with one other value, and for spread keys about twenty targets per value.
#[must_use]
pub fn fleet(model: &DeploymentModel, n: usize) -> Inventory {
    let keys = label_plan(model);
    let targets = (0..n)
        .map(|i| {
            let labels: Labels = keys
                .iter()
                .map(|(k, wanted)| {
                    let value = if wanted.is_empty() {
                        format!("{k}-{}", i % n.div_ceil(20).max(1))
                    } else if i % (wanted.len() + 1) < wanted.len() {
                        wanted[i % (wanted.len() + 1)].clone()
                    } else {
                        "other".to_owned()
                    };
                    (k.clone(), value)
                })
                .collect();
            Target { name: format!("t{i:05}"), labels }
        })
        .collect();
    Inventory { targets }
}

/// The smallest percentage the model uses, if any (shares, batches, budgets).
fn smallest_percent(model: &DeploymentModel) -> Option<f64> {
    let shares = model.phases.iter().map(|p| p.targets).chain(model.batch);
    let budgets =
        model.phases.iter().map(|p| p.failure_budget).chain(model.max_unavailable).chain([model.failure_budget]);
    shares
        .filter_map(|s| if let Share::Percent(p) = s { Some(p) } else { None })
        .chain(budgets.filter_map(|b| if let Budget::Percent(p) = b { Some(p) } else { None }))
        .filter(|p| *p > 0.0)
        .min_by(f64::total_cmp)
}

/// Tries the model on every edge case; see the module doc.
#[must_use]
pub fn rehearse(model: &DeploymentModel) -> Vec<Case> {
    let mut cases: Vec<Case> =
        SIZES.iter().map(|&n| try_fleet(model, format!("{n} target(s)"), &fleet(model, n), true)).collect();
    if !label_plan(model).is_empty() {
        let bare: Inventory = (0..10).map(|i| format!("t{i:05}")).collect::<Vec<_>>().into();
        cases.push(try_fleet(model, "10 target(s) without labels".into(), &bare, false));
    }
    if let Some(p) = smallest_percent(model) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = ((100.0 / p).ceil() as usize).saturating_sub(1).max(1);
        if !SIZES.contains(&n) {
            cases.push(try_fleet(model, format!("{n} target(s): {p}% is under one target"), &fleet(model, n), true));
        }
    }
    cases
}

/// Plans `inventory` and judges the result. `labelled`: the fleet carries every label the
/// model names, so a plan error is the model's fault, not the fleet's.
#[must_use]
pub fn try_fleet(model: &DeploymentModel, title: String, inventory: &Inventory, labelled: bool) -> Case {
    let outcome = plan::plan(model, inventory);
    let mut notes = Vec::new();
    let spreads = model.spread.iter().chain(model.phases.iter().filter_map(|p| p.spread.as_ref()));
    for key in spreads {
        let missing = inventory.targets.iter().filter(|t| !t.labels.contains_key(key)).count();
        if missing > 0 {
            notes.push(format!("{missing} target(s) without a \"{key}\" label are spread as one group"));
        }
    }
    let problem = match &outcome {
        Err(e @ (PlanError::UnknownLabel { .. } | PlanError::SelectorEmpty { .. } | PlanError::NoOldSet { .. }))
            if labelled =>
        {
            // Too few targets to carry every value the selectors ask for: the fleet's limit.
            notes.push(format!("a fleet this small cannot hold every selected label: {e}"));
            None
        }
        Err(PlanError::UnknownLabel { .. } | PlanError::SelectorEmpty { .. } | PlanError::NoOldSet { .. }) => None,
        Err(e) => Some(e.to_string()),
        Ok(phases) => {
            let mut problem = None;
            for spec in &model.phases {
                if phases.iter().any(|p| p.name == spec.name) {
                    continue;
                }
                let carrier = phases.iter().find(|p| p.absorbed.contains(&spec.name)).map_or("", |p| p.name.as_str());
                match &spec.select {
                    Some(sel) if inventory.targets.iter().any(|t| sel.matches(&t.labels)) => {
                        problem = Some(format!(
                            "phase \"{}\" is empty: earlier phases took every target its selector \"{sel}\" matches",
                            spec.name
                        ));
                        break;
                    }
                    _ => {
                        notes.push(format!("phase {} gets no target (its gate, if any, goes to {carrier})", spec.name))
                    }
                }
            }
            for p in phases.iter().filter(|p| !p.targets.is_empty()) {
                let spec_budget =
                    model.phases.iter().find(|s| s.name == p.name).map_or(model.failure_budget, |s| s.failure_budget);
                if matches!(spec_budget, Budget::Percent(x) if x > 0.0) && p.failure_budget == 0 {
                    notes.push(format!(
                        "{}: failure budget {spec_budget} of {} target(s) rounds down to 0",
                        p.name,
                        p.targets.len()
                    ));
                }
            }
            problem
        }
    };
    Case { title, targets: inventory.len(), outcome, problem, notes }
}

/// One line for a plan: `pilot 2 · wave-1 20 · wave-2 78`, long runs of equal batches folded.
#[must_use]
pub fn shape(phases: &[PlannedPhase]) -> String {
    if phases.len() > 6 {
        let first = phases[0].targets.len();
        let last = phases[phases.len() - 1].targets.len();
        let equal = phases[..phases.len() - 1].iter().all(|p| p.targets.len() == first);
        if equal {
            let tail = if last == first { String::new() } else { format!(", the last of {last}") };
            return format!(
                "{} batches of {first}{tail} ({} .. {})",
                phases.len(),
                phases[0].name,
                phases[phases.len() - 1].name
            );
        }
    }
    phases.iter().map(|p| format!("{} {}", p.name, p.targets.len())).collect::<Vec<_>>().join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inventory::Selector;
    use crate::domain::{PhaseSpec, Technique};

    fn model(technique: Technique, phases: &[(&str, Share, Option<&str>)]) -> DeploymentModel {
        let text = format!("technique = \"{}\"\nsteps = [\"install\"]\n", technique.as_str());
        let mut m: DeploymentModel = toml::from_str(&text).expect("model");
        m.phases = phases
            .iter()
            .map(|(name, share, select)| PhaseSpec {
                name: (*name).into(),
                targets: *share,
                select: select.map(|s| Selector::parse(s).expect("selector")),
                spread: None,
                failure_budget: Budget::Percent(5.0),
                gate: None,
            })
            .collect();
        m
    }

    fn refused(cases: &[Case]) -> Vec<(&str, &str)> {
        cases.iter().filter_map(|c| Some((c.title.as_str(), c.problem.as_deref()?))).collect()
    }

    #[test]
    fn a_phased_model_passes_every_size_and_says_what_small_fleets_drop() {
        let m = model(
            Technique::Phased,
            &[("pilot", Share::Count(2), None), ("wave-1", Share::Percent(20.0), None), ("rest", Share::Rest, None)],
        );
        let cases = rehearse(&m);
        assert!(refused(&cases).is_empty(), "{cases:?}");
        let sizes: Vec<_> = cases.iter().map(|c| c.outcome.as_ref().map(|p| shape(p)).unwrap_or_default()).collect();
        assert_eq!(sizes[0], "pilot 1");
        assert_eq!(sizes[5], "pilot 2 · wave-1 2000 · rest 7998");
        assert!(cases[0].notes.iter().any(|n| n.contains("wave-1 gets no target")), "{:?}", cases[0].notes);
        // 5% budgets round to 0 on small phases; the case under one target of 5% is tried.
        assert!(cases.iter().any(|c| c.title == "19 target(s): 5% is under one target"));
        assert!(cases[3].notes.iter().any(|n| n.contains("rounds down to 0")), "{:?}", cases[3].notes);
    }

    #[test]
    fn a_rolling_model_whose_batch_outgrows_max_unavailable_is_refused() {
        let mut m = model(Technique::Rolling, &[]);
        m.batch = Some(Share::Percent(10.0));
        m.max_unavailable = Some(Budget::Count(50));
        let cases = rehearse(&m);
        assert_eq!(
            refused(&cases),
            vec![(
                "10000 target(s)",
                "a batch of 1000 target(s) is larger than max_unavailable allows (50 of 10000 target(s) at once)"
            )]
        );
        m.batch = Some(Share::Count(5));
        m.max_unavailable = Some(Budget::Percent(10.0));
        let cases = rehearse(&m);
        let small: Vec<_> = refused(&cases).into_iter().map(|r| r.0).collect();
        assert_eq!(
            small,
            vec!["1 target(s)", "2 target(s)", "3 target(s)", "7 target(s)", "9 target(s): 10% is under one target"]
        );
        m.max_unavailable = Some(Budget::Count(5));
        let ok = rehearse(&m);
        assert!(refused(&ok).is_empty());
        assert_eq!(
            ok[5].outcome.as_ref().map(|p| shape(p)).expect("plans"),
            "2000 batches of 5 (batch-1 .. batch-2000)"
        );
    }

    #[test]
    fn pilot_selectors_are_tried_with_and_without_labels() {
        let m = model(Technique::Pilot, &[("berlin", Share::Rest, Some("site=berlin")), ("rest", Share::Rest, None)]);
        let cases = rehearse(&m);
        assert!(refused(&cases).is_empty(), "{cases:?}");
        assert_eq!(cases[4].outcome.as_ref().map(|p| shape(p)).expect("plans"), "berlin 50 · rest 50");
        let bare = cases.iter().find(|c| c.title.contains("without labels")).expect("tried");
        assert!(matches!(bare.outcome, Err(PlanError::UnknownLabel { .. })) && bare.problem.is_none());
        // A second selector whose targets the first took: an empty phase, refused.
        let m = model(
            Technique::Pilot,
            &[
                ("all-berlin", Share::Rest, Some("site=berlin")),
                ("berlin-gold", Share::Rest, Some("site=berlin")),
                ("rest", Share::Rest, None),
            ],
        );
        let cases = rehearse(&m);
        let problems = refused(&cases);
        assert!(!problems.is_empty());
        assert!(problems[0].1.starts_with("phase \"berlin-gold\" is empty"), "{problems:?}");
        // The last phase selecting leaves targets to no phase.
        let m = model(Technique::Pilot, &[("berlin", Share::Rest, Some("site=berlin"))]);
        assert!(refused(&rehearse(&m)).iter().any(|(_, p)| p.contains("match no phase")));
    }
}
