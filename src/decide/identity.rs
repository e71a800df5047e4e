//! Who is deciding: the operator's name, their roles and the OS account they act from.
//!
//! The name comes from `SHIPDECK_OPERATOR`, else the config's `operator`, else the OS login
//! matched to a person's `login`. Only a person of the config has roles; any other name is
//! kept (so a refusal can name it) but may decide nothing. Resolved once per process by the
//! front ends, then handed to [`super::decide`] with every decision.

use crate::config::Config;
use crate::domain::gate::Decider;

/// The person a decision is made as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The name decisions are recorded under.
    pub name: String,
    /// Their roles; `None` when the name is not a person of the config.
    pub roles: Option<Vec<String>>,
    /// The OS account acting under that name, recorded beside every decision.
    pub os_user: String,
}

impl Operator {
    /// The operator of this process under `config` (see the module docs), with the OS account.
    #[must_use]
    pub fn resolve(config: &Config) -> Self {
        Self::named(config, &operator_name(config), &os_user())
    }

    /// `name` as `config` knows them, acting from `os_user`.
    #[must_use]
    pub fn named(config: &Config, name: &str, os_user: &str) -> Self {
        Self { name: name.to_owned(), roles: config.person(name).map(|p| p.roles.clone()), os_user: os_user.to_owned() }
    }

    /// Whether the name is a person of the config (only they may decide).
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

/// The operator's name under a config: `SHIPDECK_OPERATOR`, else its `operator`, else the OS
/// login matched to a person's `login` (else the login itself).
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

/// The OS account running this process.
#[must_use]
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(account_of_process)
        .unwrap_or_else(|| "unknown".into())
}

/// The account name of this process's user id, from the system's user database (services and
/// cron jobs often run without USER set).
fn account_of_process() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
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
}
