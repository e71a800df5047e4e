//! What people are told when a phase fails and takes its deployment with it: the words follow
//! why it failed. A phase fails because more hosts failed than its budget allows, or because
//! its canary analysis failed and shipdeck halted it (then no host may have failed at all, and
//! "failed its budget" would send people looking for broken hosts that do not exist).
//!
//! The store loads the facts ([`Failure`]); the sentences are worded here.

use crate::domain::DeploymentKey;

/// The body of `deployment_failed` when the failed phase is not known.
pub const UNKNOWN: &str = "A phase failed; the deployment manager may retry, abort or roll back.";

/// Why a phase failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// More hosts failed than its budget allows: how many, and the newest error among them.
    Budget { hosts: i64, last_error: Option<String> },
    /// Its canary analysis failed and shipdeck halted the deployment: the failing rules, each
    /// with its numbers (see `RuleResult::describe`), and how many hosts failed (often none).
    Analysis { failing_rules: Vec<String>, hosts: i64 },
}

/// A failed phase of a deployment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<'a> {
    pub key: DeploymentKey,
    pub phase: &'a str,
    /// `name@version`.
    pub release: &'a str,
    pub environment: &'a str,
    pub cause: Cause,
}

impl Failure<'_> {
    /// The `phase_failed` notification: subject and body.
    #[must_use]
    pub fn phase_failed(&self) -> (String, String) {
        let Self { key, phase, release, environment, cause } = self;
        match cause {
            Cause::Analysis { .. } => (
                format!("{key} {phase}: canary analysis failed"),
                format!(
                    "The canary analysis of {release} in {environment} failed ({}) and shipdeck halted it. Retry, approve anyway, abort or roll back.",
                    self.what_failed()
                ),
            ),
            Cause::Budget { hosts, last_error } => (
                format!("{key} {phase}: phase failed ({hosts} host(s))"),
                format!(
                    "Phase {phase} of {release} in {environment} exceeded its failure budget.{}",
                    last_error.as_ref().map(|e| format!(" Last error: {e}")).unwrap_or_default()
                ),
            ),
        }
    }

    /// The body of the `deployment_failed` notification.
    #[must_use]
    pub fn deployment_failed(&self) -> String {
        let phase = self.phase;
        match &self.cause {
            Cause::Analysis { .. } => format!(
                "Phase {phase} was halted by its canary analysis ({}); the deployment manager may retry, approve anyway, abort or roll back.",
                self.what_failed()
            ),
            Cause::Budget { hosts, .. } => format!(
                "Phase {phase} failed its budget ({hosts} host(s) failed); the deployment manager may retry, abort or roll back."
            ),
        }
    }

    /// The failing rules and the hosts that failed, for a halted canary.
    fn what_failed(&self) -> String {
        let Cause::Analysis { failing_rules, hosts } = &self.cause else { return String::new() };
        let rules = if failing_rules.is_empty() { "no rule recorded".to_owned() } else { failing_rules.join("; ") };
        format!("{rules}; {hosts} host(s) failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(cause: Cause) -> Failure<'static> {
        Failure { key: DeploymentKey(7), phase: "canary", release: "api@1.2.0", environment: "production", cause }
    }

    #[test]
    fn a_canary_halted_by_analysis_with_no_failed_host_is_not_said_to_have_failed_its_budget() {
        let rule =
            "error_rate difference: canary 2 vs baseline 0.2 = 1.8 > 0.5 (breached in 1 interval(s) of 1m, limit 0)";
        let f = failure(Cause::Analysis { failing_rules: vec![rule.into()], hosts: 0 });
        let body = f.deployment_failed();
        assert_eq!(
            body,
            format!(
                "Phase canary was halted by its canary analysis ({rule}; 0 host(s) failed); the deployment manager may retry, approve anyway, abort or roll back."
            )
        );
        assert!(!body.contains("budget"), "{body}");
        let (subject, body) = f.phase_failed();
        assert_eq!(subject, "DEP-7 canary: canary analysis failed");
        assert!(body.contains(rule) && !body.contains("budget"), "{body}");
    }

    #[test]
    fn a_phase_past_its_budget_says_how_many_hosts_failed_and_the_last_error() {
        let f = failure(Cause::Budget { hosts: 3, last_error: Some("install: disk full".into()) });
        assert_eq!(
            f.phase_failed(),
            (
                "DEP-7 canary: phase failed (3 host(s))".to_owned(),
                "Phase canary of api@1.2.0 in production exceeded its failure budget. Last error: install: disk full"
                    .to_owned()
            )
        );
        assert_eq!(
            f.deployment_failed(),
            "Phase canary failed its budget (3 host(s) failed); the deployment manager may retry, abort or roll back."
        );
    }
}
