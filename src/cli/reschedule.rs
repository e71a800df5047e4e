//! `shipdeck reschedule KEY --start T [--reason R] [--force]`: moves the planned start of a
//! deployment that has not started, checked against the change calendar like `plan --start`.
//! Exit 0 moved, 1 refused (conflicts, or not allowed), 2 usage.

use super::{Context, Reported, usage};
use crate::decide::schedule::{self as scheduling, Proposal};
use crate::domain::DeploymentKey;
use crate::store::{Change, ScheduleError, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// The new planned start: RFC 3339, YYYY-MM-DDTHH:MM in the configured zone, or `next`
    #[arg(long, value_name = "TIME|next")]
    start: String,
    /// Why it moves (kept in the audit trail; needed with --force)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Move it even though the new start conflicts (needs --reason and a role allowed to override)
    #[arg(long)]
    force: bool,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let now = ctx.clock.now();
    if args.force && args.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(usage("--force needs a written --reason"));
    }
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    let operator = ctx.operator_in(&store)?;
    let summary = store.summary(key)?;
    let targets = store.target_names(key)?;
    let model = ctx.config.model(&summary.model).map_err(usage)?;
    let inventory = targets.clone().into();
    let length = scheduling::run_length(&store, &ctx.config, &summary.model, model, &inventory)?;
    let proposal = Proposal {
        key: Some(key),
        service: &summary.release,
        environment: &summary.environment,
        targets: &targets,
        length,
    };
    let start = if args.start == "next" {
        scheduling::next(&store, &ctx.config, &proposal, now)?
            .0
            .ok_or_else(|| Reported(format!("reschedule refused: no free slot for {key} within the horizon")))?
    } else {
        let t = scheduling::parse_time("--start", &args.start, ctx.config.timezone).map_err(usage)?;
        if t < now - chrono::TimeDelta::minutes(1) {
            return Err(usage(format!("--start \"{}\" is in the past", args.start)));
        }
        t
    };
    let found = scheduling::conflicts(&store, &ctx.config, &proposal, start)?;
    let mut over = None;
    if !found.is_empty() {
        for c in &found {
            esayln!("conflict: {}", c.describe(ctx.config.timezone));
        }
        if !args.force {
            return Err(Reported(format!(
                "reschedule of {key} refused: {} conflict(s) with the change calendar (--force --reason R with a role allowed to override)",
                found.len()
            ))
            .into());
        }
        let role = scheduling::override_role(&store, &operator)
            .map_err(|e| Reported(format!("reschedule --force refused: {e}")))?;
        over = Some((role, scheduling::as_json(&found)));
    }
    let by = Change { person: &operator.name, os_user: &operator.os_user, reason: args.reason.as_deref(), now };
    match store.reschedule(key, start, start + length, by, over.as_ref().map(|(r, j)| (r.as_str(), j))) {
        Ok(id) => {
            let zone = ctx.config.timezone;
            sayln!("rescheduled {key}: starts {} (audit record {id})", crate::domain::time::at(start, zone));
            Ok(0)
        }
        Err(e) => Err(schedule_error(e)),
    }
}

/// A calendar change that failed, as the exit code wants it.
pub fn schedule_error(e: ScheduleError) -> anyhow::Error {
    match e {
        ScheduleError::Store(e) => e.into(),
        ScheduleError::Refused(text) => Reported(text).into(),
        ScheduleError::Input(text) => usage(text),
    }
}
