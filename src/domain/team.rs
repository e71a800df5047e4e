//! The team as the log stores it, and who the operator is under it.
//!
//! Who may do what comes from the log, never from whoever runs a command: the people, their
//! roles and OS logins, the identity mode and the roles that may change the team or plan for
//! someone else are stored in the log and changed only by an audited `team sync`. A caller's
//! own config file can name anyone and grant any role; it counts for nothing here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How the operator is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityMode {
    /// Names count: `SHIPDECK_OPERATOR`, else the config's `operator`, else the OS login
    /// matched to a person. For a single-user trial, the demo and tests; when the name and the
    /// OS account differ, the record says so.
    #[default]
    #[serde(rename = "declared")]
    Declared,
    /// The OS login matched to `people.login` is the only identity (shared hosts where each
    /// person has an account): naming someone else is refused, and four eyes hold by person
    /// and by OS account.
    #[serde(rename = "os-login")]
    OsLogin,
}

impl IdentityMode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::OsLogin => "os-login",
        }
    }
}

impl fmt::Display for IdentityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for IdentityMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "declared" => Ok(Self::Declared),
            "os-login" => Ok(Self::OsLogin),
            other => Err(format!("unknown identity mode \"{other}\" (declared or os-login)")),
        }
    }
}

/// A person of the team.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub roles: Vec<String>,
    /// Their OS account, when known.
    pub login: Option<String>,
}

/// The rules that come with the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPolicy {
    pub identity: IdentityMode,
    /// Roles that may change the stored team (`team sync`).
    pub admin_roles: Vec<String>,
    /// Roles that may plan on behalf of someone else.
    pub plan_for_others: Vec<String>,
    /// Who may declare freezes and override schedule conflicts.
    #[serde(default)]
    pub schedule: SchedulePolicy,
}

/// Who may change the calendar's rules at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePolicy {
    /// Roles that may declare and end emergency freezes.
    pub freeze_roles: Vec<String>,
    /// Roles that may plan or reschedule over a conflict, with a reason.
    pub override_roles: Vec<String>,
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        Self {
            freeze_roles: vec!["deployment_manager".into(), "change_manager".into()],
            override_roles: vec!["change_manager".into()],
        }
    }
}

/// The change windows and freezes decisions are checked against, stored with the team so that
/// a caller's own config (without the freeze, say) counts for nothing.
pub use super::schedule::TimeRules;

/// The team the log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub members: Vec<Member>,
    pub policy: TeamPolicy,
    /// `None`: stored before time rules were (the next `team sync` stores them).
    pub time_rules: Option<TimeRules>,
}

/// Who runs this command, as they claim and as the system knows them.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// `SHIPDECK_OPERATOR`, when set.
    pub env_operator: Option<&'a str>,
    /// The config's `operator`, when set.
    pub config_operator: Option<&'a str>,
    /// The OS account running the process.
    pub os_user: &'a str,
}

/// The operator under the log's team: the name they act as, and the person it is (`None`:
/// nobody the team knows; nothing is recorded in that name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'a> {
    pub name: String,
    pub member: Option<&'a Member>,
}

/// Why the operator cannot be who they claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "identity is \"os-login\": you are OS account {os_user} ({login_person}) and may not act as {claimed} (unset SHIPDECK_OPERATOR and the config's operator, or log in as {claimed})"
    )]
    Impersonation { claimed: String, os_user: String, login_person: String },
}

/// The flag for a decision made as `member` from `os_user`, when the two differ. A decision
/// through the server is the token's person's: nothing to flag.
#[must_use]
pub fn acted_as(member: &Member, os_user: &str) -> Option<String> {
    if super::token::is_account(os_user) {
        return None;
    }
    let own = member.login.as_deref().unwrap_or(&member.name);
    (own != os_user).then(|| format!("acted as {} from account {os_user}", member.name))
}

