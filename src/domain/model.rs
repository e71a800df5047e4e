//! Deployment models: reusable templates that say how a release moves through an environment.
//!
//! A model names its technique and its ordered phases; each phase takes a share of the targets,
//! has a failure budget, the lifecycle steps an agent reports for each target, and optionally a
//! gate (the approval policy before it may start). Deployments copy what they need of their
//! model when planned, so editing the config never rewrites history.

use super::analysis::AnalysisRule;
use super::checklist::Checklists;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a rollout spreads over its targets (ITIL 4 deployment techniques).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Technique {
    BigBang,
    Phased,
    Pilot,
    Parallel,
    Rolling,
    Canary,
}

impl Technique {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BigBang => "big-bang",
            Self::Phased => "phased",
            Self::Pilot => "pilot",
            Self::Parallel => "parallel",
            Self::Rolling => "rolling",
            Self::Canary => "canary",
        }
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A named, reusable deployment template from the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentModel {
    pub technique: Technique,
    /// What the model is for, shown when planning.
    #[serde(default)]
    pub description: String,
    /// Environments it may be used in; empty means any declared one.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Lifecycle steps every target goes through, in order (e.g. download, install, verify).
    pub steps: Vec<String>,
    /// The phases, in order (`rolling` generates its batches instead; `big-bang` may leave
    /// them out for one phase of every target).
    #[serde(default)]
    pub phases: Vec<PhaseSpec>,
    /// `rolling`: the size of each batch, a count (`10`) or a percentage of all targets
    /// (`"10%"`, rounded up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Share>,
    /// `rolling`: at most this many targets out of service at once, a count or a percentage of
    /// all targets (rounded down); no batch may be larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Budget>,
    /// `rolling` and `big-bang` without phases: the failure budget of each generated phase.
    #[serde(default)]
    pub failure_budget: Budget,
    /// Orders every phase's targets round-robin across this label (e.g. `rack`), so no rack
    /// loses more than its share at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<String>,
    /// Change windows every phase's activity must fall in (empty: any time); agents' events
    /// outside them are flagged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<String>,
    /// What is verified before (`pre`, `environment`) and after (`post`) a deployment.
    #[serde(default, skip_serializing_if = "Checklists::is_empty")]
    pub checklists: Checklists,
    /// Who may decide on a failed phase (retry, abort, rollback).
    #[serde(default)]
    pub recovery: RecoveryPolicy,
    /// `canary`: the analysis that decides the gate after the canary phase
    /// ([`super::analysis`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<AnalysisRule>,
    /// `parallel`: the set of targets that gets the new release, by label (`slot=green`); every
    /// other target is the old set, which keeps serving until the switch-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<super::inventory::Selector>,
    /// `parallel`: the switch-over gate, the decision that moves traffic to the new set (its
    /// `bake` is how long both sets run side by side before it may be taken). Default: one
    /// approval from the `recovery` roles, no self-approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<GatePolicy>,
    /// `parallel`: how long the old set stays ready to take traffic back after the switch-over
    /// (a switch back is possible until then); after it, the old set is released.
    #[serde(default, with = "keep_old_text", skip_serializing_if = "Option::is_none")]
    pub keep_old: Option<TimeDelta>,
    /// The first this many live runs of a new or changed model are supervised: every phase
    /// needs a person's approval (automatic approvals are suspended). 0: never.
    #[serde(default = "default_supervised_runs")]
    pub supervised_runs: u32,
}

/// The default time the old set of a `parallel` deployment is kept after the switch-over.
#[must_use]
pub fn default_keep_old() -> TimeDelta {
    TimeDelta::hours(2)
}

/// The default number of supervised runs of a new or changed model.
#[must_use]
pub fn default_supervised_runs() -> u32 {
    3
}

impl DeploymentModel {
    /// How long a `parallel` deployment keeps its old set after the switch-over.
    #[must_use]
    pub fn keep_old(&self) -> TimeDelta {
        self.keep_old.unwrap_or_else(default_keep_old)
    }

