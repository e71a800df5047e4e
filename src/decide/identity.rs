//! Who is deciding: the operator's name, their roles and the OS account they act from.
//!
//! The claim comes from `SHIPDECK_OPERATOR`, else the config's `operator`, else the OS login;
//! it is resolved against the team stored in the log ([`crate::domain::team`]), never against
//! the caller's config: in `declared` mode the name counts, in `os-login` mode only the OS
//! login does and naming someone else is refused. Anyone the log's team does not know is
//! nobody: they are told so once, up front, and nothing is recorded in their name. Resolved
//! once per process by the front ends, then handed to [`super::decide`] with every decision
//! (the store reads the person's roles again in the transaction that records it).

use crate::config::Config;
use crate::domain::gate::Decider;
use crate::domain::team::{Claim, IdentityError, Team};
use crate::store::Store;

/// The person a decision is made as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The name decisions are recorded under.
    pub name: String,
    /// Their roles in the log's team; `None` when the name is not a person of it.
    pub roles: Option<Vec<String>>,
    /// The OS account acting under that name, recorded beside every decision.
    pub os_user: String,
    /// Said once, up front, when the operator is nobody the log's team knows.
    pub notice: Option<String>,
}

/// The log holds no team: nobody is anybody yet.
const NO_TEAM: &str =
    "the log holds no team yet: run `shipdeck team sync` (or plan a deployment) to store the config's team";

impl Operator {
    /// The operator of this process under the team stored in `store` (see the module docs).
    pub fn resolve(config: &Config, store: &Store) -> anyhow::Result<Self> {
        let team = store.team()?;
        // The account is the process's real user id, in every mode: an environment variable
        // anyone can set would let a declared name's flags be dodged.
        let os_user = os_user();
        let env = std::env::var("SHIPDECK_OPERATOR").ok();
        let claim =
            Claim { env_operator: env.as_deref(), config_operator: config.operator.as_deref(), os_user: &os_user };
        Ok(Self::under(team.as_ref(), claim)?)
    }

    /// The operator a claim is under `team` (`None`: the log holds no team).
    pub fn under(team: Option<&Team>, claim: Claim<'_>) -> Result<Self, IdentityError> {
        let Some(team) = team else {
            let name = claim.env_operator.or(claim.config_operator).filter(|n| !n.is_empty()).unwrap_or(claim.os_user);
            return Ok(Self {
                name: name.to_owned(),
                roles: None,
                os_user: claim.os_user.to_owned(),
                notice: Some(NO_TEAM.to_owned()),
            });
        };
        let resolved = team.operator(claim)?;
        let notice = resolved.member.is_none().then(|| {
            format!(
                "\"{}\" (OS account {}) is not a person of the log's team: nothing is recorded in that name; set SHIPDECK_OPERATOR or `operator` to your name{}",
                resolved.name,
                claim.os_user,
                if team.policy.identity == crate::domain::team::IdentityMode::OsLogin {
                    " — identity is \"os-login\", so your login must be a person's `login`"
                } else {
                    ""
                }
            )
        });
        Ok(Self {
            name: resolved.name.clone(),
            roles: resolved.member.map(|m| m.roles.clone()),
            os_user: claim.os_user.to_owned(),
            notice,
        })
    }

    /// `name` as `config` knows them, acting from `os_user` (the demo and tests, whose log's
    /// team is their config's).
    #[must_use]
    pub fn named(config: &Config, name: &str, os_user: &str) -> Self {
        Self {
            name: name.to_owned(),
            roles: config.person(name).map(|p| p.roles.clone()),
            os_user: os_user.to_owned(),
            notice: None,
        }
    }

    /// Whether the name is a person of the team (only they may decide).
    #[must_use]
    pub fn is_person(&self) -> bool {
        self.roles.is_some()
    }

    /// The person as gate rules see them (no roles when not a person).
    #[must_use]
    pub fn decider(&self) -> Decider<'_> {
        Decider { name: &self.name, roles: self.roles.as_deref().unwrap_or(&[]) }
    }
}

/// The name the operator claims under a config: `SHIPDECK_OPERATOR`, else its `operator`, else
/// the OS login matched to a person's `login` (else the login itself).
#[must_use]
pub fn operator_name(config: &Config) -> String {
    std::env::var("SHIPDECK_OPERATOR")
        .ok()
        .filter(|o| !o.is_empty())
        .or_else(|| config.operator.clone())
        .or_else(|| {
            let login = os_user();
            config.people.iter().find(|p| p.login.as_deref() == Some(login.as_str())).map(|p| p.name.clone())
        })
        .unwrap_or_else(os_user)
}

/// The OS account running this process: its real user id's name in the system's user
/// database (`uid N` when the database has none). Never `USER` or `LOGNAME`, which the caller
/// sets as they like.
#[must_use]
pub fn os_user() -> String {
    let Some(uid) = real_uid() else { return "unknown".into() };
    account_of(uid)
}

/// The name of user id `uid` in the system's user database (`uid N` when it has none).
#[must_use]
pub fn account_of(uid: u32) -> String {
    account_named(&uid.to_string(), &std::fs::read_to_string("/etc/passwd").unwrap_or_default())
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The id of group `name` in the system's group database.
#[must_use]
pub fn group_id(name: &str) -> Option<u32> {
    group_named(name, &std::fs::read_to_string("/etc/group").ok()?)
}

/// The id of group `name` in a group database's text.
fn group_named(name: &str, groups: &str) -> Option<u32> {
    groups.lines().find_map(|l| {
        let mut fields = l.split(':');
        (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
    })
}

/// The real user id of this process, as the kernel reports it.
#[must_use]
pub fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// The name of user id `uid` in a passwd database's text.
fn account_named(uid: &str, passwd: &str) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_person_has_their_roles_and_anyone_else_none() {
        let config = Config::built_in();
        let dana = Operator::named(&config, "dana", "d");
        assert!(dana.is_person());
        assert_eq!(dana.decider().roles, config.person("dana").map(|p| p.roles.as_slice()).unwrap_or_default());
        let stranger = Operator::named(&config, "mallory", "m");
        assert!(!stranger.is_person());
        assert!(stranger.decider().roles.is_empty());
        assert_eq!(stranger.os_user, "m");
    }

    #[test]
    fn the_os_account_is_the_user_id_s_name_in_the_passwd_database() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nomar:x:1001:1001::/home/omar:/bin/sh\nrita:x:1002:1002::/home/rita:/bin/sh\n";
        assert_eq!(account_named("1002", passwd).as_deref(), Some("rita"));
        assert_eq!(account_named("0", passwd).as_deref(), Some("root"));
        assert_eq!(account_named("1003", passwd), None);
    }

    #[test]
    fn a_group_is_found_by_its_name_only() {
        let groups = "root:x:0:\ndeployers:x:1500:rita,omar\nrita:x:1002:\n";
        assert_eq!(group_named("deployers", groups), Some(1500));
        assert_eq!(group_named("1500", groups), None);
        assert_eq!(group_named("deploy", groups), None);
    }
}
