//! `shipdeck config check|default`: validate a config file, print the built-in one.

use super::usage;
use crate::config::{BUILT_IN, Config};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a config file (default: the one shipdeck would use)
    Check {
        /// The file to check
        file: Option<PathBuf>,
    },
    /// Print the built-in default config, fully commented
    Default,
}

pub fn run(cmd: &Command, configured: Option<&Path>) -> anyhow::Result<i32> {
    match cmd {
        Command::Default => {
            print!("{BUILT_IN}");
            Ok(0)
        }
        Command::Check { file } => {
            let c = Config::load(file.as_deref().or(configured)).map_err(|e| usage(e.to_string()))?;
            // Deployment model testing: every model on the edge cases of a fleet.
            let mut refused = Vec::new();
            for (name, model) in &c.models {
                let cases = crate::domain::rehearsal::rehearse(model);
                if cases.iter().any(|case| case.problem.is_some()) {
                    super::models::print(&mut std::io::stderr().lock(), name, model, &cases)?;
                    refused.push(name.as_str());
                }
            }
            if !refused.is_empty() {
                return Err(usage(format!(
                    "{}: model(s) {} would produce an empty phase or a phase over its budget (see `shipdeck models test MODEL`)",
                    c.source,
                    refused.join(", ")
                )));
            }
            let models: Vec<&str> = c.models.keys().map(String::as_str).collect();
            println!(
                "ok: {} ({}, {}, models: {}, {}, {}, zone {})",
                c.source,
                count(c.people.len(), "person", "people"),
                count(c.stakeholders.len(), "stakeholder rule", "stakeholder rules"),
                models.join(", "),
                count(c.windows.len(), "window", "windows"),
                count(c.freezes.len(), "freeze", "freezes"),
                c.timezone
            );
            Ok(0)
        }
    }
}

/// `1 freeze`, `2 freezes`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
