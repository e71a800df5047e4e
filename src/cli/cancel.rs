//! `shipdeck cancel KEY --reason R`: cancels a deployment that has not started (it ends
//! `aborted`), as its requester or someone allowed to plan for others. Audited; the requester is
//! told. Exit 0 cancelled, 1 refused, 2 usage (unknown key, already started).

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::store::{Change, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// Why it is cancelled (kept in the audit trail)
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    if args.reason.trim().is_empty() {
        return Err(usage("--reason must say why the deployment is cancelled"));
    }
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    let operator = ctx.operator_in(&store)?;
    let by =
        Change { person: &operator.name, os_user: &operator.os_user, reason: Some(&args.reason), now: ctx.clock.now() };
    let id = store.cancel(key, by).map_err(super::reschedule::schedule_error)?;
    sayln!("cancelled {key} (aborted before it started; audit record {id})");
    Ok(0)
}
