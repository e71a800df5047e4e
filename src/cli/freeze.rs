//! `shipdeck freeze add | end | list`: emergency freezes declared at run time, without editing
//! the config. They are stored in the log and hold for every process from their commit on
//! (decisions, the receiver's conformance flags, the dashboard). Only a person of the log's team
//! holding one of `[schedule] freeze_roles` may declare or end one; audited either way.

use super::{Context, usage};
use crate::decide::schedule::parse_time;
use crate::store::{Change, FreezeRequest, Store};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Declare an emergency freeze of an environment, from now (or --from) until a time
    Add {
        /// The environment to freeze (repeatable; declared in [[environments]])
        #[arg(long = "env", value_name = "ENV", required = true)]
        envs: Vec<String>,
        /// When it ends: RFC 3339 or YYYY-MM-DDTHH:MM in the configured zone
        #[arg(long, value_name = "TIME")]
        until: String,
        /// When it starts [default: now]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Why (shown with every refusal it causes)
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Its name [default: emergency-<date>-<time>]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// End an emergency freeze now
    End {
        /// The freeze's name
        name: String,
        /// Why it ends (kept in the audit trail)
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List the emergency freezes in the log
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// Whether the command writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        !matches!(self, Self::List { .. })
    }
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    let zone = ctx.config.timezone;
    let now = ctx.clock.now();
    match cmd {
        Command::Add { envs, until, from, reason, name } => {
            for e in envs {
                ctx.config.environment(e).map_err(usage)?;
            }
            if reason.trim().is_empty() {
                return Err(usage("--reason must say why the environment is frozen"));
            }
            let from = match from {
                Some(f) => parse_time("--from", f, zone).map_err(usage)?,
                None => now,
            };
            let until_t = parse_time("--until", until, zone).map_err(usage)?;
            if until_t <= from {
                return Err(usage(format!("--until \"{until}\" is not after the freeze's start")));
            }
            if until_t <= now {
                return Err(usage(format!("--until \"{until}\" is in the past")));
            }
            let name = name
                .clone()
                .unwrap_or_else(|| format!("emergency-{}", from.with_timezone(&zone).format("%Y%m%d-%H%M")));
            let mut store = Store::open_existing(&ctx.db_path()?)?;
            store.set_zone(zone);
            let operator = ctx.operator_in(&store)?;
            let req = FreezeRequest {
                name: &name,
                environments: envs,
                from,
                until: until_t,
                reason,
                person: &operator.name,
                os_user: &operator.os_user,
                now,
            };
            let id = store.declare_freeze(&req).map_err(super::reschedule::schedule_error)?;
            sayln!(
                "emergency freeze \"{name}\" on {} until {} (audit record {id})",
                envs.join(", "),
                crate::domain::time::until(until_t, zone)
            );
            Ok(0)
        }
        Command::End { name, reason } => {
            let mut store = Store::open_existing(&ctx.db_path()?)?;
            let operator = ctx.operator_in(&store)?;
            let by = Change { person: &operator.name, os_user: &operator.os_user, reason: reason.as_deref(), now };
            let id = store.end_freeze(name, by).map_err(super::reschedule::schedule_error)?;
            sayln!("emergency freeze \"{name}\" ended (audit record {id})");
            Ok(0)
        }
        Command::List { json } => {
            let store = ctx.open_log()?;
            let freezes = store.emergency_freezes()?;
            let mut out = std::io::stdout().lock();
            if *json {
                serde_json::to_writer_pretty(&mut out, &freezes)?;
                writeln!(out)?;
                return Ok(0);
            }
            for f in &freezes {
                let at = |t: chrono::DateTime<chrono::Utc>| crate::domain::time::until(t, zone);
                let state = if f.active_at(now) {
                    "IN FORCE"
                } else if f.from > now {
                    "upcoming"
                } else {
                    "over"
                };
                outln!(
                    out,
                    "{}  {}  {} → {}  {state}  {}",
                    f.name,
                    f.environments.join(","),
                    at(f.from),
                    at(f.until),
                    f.reason
                )?;
            }
            if freezes.is_empty() {
                outln!(out, "no emergency freezes")?;
            }
            Ok(0)
        }
    }
}
