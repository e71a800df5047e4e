//! `shipdeck switch KEY [--back]`: the switch-over of a parallel (blue/green) deployment.
//!
//! Switching over approves the gate of the deployment's `switch` phase (traffic goes to the new
//! set); `--back` rolls that phase back (traffic returns to the old set, while it is kept).
//! Both are ordinary decisions: the same policy check, audit trail, notifications and
//! `--dry-run` preview as `approve` and `rollback`, through [`crate::decide`].

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::parallel::SwitchState;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parallel deployment (DEP-<n>)
    key: String,
    /// Switch traffic back to the old set (a rollback; possible while the old set is kept)
    #[arg(long)]
    back: bool,
    /// A comment kept in the audit trail (what the comparison of both sets showed)
    #[arg(long)]
    comment: Option<String>,
    /// Why: a switch during a freeze needs one (and a freeze override role); kept with a switch back
    #[arg(long)]
    reason: Option<String>,
    /// Check the decision and print who it would notify, over which channels, without writing
    #[arg(long)]
    dry_run: bool,
}

pub fn run(ctx: &Context, a: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = a.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let switch = {
        let store = Store::open_existing(&ctx.db_path()?)?;
        store.switchover(key)?.ok_or_else(|| {
            usage(format!("{key} is not a parallel (blue/green) deployment, so it has no switch-over"))
        })?
    };
    let decision = if a.back { Decision::Rollback } else { Decision::Approve };
    let code = super::approve::record(
        ctx,
        (decision, a.dry_run, &super::remote::Remote::default()),
        &a.key,
        &switch.phase,
        a.comment.as_deref(),
        a.reason.as_deref(),
    )?;
    if a.dry_run {
        return Ok(code);
    }
    let store = Store::open_existing(&ctx.db_path()?)?;
    if let Some(now) = store.switchover(key)? {
        let tz = ctx.config.timezone;
        let text = match now.state(ctx.clock.now()) {
            SwitchState::Switched => format!(
                "traffic goes to the new set ({}, {} target(s)); the old set ({} target(s)) is kept until {}",
                now.new_set,
                now.new_targets,
                now.old_targets.len(),
                now.old_kept_until().map_or_else(String::new, |u| crate::domain::time::until(u, tz))
            ),
            SwitchState::SwitchedBack => {
                format!("traffic goes back to the old set ({} target(s))", now.old_targets.len())
            }
            SwitchState::Before => "traffic stays on the old set until the switch gate is approved".to_owned(),
            SwitchState::Released => "the old set is released".to_owned(),
        };
        sayln!("{text}");
    }
    Ok(code)
}
