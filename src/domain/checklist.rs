//! Checklists: what is verified before and after a deployment, and the rule for ticking.
//!
//! A model carries three lists: `pre` (the service components), `environment` (the target
//! environment) and `post` (the deployment's outcome). Each item is ticked by a person holding
//! one of its roles, or automatically (`auto = "step"`) once that lifecycle step succeeded on
//! every target or the given share of them. Ticking is a decision like an approval: it is
//! checked here, recorded with who, when and the evidence, and never undone. A gate may require
//! whole lists to be done before it can be approved; the deployment is `verifying` after its
//! last phase until every `post` item is done.

use super::DeploymentStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which checklist an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    Pre,
    Environment,
    Post,
}

impl List {
    pub const ALL: [Self; 3] = [Self::Pre, Self::Environment, Self::Post];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pre => "pre",
            Self::Environment => "environment",
            Self::Post => "post",
        }
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for List {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown checklist \"{s}\" (pre, environment or post)"))
    }
}

/// One item as the model's config declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// Short name, unique within the model; `shipdeck check KEY ITEM` names it.
    pub id: String,
    pub text: String,
    /// Roles allowed to tick it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// A lifecycle step whose success on the targets ticks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<String>,
    /// The share of targets (1-100 %) whose `auto` step must succeed; default all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Whether ticking it needs evidence (a note or a link).
    #[serde(default)]
    pub evidence: bool,
}

/// A model's checklists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklists {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre: Vec<ItemSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<ItemSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post: Vec<ItemSpec>,
}

impl Checklists {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.environment.is_empty() && self.post.is_empty()
    }

    /// Every item with its list, in list order.
    pub fn items(&self) -> impl Iterator<Item = (List, &ItemSpec)> {
        self.pre
            .iter()
            .map(|i| (List::Pre, i))
            .chain(self.environment.iter().map(|i| (List::Environment, i)))
            .chain(self.post.iter().map(|i| (List::Post, i)))
    }

    /// Checks the items against the model's steps and the roles people hold: the key path and
    /// what is wrong.
    pub fn validate(&self, steps: &[String], roles: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        let mut seen: Vec<&str> = Vec::new();
        for (list, pos, item) in
            List::ALL.into_iter().flat_map(|l| self.list(l).iter().enumerate().map(move |(i, it)| (l, i, it)))
        {
            let key = |k: &str| format!("checklists.{list}[{pos}].{k}");
            if item.id.trim().is_empty() || item.id.chars().any(char::is_whitespace) {
                return Err((key("id"), format!("checklist item id \"{}\" must be one word", item.id)));
            }
            if seen.contains(&item.id.as_str()) {
                return Err((key("id"), format!("checklist item \"{}\" appears twice", item.id)));
            }
            seen.push(&item.id);
            if let Some(r) = item.roles.iter().find(|r| !roles(r)) {
                return Err((
                    key("roles"),
                    format!("role \"{r}\" of checklist item \"{}\" is held by nobody", item.id),
                ));
            }
            if let Some(step) = item.auto.as_ref().filter(|s| !steps.contains(s)) {
                return Err((
                    key("auto"),
                    format!(
                        "checklist item \"{}\" names \"{step}\", which is not a step of the model ({})",
                        item.id,
                        steps.join(", ")
                    ),
                ));
            }
            if item.roles.is_empty() && item.auto.is_none() {
                return Err((
                    key("roles"),
                    format!("checklist item \"{}\" needs roles allowed to tick it, or auto = \"step\"", item.id),
                ));
            }
            if let Some(p) = item.percent {
                if item.auto.is_none() || !(p > 0.0 && p <= 100.0) {
                    return Err((
                        key("percent"),
                        format!("percent {p} of checklist item \"{}\" needs auto and must be within 1-100", item.id),
                    ));
                }
            }
        }
        Ok(())
    }

    #[must_use]
    pub fn list(&self, list: List) -> &[ItemSpec] {
        match list {
            List::Pre => &self.pre,
            List::Environment => &self.environment,
            List::Post => &self.post,
        }
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Open,
    Done,
    Failed,
}

impl ItemState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Open, Self::Done, Self::Failed]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown checklist item state \"{s}\""))
    }
}

/// One item of a deployment's checklist, as the log holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub list: List,
    pub id: String,
    pub text: String,
    pub roles: Vec<String>,
    pub auto: Option<String>,
    pub percent: Option<f64>,
    pub evidence_required: bool,
    pub state: ItemState,
    pub ticked_by: Option<String>,
    pub ticked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub evidence: Option<String>,
}

/// Why a tick is refused: one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickRefusal {
    #[error("the deployment is {status}: its checklist can no longer be ticked")]
    Closed { status: DeploymentStatus },
    #[error("item \"{item}\" was already ticked {state} by {by}")]
    Already { item: String, state: ItemState, by: String },
    #[error("{person} holds none of the roles allowed to tick \"{item}\" ({})", roles.join(", "))]
    Role { person: String, item: String, roles: Vec<String> },
    #[error("item \"{item}\" is ticked by the agents' \"{step}\" events, not by hand")]
    Automatic { item: String, step: String },
    #[error("item \"{item}\" needs evidence (--evidence NOTE_OR_LINK)")]
    EvidenceRequired { item: String },
}