    /// What identifies the model's behaviour: SHA-256 of its definition without the words
    /// around it (`description`) and without `supervised_runs`, so a new or changed model is
    /// told from one the log has run before.
    #[must_use]
    pub fn definition_hash(&self) -> String {
        use sha2::Digest;
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.remove("description");
            map.remove("supervised_runs");
        }
        let digest = sha2::Sha256::digest(v.to_string().as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// Who may retry, abort or roll back a failed phase of a deployment: its requester, and the
/// people holding one of `roles`. Copied into each deployment when planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryPolicy {
    pub roles: Vec<String>,
    /// A target of a running phase that reports nothing for this long is `lost` (counted as
    /// failed, so the phase can finish and the manager decides); `None`: never.
    #[serde(with = "lost_after_text", skip_serializing_if = "Option::is_none")]
    pub lost_after: Option<TimeDelta>,
}

impl Default for RecoveryPolicy {
    fn default() -> Self {
        Self { roles: vec!["deployment_manager".into()], lost_after: None }
    }
}

/// `lost_after` as duration text (`30m`), absent when unset.
mod lost_after_text {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::domain::duration::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeDelta>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| {
            let d = crate::domain::duration::parse(&t).map_err(serde::de::Error::custom)?;
            if d <= TimeDelta::zero() {
                return Err(serde::de::Error::custom(format!("lost_after \"{t}\" must be longer than 0s")));
            }
            Ok(d)
        })
        .transpose()
    }
}

/// `keep_old` as duration text (`2h`), absent when unset; 0 or less is refused.
mod keep_old_text {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::domain::duration::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeDelta>, D::Error> {
        let text = String::deserialize(d)?;
        let d = crate::domain::duration::parse(&text).map_err(serde::de::Error::custom)?;
        if d <= TimeDelta::zero() {
            return Err(serde::de::Error::custom(format!(
                "keep_old \"{text}\" must be longer than 0s (the old set must stay ready to switch back to)"
            )));
        }
        Ok(Some(d))
    }
}

/// One ordered stage of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    pub name: String,
    /// Which share of the deployment's targets this phase takes (of those `select` matches,
    /// when it selects); default: all of them.
    #[serde(default = "Share::rest")]
    pub targets: Share,
    /// Takes only targets whose labels match (`site=berlin`, `group=internal|beta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<super::inventory::Selector>,
    /// Picks this phase's targets round-robin across this label (overrides the model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<String>,
    /// How many of this phase's targets may fail before the phase fails.
    #[serde(default)]
    pub failure_budget: Budget,
    /// The approval needed before this phase may start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GatePolicy>,
}

/// A phase's share of targets: a count, a percentage of all targets, or the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    Count(usize),
    Percent(f64),
    Rest,
}

/// A phase's failure budget: a count of targets or a percentage of the phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Count(usize),
    Percent(f64),
}

impl Default for Budget {
    fn default() -> Self {
        Self::Count(0)
    }
}

impl Budget {
    /// How many failed targets a phase of `size` targets tolerates (percentages round down).
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    pub fn allowed(self, size: usize) -> usize {
        match self {
            Self::Count(n) => n.min(size),
            Self::Percent(p) => ((size as f64) * p / 100.0).floor() as usize,
        }
    }
}

/// Approval policy of a gate (enforced by the approvals feature; stored with each phase now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// How many distinct people must approve.
    #[serde(default = "one")]
    pub approvals: u32,
    /// Roles allowed to approve; empty means anyone in the config's people.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the deployment's requester may approve it.
    #[serde(default)]
    pub allow_self: bool,
    /// Minimum time after the previous phase succeeded before approval is possible.
    #[serde(default, with = "crate::domain::duration::serde_text")]
    pub bake: TimeDelta,
    /// Approval only while one of these change windows is open (empty: any time).
    #[serde(default)]
    pub windows: Vec<String>,
    /// Roles that may approve during a freeze, with a written reason.
    #[serde(default)]
    pub freeze_override_roles: Vec<String>,
    /// Checklists (`pre`, `environment`) that must be done before approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
    /// Who approves it without a person: `rolling` (the batch before succeeded within its
    /// budget). Set by the planner, never in the config; a person of `roles` may still decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<Automatic>,
    /// Approving needs a comment: the feedback the phase before (a pilot) gave. Set by the
    /// planner on the gate after a `pilot` model's pilot phase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub feedback: bool,
    /// The canary analysis that approves this gate ([`Automatic::Analysis`]) or halts the
    /// deployment. Copied by the planner from a `canary` model, never written on a gate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<AnalysisRule>,
}

/// A gate shipdeck itself approves, through the same decision path as people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Automatic {
    /// A rolling batch: approved as soon as the batch before succeeded within its budget.
    Rolling,
    /// The gate after a canary: approved when its analysis passes (after the bake); a failed
    /// analysis halts the deployment for a person instead.
    Analysis,
}

impl Automatic {
    /// The name its decisions are recorded under (never a person's name).
    #[must_use]
    pub fn actor(self) -> &'static str {
        match self {
            Self::Rolling => "shipdeck (rolling)",
            Self::Analysis => "shipdeck (analysis)",
        }
    }
}

fn one() -> u32 {
    1
}

