//! `shipdeck check KEY ITEM [--evidence E] [--failed]`: tick a checklist item.
//!
//! Ticking is a decision like an approval: the operator must be a person of the team, hold one
//! of the item's roles and give evidence where the item requires it. The rule is checked in the
//! transaction that records the tick and its audit record; exit 0 when recorded, 1 naming the
//! rule that refused it, 2 for a usage error (an unknown deployment or item).

use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::store::{TickError, TickRequest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// The checklist item's id (see `shipdeck status KEY`)
    item: String,
    /// A note or a link that shows the check was made
    #[arg(long, value_name = "NOTE_OR_URL")]
    evidence: Option<String>,
    /// The check was made and did not pass (a failed `post` item fails the deployment)
    #[arg(long)]
    failed: bool,
}

pub fn run(ctx: &Context, a: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = a.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let name = ctx.operator();
    let what = format!("check of {key} {} by {name}", a.item);
    let Some(person) = ctx.config.person(&name) else {
        return Err(Reported(format!(
            "{what} refused: \"{name}\" is not a person in the config's [[people]] (set SHIPDECK_OPERATOR or `operator` to your name)"
        ))
        .into());
    };
    let mut store = super::approve::open_with_team(ctx)?;
    let os_user = super::os_user();
    let req = TickRequest {
        key,
        item: &a.item,
        person: &person.name,
        roles: &person.roles,
        os_user: &os_user,
        evidence: a.evidence.as_deref(),
        failed: a.failed,
        now: ctx.clock.now(),
    };
    let out = store.tick(&req).map_err(|e| match e {
        TickError::Refused(r) => Reported(format!("{what} refused: {r}")).into(),
        TickError::Store(s) => s.into(),
        other @ TickError::UnknownItem { .. } => usage(other.to_string()),
    })?;
    println!(
        "recorded: {key} {} {} by {name} as {}: deployment {} (audit record {})",
        out.item.id, out.item.state, out.role, out.deployment_status, out.audit_id
    );
    Ok(0)
}
