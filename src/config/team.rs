//! The team as gates and notifications need it: people with their roles, and stakeholder rules
//! expanded to the people they name (by name or by role).

use super::Config;
use crate::domain::gate::view::{Member, Subscription};
use crate::domain::notify::timing::Timing;
use crate::domain::team::{Team, TeamPolicy, TimeRules};

impl Config {
    /// The team this config describes, as `team sync` stores it in the log.
    #[must_use]
    pub fn team(&self) -> Team {
        Team {
            members: self.members(),
            policy: TeamPolicy {
                identity: self.identity,
                admin_roles: self.team.admin_roles.clone(),
                plan_for_others: self.team.plan_for_others.clone(),
                schedule: self.schedule.policy(),
            },
            time_rules: Some(TimeRules { windows: self.windows.clone(), freezes: self.freezes.clone() }),
        }
    }

    /// Every configured person with their roles.
    #[must_use]
    pub fn members(&self) -> Vec<Member> {
        self.people
            .iter()
            .map(|p| Member { name: p.name.clone(), roles: p.roles.clone(), login: p.login.clone() })
            .collect()
    }

    /// Who hears about which happening, one row per person, kind and environment list.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let mut out = Vec::new();
        for s in &self.stakeholders {
            let people = self
                .people
                .iter()
                .filter(|p| s.people.contains(&p.name) || p.roles.iter().any(|r| s.roles.contains(r)));
            for p in people {
                let timing = Timing {
                    quiet_hours: s.quiet_hours.clone(),
                    // Quiet hours are read on the person's wall clock.
                    zone: s
                        .quiet_hours
                        .as_ref()
                        .map(|_| p.zone.clone().unwrap_or_else(|| self.timezone.name().to_owned())),
                    digest_ms: s
                        .digest
                        .as_deref()
                        .and_then(|d| super::notify::digest_period(d).ok())
                        .map(|d| d.num_milliseconds()),
                };
                for kind in &s.notify_on {
                    out.push(Subscription {
                        person: p.name.clone(),
                        kind: kind.clone(),
                        environments: s.environments.clone(),
                        services: s.services.clone(),
                        channels: s.channels.iter().filter(|c| *c != super::notify::IN_APP).cloned().collect(),
                        timing: timing.clone(),
                    });
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stakeholder_rules_expand_to_people_by_name_and_role() {
        let c = Config::built_in();
        let subs = c.subscriptions();
        let has = |person: &str, kind: &str| subs.iter().any(|s| s.person == person && s.kind == kind);
        assert!(has("dana", "gate_pending") && has("omar", "gate_pending"), "deployment managers by role");
        assert!(has("priya", "gate_decided") && has("lee", "gate_decided"), "service owners by name");
        assert!(!has("sam", "gate_pending"));
        assert_eq!(c.members().len(), c.people.len());
    }
}