impl Team {
    /// The person with this name.
    #[must_use]
    pub fn person(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The person whose login is this OS account.
    #[must_use]
    pub fn by_login(&self, login: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.login.as_deref() == Some(login))
    }

    /// Who the operator is under this team and its identity mode.
    pub fn operator(&self, claim: Claim<'_>) -> Result<Resolved<'_>, IdentityError> {
        let os_user = claim.os_user.to_owned();
        let named = claim.env_operator.filter(|n| !n.is_empty()).or(claim.config_operator.filter(|n| !n.is_empty()));
        match self.policy.identity {
            IdentityMode::Declared => {
                let member = match named {
                    Some(n) => self.person(n),
                    None => self.by_login(claim.os_user),
                };
                Ok(Resolved { name: named.unwrap_or(claim.os_user).to_owned(), member })
            }
            IdentityMode::OsLogin => {
                let own = self.by_login(claim.os_user);
                if let Some(n) = named.filter(|n| own.is_none_or(|m| m.name != *n)) {
                    return Err(IdentityError::Impersonation {
                        claimed: n.to_owned(),
                        os_user,
                        login_person: own.map_or_else(|| "no person of the team".to_owned(), |m| m.name.clone()),
                    });
                }
                Ok(Resolved { name: own.map_or(claim.os_user, |m| m.name.as_str()).to_owned(), member: own })
            }
        }
    }

    /// Whether `person` holds a role of `roles`; the role it holds.
    #[must_use]
    pub fn role_in<'a>(person: &'a Member, roles: &[String]) -> Option<&'a str> {
        person.roles.iter().find(|r| roles.contains(r)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(identity: IdentityMode) -> Team {
        let m = |name: &str, login: &str, roles: &[&str]| Member {
            name: name.into(),
            login: Some(login.into()),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        Team {
            members: vec![m("dana", "dana", &["deployment_manager"]), m("omar", "omar", &["change_manager"])],
            policy: TeamPolicy {
                identity,
                admin_roles: vec!["deployment_manager".into()],
                plan_for_others: vec!["deployment_manager".into()],
                schedule: SchedulePolicy::default(),
            },
            time_rules: None,
        }
    }

    fn claim<'a>(env: Option<&'a str>, os_user: &'a str) -> Claim<'a> {
        Claim { env_operator: env, config_operator: None, os_user }
    }

    #[test]
    fn declared_names_count_and_say_when_they_differ_from_the_account() {
        let t = team(IdentityMode::Declared);
        let op = t.operator(claim(Some("omar"), "dana")).expect("declared");
        assert_eq!(op.name, "omar");
        assert_eq!(acted_as(op.member.expect("person"), "dana").as_deref(), Some("acted as omar from account dana"));
        let own = t.operator(claim(None, "dana")).expect("login");
        assert_eq!(acted_as(own.member.expect("person"), "dana"), None);
    }

    #[test]
    fn os_login_refuses_naming_someone_else_from_the_same_account() {
        let t = team(IdentityMode::OsLogin);
        let err = t.operator(claim(Some("omar"), "dana")).expect_err("impersonation");
        assert!(err.to_string().contains("may not act as omar"), "{err}");
        assert_eq!(t.operator(claim(Some("dana"), "dana")).expect("own name").name, "dana");
        assert_eq!(t.operator(claim(None, "omar")).expect("login").name, "omar");
    }

    #[test]
    fn someone_the_team_does_not_know_is_nobody() {
        for mode in [IdentityMode::Declared, IdentityMode::OsLogin] {
            let t = team(mode);
            let op = t.operator(claim(None, "root")).expect("resolves");
            assert_eq!((op.name.as_str(), op.member), ("root", None), "{mode}");
        }
        let t = team(IdentityMode::Declared);
        let ghost = t.operator(claim(Some("ghost"), "dana")).expect("declared");
        assert_eq!((ghost.name.as_str(), ghost.member), ("ghost", None));
    }
}