/// Checks that `person` (holding `roles`) may tick `item` on a deployment in `status`; the
/// role they tick it in.
pub fn check_tick(
    item: &Item,
    status: DeploymentStatus,
    person: &str,
    roles: &[String],
    evidence: Option<&str>,
) -> Result<String, TickRefusal> {
    // A failed deployment may still be retried; a halted or finished one is over.
    if status.is_halted() || status == DeploymentStatus::Succeeded {
        return Err(TickRefusal::Closed { status });
    }
    if item.state != ItemState::Open {
        return Err(TickRefusal::Already {
            item: item.id.clone(),
            state: item.state,
            by: item.ticked_by.clone().unwrap_or_else(|| "?".into()),
        });
    }
    if item.roles.is_empty() {
        let step = item.auto.clone().unwrap_or_default();
        return Err(TickRefusal::Automatic { item: item.id.clone(), step });
    }
    let Some(role) = roles.iter().find(|r| item.roles.contains(r)) else {
        return Err(TickRefusal::Role { person: person.to_owned(), item: item.id.clone(), roles: item.roles.clone() });
    };
    if item.evidence_required && evidence.is_none_or(|e| e.trim().is_empty()) {
        return Err(TickRefusal::EvidenceRequired { item: item.id.clone() });
    }
    Ok(role.clone())
}

/// The items of `lists` that are not done, for a gate that requires them.
#[must_use]
pub fn unticked<'a>(items: &'a [Item], lists: &[String]) -> Vec<&'a Item> {
    items.iter().filter(|i| lists.iter().any(|l| l == i.list.as_str()) && i.state != ItemState::Done).collect()
}

/// The status of a deployment whose phases all succeeded, given its `post` items: failed when
/// one failed, verifying while one is open, else succeeded.
#[must_use]
pub fn after_last_phase(items: &[Item]) -> DeploymentStatus {
    let post = items.iter().filter(|i| i.list == List::Post);
    let states: Vec<ItemState> = post.map(|i| i.state).collect();
    if states.contains(&ItemState::Failed) {
        DeploymentStatus::Failed
    } else if states.contains(&ItemState::Open) {
        DeploymentStatus::Verifying
    } else {
        DeploymentStatus::Succeeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(list: List, roles: &[&str], evidence: bool) -> Item {
        Item {
            list,
            id: "backup".into(),
            text: "Database backed up".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            auto: None,
            percent: None,
            evidence_required: evidence,
            state: ItemState::Open,
            ticked_by: None,
            ticked_at: None,
            evidence: None,
        }
    }

    #[test]
    fn ticking_needs_the_role_the_evidence_and_an_open_item() {
        let sre = vec!["sre".to_owned()];
        let it = item(List::Environment, &["sre"], true);
        assert_eq!(check_tick(&it, DeploymentStatus::Planned, "lee", &sre, Some("snapshot 42")), Ok("sre".into()));
        assert!(matches!(
            check_tick(&it, DeploymentStatus::Planned, "lee", &sre, Some("  ")),
            Err(TickRefusal::EvidenceRequired { .. })
        ));
        let err = check_tick(&it, DeploymentStatus::Planned, "sam", &["release_engineer".into()], Some("x"))
            .expect_err("role");
        assert_eq!(err.to_string(), "sam holds none of the roles allowed to tick \"backup\" (sre)");
        let mut done = it.clone();
        done.state = ItemState::Done;
        done.ticked_by = Some("lee".into());
        assert_eq!(
            check_tick(&done, DeploymentStatus::Running, "lee", &sre, Some("x")).expect_err("twice").to_string(),
            "item \"backup\" was already ticked done by lee"
        );
        assert!(matches!(
            check_tick(&it, DeploymentStatus::Aborted, "lee", &sre, Some("x")),
            Err(TickRefusal::Closed { .. })
        ));
        let mut auto = item(List::Post, &[], false);
        auto.auto = Some("verify".into());
        assert!(matches!(
            check_tick(&auto, DeploymentStatus::Verifying, "lee", &sre, None),
            Err(TickRefusal::Automatic { .. })
        ));
    }

    #[test]
    fn post_items_decide_what_follows_the_last_phase() {
        let mut a = item(List::Post, &["sre"], false);
        let pre = item(List::Pre, &["sre"], false);
        assert_eq!(after_last_phase(std::slice::from_ref(&pre)), DeploymentStatus::Succeeded);
        assert_eq!(after_last_phase(&[pre.clone(), a.clone()]), DeploymentStatus::Verifying);
        a.state = ItemState::Done;
        assert_eq!(after_last_phase(&[pre.clone(), a.clone()]), DeploymentStatus::Succeeded);
        a.state = ItemState::Failed;
        assert_eq!(after_last_phase(&[pre, a]), DeploymentStatus::Failed);
    }

    #[test]
    fn validation_names_unknown_roles_and_steps() {
        let steps = vec!["install".to_owned(), "verify".to_owned()];
        let roles = |r: &str| r == "sre";
        let spec = |roles: &[&str], auto: Option<&str>| ItemSpec {
            id: "x".into(),
            text: "t".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            auto: auto.map(str::to_owned),
            percent: None,
            evidence: false,
        };
        let ok = Checklists { pre: vec![spec(&["sre"], None)], environment: vec![], post: vec![] };
        assert!(ok.validate(&steps, &roles).is_ok());
        let bad_role = Checklists { pre: vec![spec(&["dba"], None)], ..Checklists::default() };
        let (path, msg) = bad_role.validate(&steps, &roles).expect_err("role");
        assert_eq!(path, "checklists.pre[0].roles");
        assert!(msg.contains("\"dba\""), "{msg}");
        let bad_step = Checklists { post: vec![spec(&[], Some("smoke"))], ..Checklists::default() };
        assert!(bad_step.validate(&steps, &roles).expect_err("step").1.contains("\"smoke\""));
        let nobody = Checklists { post: vec![spec(&[], None)], ..Checklists::default() };
        assert!(nobody.validate(&steps, &roles).is_err());
    }
}
