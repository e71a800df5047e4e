//! What the audit trail seals besides its own records: the stored facts that decisions depend
//! on.
//!
//! A hash chain over the decisions proves that no decision was changed, but a gate counts the
//! stored policy, the phases and their targets, the team and the emergency freezes too; lowering
//! a stored policy from two approvals to one would leave the chain intact. So every record that
//! changes such a fact (a plan, a team sync, a freeze added or ended) carries, in its hashed
//! `seal`, the fact as it stands after the change, and `audit verify` compares the log with
//! the newest seal of each. Facts are read as the log stores them (text and numbers of its
//! columns), so a seal holds across releases that read them differently.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The hex SHA-256 of `bytes`.
#[must_use]
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One phase of a planned deployment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseFacts {
    pub name: String,
    pub target_count: i64,
    pub failure_budget: i64,
    /// The stored gate policy (JSON text), `None` for no gate.
    pub gate: Option<String>,
    /// The digest of the phase's target names, in order.
    pub targets: String,
}

/// A planned deployment's facts as stored: its own columns (release, environment, model,
/// requester, planner, recovery policy, ...) and its phases. The planned window is not one: it
/// moves by audited reschedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFacts {
    pub deployment: BTreeMap<String, serde_json::Value>,
    pub phases: Vec<PhaseFacts>,
}

impl PlanFacts {
    /// The digest a seal of many deployments keeps of each.
    #[must_use]
    pub fn digest(&self) -> String {
        digest(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// What differs in `now` from these sealed facts, one phrase each ("the gate policy of
    /// phase 2 \"wave-1\" was changed"); empty when nothing does.
    #[must_use]
    pub fn changes(&self, now: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let keys: std::collections::BTreeSet<&String> = self.deployment.keys().chain(now.deployment.keys()).collect();
        for key in keys {
            if self.deployment.get(key) != now.deployment.get(key) {
                out.push(format!("its {} was changed", key.replace('_', " ")));
            }
        }
        if self.phases.len() != now.phases.len() {
            out.push(format!("its phases were changed ({} sealed, {} now)", self.phases.len(), now.phases.len()));
            return out;
        }
        for (i, (was, is)) in self.phases.iter().zip(&now.phases).enumerate() {
            let n = i + 1;
            if was.name != is.name {
                out.push(format!("phase {n} was renamed from \"{}\" to \"{}\"", was.name, is.name));
            }
            let phase = format!("phase {n} \"{}\"", was.name);
            if was.gate != is.gate {
                out.push(format!("the gate policy of {phase} was changed"));
            }
            if was.failure_budget != is.failure_budget {
                out.push(format!(
                    "the failure budget of {phase} was changed from {} to {}",
                    was.failure_budget, is.failure_budget
                ));
            }
            if was.target_count != is.target_count || was.targets != is.targets {
                out.push(format!("the targets of {phase} were changed"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> PlanFacts {
        let phase = |name: &str, gate: Option<&str>| PhaseFacts {
            name: name.into(),
            target_count: 2,
            failure_budget: 0,
            gate: gate.map(str::to_owned),
            targets: digest(name.as_bytes()),
        };
        PlanFacts {
            deployment: [("environment".to_owned(), serde_json::json!("production"))].into_iter().collect(),
            phases: vec![phase("pilot", None), phase("wave-1", Some(r#"{"approvals":2}"#))],
        }
    }

    #[test]
    fn a_lowered_gate_policy_or_a_renamed_phase_is_named() {
        let sealed = facts();
        assert!(sealed.changes(&sealed.clone()).is_empty());
        let mut lowered = sealed.clone();
        lowered.phases[1].gate = Some(r#"{"approvals":1}"#.into());
        assert_eq!(sealed.changes(&lowered), ["the gate policy of phase 2 \"wave-1\" was changed"]);
        let mut renamed = sealed.clone();
        renamed.phases[0].name = "canary".into();
        renamed.phases[0].targets = digest(b"other");
        assert_eq!(
            sealed.changes(&renamed),
            ["phase 1 was renamed from \"pilot\" to \"canary\"", "the targets of phase 1 \"pilot\" were changed"]
        );
        let mut moved = sealed.clone();
        moved.deployment.insert("environment".into(), serde_json::json!("staging"));
        assert_eq!(sealed.changes(&moved), ["its environment was changed"]);
        assert_ne!(sealed.digest(), moved.digest());
    }
}