impl GatePolicy {
    /// The gate the planner adds where the config wrote none (a pilot's feedback gate, a
    /// canary's analysed gate, a switch-over, a supervised run's phase): one approval from
    /// `roles`, no self-approval, no bake, window or checklist.
    #[must_use]
    pub fn one_approval(roles: Vec<String>) -> Self {
        Self {
            approvals: 1,
            roles,
            allow_self: false,
            bake: TimeDelta::zero(),
            windows: Vec::new(),
            freeze_override_roles: Vec::new(),
            require: Vec::new(),
            auto: None,
            feedback: false,
            analysis: Vec::new(),
        }
    }

    /// The stricter of two whole policies: the one needing more approvals, then the one bound
    /// to change windows, then the longer bake, then the one refusing self-approval; on a tie,
    /// `other`. A whole policy, not a mix of both, so the gate it makes can always be passed
    /// by the people one of them names.
    #[must_use]
    pub fn strictest(&self, other: &Self) -> Self {
        let rank = |p: &Self| (p.approvals, !p.windows.is_empty(), p.bake, !p.allow_self);
        let mut merged = if rank(self) > rank(other) { self.clone() } else { other.clone() };
        // Feedback either gate asks for stays asked for, and so does an analysis.
        merged.feedback = self.feedback || other.feedback;
        if merged.analysis.is_empty() {
            let with = if self.analysis.is_empty() { other } else { self };
            merged.analysis.clone_from(&with.analysis);
            merged.auto = merged.auto.or(with.auto);
        }
        // Checklists either gate requires stay required.
        for list in self.require.iter().chain(&other.require) {
            if !merged.require.contains(list) {
                merged.require.push(list.clone());
            }
        }
        merged
    }
}

/// Parses `5`, `"20%"` or `"rest"` (shares) and `2`, `"10%"` (budgets).
fn parse_percent(text: &str) -> Option<f64> {
    let p: f64 = text.strip_suffix('%')?.trim().parse().ok()?;
    (p > 0.0 && p <= 100.0).then_some(p)
}

impl Share {
    fn rest() -> Self {
        Self::Rest
    }

    /// Parses the text form of a share.
    pub fn parse(text: &str) -> Result<Self, super::Invalid> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("rest") {
            return Ok(Self::Rest);
        }
        if let Some(p) = parse_percent(t) {
            return Ok(Self::Percent(p));
        }
        match t.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Self::Count(n)),
            _ => Err(super::Invalid(format!(
                "invalid share \"{text}\": use a count of targets (5), a percentage (\"20%\") or \"rest\""
            ))),
        }
    }
}

impl Budget {
    /// Parses the text form of a budget.
    pub fn parse(text: &str) -> Result<Self, super::Invalid> {
        let t = text.trim();
        if let Some(p) = parse_percent(t).or_else(|| (t == "0%").then_some(0.0)) {
            return Ok(Self::Percent(p));
        }
        t.parse::<usize>().map(Self::Count).map_err(|_| {
            super::Invalid(format!(
                "invalid failure budget \"{text}\": use a count of targets (1) or a percentage (\"5%\")"
            ))
        })
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
            Self::Rest => f.write_str("rest"),
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Shares and budgets are written as a TOML integer or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrText {
    Int(i64),
    Text(String),
}

impl IntOrText {
    fn text(self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            Self::Text(t) => t,
        }
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&IntOrText::deserialize(d)?.text()).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&IntOrText::deserialize(d)?.text()).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            #[allow(clippy::cast_possible_wrap)]
            Self::Count(n) => s.serialize_i64(*n as i64),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl Serialize for Budget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            #[allow(clippy::cast_possible_wrap)]
            Self::Count(n) => s.serialize_i64(*n as i64),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_counts_percentages_and_rest() {
        assert_eq!(Share::parse("2"), Ok(Share::Count(2)));
        assert_eq!(Share::parse("20%"), Ok(Share::Percent(20.0)));
        assert_eq!(Share::parse("rest"), Ok(Share::Rest));
        for bad in ["0", "0%", "120%", "x", "-3", "20 %%"] {
            let err = Share::parse(bad).expect_err(bad);
            assert!(err.0.contains(bad), "{err}");
        }
    }

    #[test]
    fn budgets_round_down_and_never_exceed_the_phase() {
        assert_eq!(Budget::Percent(5.0).allowed(20), 1);
        assert_eq!(Budget::Percent(5.0).allowed(19), 0);
        assert_eq!(Budget::Count(3).allowed(2), 2);
        assert_eq!(Budget::parse("0%"), Ok(Budget::Percent(0.0)));
        assert!(Budget::parse("lots").expect_err("bad").0.contains("\"lots\""));
    }
}
