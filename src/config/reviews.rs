//! `[reviews]`: which finished deployments owe a failure review, who owes it, and the root-cause
//! categories a review chooses from.

use super::Config;
use crate::domain::DeploymentStatus;
use crate::domain::history::ReviewRule;
use serde::{Deserialize, Serialize};

/// `[reviews]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewsConfig {
    /// Results that owe a review.
    pub owed_for: Vec<DeploymentStatus>,
    /// Environments whose deployments owe reviews; empty: every environment declared as
    /// production.
    pub environments: Vec<String>,
    /// Besides the requester, people holding one of these roles owe the review.
    pub owed_by_roles: Vec<String>,
    /// The root-cause categories a review chooses from.
    pub cause_categories: Vec<String>,
}

impl Default for ReviewsConfig {
    fn default() -> Self {
        Self {
            owed_for: vec![DeploymentStatus::Failed, DeploymentStatus::Aborted, DeploymentStatus::RolledBack],
            environments: Vec::new(),
            owed_by_roles: vec!["service_owner".into()],
            cause_categories: [
                "code",
                "configuration",
                "infrastructure",
                "capacity",
                "dependency",
                "process",
                "unknown",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl ReviewsConfig {
    /// Checks the section against the environments declared: `(key, message)` of the first
    /// problem.
    pub(super) fn check(&self, declared: &[super::Environment]) -> Result<(), (String, String)> {
        for (i, status) in self.owed_for.iter().enumerate() {
            if !status.is_final() {
                return Err((
                    format!("reviews.owed_for[{i}]"),
                    format!("\"{status}\" is not a result (failed, aborted, rolled_back or succeeded)"),
                ));
            }
        }
        for (i, env) in self.environments.iter().enumerate() {
            if !declared.iter().any(|e| &e.name == env) {
                return Err((
                    format!("reviews.environments[{i}]"),
                    super::sections::unknown_environment(env, declared),
                ));
            }
        }
        if self.cause_categories.is_empty() {
            return Err(("reviews.cause_categories".into(), "name at least one root-cause category".into()));
        }
        for (i, c) in self.cause_categories.iter().enumerate() {
            if c.trim().is_empty() || self.cause_categories[..i].contains(c) {
                return Err((format!("reviews.cause_categories[{i}]"), format!("\"{c}\" is empty or named twice")));
            }
        }
        Ok(())
    }
}

impl Config {
    /// The environments declared `production = true`: where change failures count.
    #[must_use]
    pub fn production_environments(&self) -> Vec<String> {
        self.environments.iter().filter(|e| e.production).map(|e| e.name.clone()).collect()
    }

    /// Which deployments owe a failure review under this config.
    #[must_use]
    pub fn review_rule(&self) -> ReviewRule {
        let environments = if self.reviews.environments.is_empty() {
            self.environments.iter().filter(|e| e.production).map(|e| e.name.clone()).collect()
        } else {
            self.reviews.environments.clone()
        };
        ReviewRule { results: self.reviews.owed_for.clone(), environments }
    }

    /// Who owes the review of a deployment requested by `requester`: the requester, then the
    /// people holding `owed_by_roles`, in config order.
    #[must_use]
    pub fn review_owers(&self, requester: &str) -> Vec<String> {
        let mut owers = vec![requester.to_owned()];
        for p in &self.people {
            if self.owes_reviews_by_role(&p.name) && !owers.contains(&p.name) {
                owers.push(p.name.clone());
            }
        }
        owers
    }

    /// Whether `person` owes every owed review through a role in `owed_by_roles` (not only the
    /// reviews of deployments they requested).
    #[must_use]
    pub fn owes_reviews_by_role(&self, person: &str) -> bool {
        self.person(person).is_some_and(|p| p.roles.iter().any(|r| self.reviews.owed_by_roles.contains(r)))
    }
}
