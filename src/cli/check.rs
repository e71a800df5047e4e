//! `shipdeck check KEY ITEM [--evidence E] [--failed]`: tick a checklist item.
//!
//! Ticking is a decision like an approval, taken through the one decision path
//! (`crate::decide`): the operator must be a person of the team, hold one of the item's roles
//! and give evidence where the item requires it. Exit 0 when recorded, 1 naming the rule that
//! refused it, 2 for a usage error (an unknown deployment or item).

use super::{Context, Reported, usage};
use crate::decide::{Operator, Rules, TickAsk, TickFailure, checklist};
use crate::domain::DeploymentKey;
use crate::store::Store;

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
    let ask = TickAsk { key, item: a.item.clone(), evidence: a.evidence.clone(), failed: a.failed };
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    let operator = Operator::resolve(&ctx.config, &store)?;
    let rules = Rules::from_config(&ctx.config);
    let ticked = checklist::tick(&mut store, &rules, &operator, &ask, ctx.clock.now()).map_err(|e| match e {
        TickFailure::Store { source, .. } => (*source).into(),
        TickFailure::Ask(t) => usage(t.to_string()),
        refused @ (TickFailure::NotAPerson { .. } | TickFailure::Refused { .. }) => {
            Reported(refused.to_string()).into()
        }
    })?;
    sayln!("{ticked}");
    Ok(0)
}
