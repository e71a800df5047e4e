//! `shipdeck team sync | show`: the team stored in the log, which every decision counts.
//!
//! `team sync` replaces the log's team (people, roles, logins, identity mode, who may change
//! the team and plan for others) and stakeholder subscriptions with the config's. Only a person
//! of the stored team holding one of its `admin_roles` may; the change, or the refusal, is in
//! the audit trail. Exit 0 stored or unchanged, 1 refused, 2 usage.

use super::{Context, Reported};
use crate::store::{Store, SyncBy, SyncOutcome, TeamError};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Replace the log's team with the config's (needs an admin role of the stored team)
    Sync,
    /// Show the team stored in the log
    Show {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Sync => sync(ctx),
        Command::Show { json } => show(ctx, *json),
    }
}

fn sync(ctx: &Context) -> anyhow::Result<i32> {
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    let operator = ctx.operator_in(&store)?;
    let has_team = store.team()?.is_some();
    if has_team && !operator.is_person() {
        return Err(Reported(format!(
            "team sync refused: \"{}\" is not a person of the log's team, so nothing is recorded in that name",
            operator.name
        ))
        .into());
    }
    let by = SyncBy::Person { name: &operator.name, os_user: &operator.os_user };
    match store.sync_team(&ctx.config.team(), &ctx.config.subscriptions(), by, ctx.clock.now()) {
        Ok(SyncOutcome::Unchanged | SyncOutcome::Kept) => {
            sayln!("the log's team already is the config's ({}): nothing changed", ctx.config.source);
            Ok(0)
        }
        Ok(SyncOutcome::Stored { audit_id, .. }) => {
            sayln!(
                "stored the team of {} in the log: {} people, identity {} (audit record {audit_id})",
                ctx.config.source,
                ctx.config.people.len(),
                ctx.config.identity
            );
            Ok(0)
        }
        Err(TeamError::Store(e)) => Err(e.into()),
        Err(refused) => Err(Reported(refused.to_string()).into()),
    }
}

fn show(ctx: &Context, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    let Some(team) = store.team()? else {
        return Err(Reported("the log holds no team yet: run `shipdeck team sync`".into()).into());
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &team)?;
        writeln!(out)?;
        return Ok(0);
    }
    let p = &team.policy;
    outln!(out, "identity: {}", p.identity)?;
    outln!(out, "may change the team: {}", p.admin_roles.join(", "))?;
    outln!(out, "may plan for others: {}", p.plan_for_others.join(", "))?;
    for m in &team.members {
        let login = m.login.as_deref().map_or(String::new(), |l| format!(" (login {l})"));
        outln!(out, "  {}{login}: {}", m.name, m.roles.join(", "))?;
    }
    Ok(0)
}
