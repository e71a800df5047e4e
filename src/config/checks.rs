//! Checks across sections of a parsed config: settings that each look fine alone but leave a
//! deployment stuck together (a step listed twice, a gate nobody can satisfy, a window that is
//! no window). `config check`, the planner and the dashboard all load a config through
//! [`Config::parse`], so they all run these.
//!
//! Add a check here as one more block in [`Config::validate`]: it returns the key path of the
//! offending value (its line is found from the path) and one sentence.

use super::Config;
use crate::domain::schedule::WindowTimes;
use std::collections::HashMap;

/// A failed check: the key path and what is wrong.
pub(super) type Invalid = (String, String);

impl Config {
    /// Checks that span sections; the first problem found, naming its key.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let mut logins: HashMap<&str, &str> = HashMap::new();
        for (i, p) in self.people.iter().enumerate() {
            let Some(login) = p.login.as_deref().filter(|l| !l.is_empty()) else { continue };
            if let Some(first) = logins.insert(login, &p.name) {
                return Err((
                    format!("people[{i}].login"),
                    format!(
                        "login \"{login}\" is given to both \"{first}\" and \"{}\": the operator would be ambiguous",
                        p.name
                    ),
                ));
            }
        }
        for (i, w) in self.windows.iter().enumerate() {
            if let WindowTimes::Weekly { start, end, .. } = &w.times {
                if start == end {
                    return Err((
                        format!("windows[{i}].end"),
                        format!(
                            "window \"{}\" starts and ends at {}: give a real end (for a whole day, use 00:00 to 23:59)",
                            w.name,
                            start.format("%H:%M")
                        ),
                    ));
                }
            }
        }
        for (name, model) in &self.models {
            let key = |k: &str| format!("models.{name}.{k}");
            for (i, step) in model.steps.iter().enumerate() {
                if model.steps[..i].contains(step) {
                    return Err((
                        key(&format!("steps[{i}]")),
                        format!("step \"{step}\" appears twice in model \"{name}\": its targets could never finish"),
                    ));
                }
            }
            let gates = model
                .phases
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((format!("phases[{i}].gate"), p.name.as_str(), p.gate.as_ref()?)))
                .chain(model.switch.as_ref().map(|g| ("switch".to_owned(), "switch", g)));
            for (path, phase, gate) in gates {
                let holders = self
                    .people
                    .iter()
                    .filter(|p| gate.roles.is_empty() || p.roles.iter().any(|r| gate.roles.contains(r)))
                    .count();
                let who = if gate.roles.is_empty() {
                    "anyone configured".to_owned()
                } else {
                    format!("people holding {}", gate.roles.join(" or "))
                };
                if holders == 0 {
                    return Err((
                        key(&path),
                        format!("the gate of phase \"{phase}\" is open to {who}, but [[people]] lists nobody"),
                    ));
                }
                if usize::try_from(gate.approvals).unwrap_or(usize::MAX) > holders {
                    return Err((
                        key(&format!("{path}.approvals")),
                        format!(
                            "the gate of phase \"{phase}\" needs {} approvals but only {holders} of {who} exist: it could never open",
                            gate.approvals
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
