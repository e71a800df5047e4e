//! `shipdeck approve | reject | retry | abort | rollback KEY PHASE`: record a decision.
//!
//! Who decides, the check and the wording are [`crate::decide`]'s, shared with the dashboard
//! and the demo; this file parses the arguments and maps the result to exit codes: 0 when
//! recorded, 1 naming the rule that refused it, 2 for a usage error.

use super::remote::Remote;
use super::{Context, Reported, usage};
use crate::decide::{Ask, DecideError, Rules, decide};
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::store::{GateError, Store};

/// `approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The phase whose gate to approve
    phase: String,
    /// A comment kept in the audit trail
    #[arg(long)]
    comment: Option<String>,
    /// Written reason for approving during a freeze (needs a freeze override role)
    #[arg(long)]
    reason: Option<String>,
    /// Check the decision and print who it would notify, over which channels, without writing
    #[arg(long, conflicts_with = "server")]
    dry_run: bool,
    #[command(flatten)]
    remote: Remote,
}

/// `reject`.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The phase whose gate to reject
    phase: String,
    /// Why (required): the requester and the audit trail see it
    #[arg(long)]
    reason: String,
    /// A comment kept in the audit trail
    #[arg(long)]
    comment: Option<String>,
    /// Check the decision and print who it would notify, over which channels, without writing
    #[arg(long, conflicts_with = "server")]
    dry_run: bool,
    #[command(flatten)]
    remote: Remote,
}

/// `retry`.
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The failed phase
    phase: String,
    /// A comment kept in the audit trail
    #[arg(long)]
    comment: Option<String>,
    /// Written reason for retrying during a freeze (needs a freeze override role)
    #[arg(long)]
    reason: Option<String>,
    /// Check the decision and print who it would notify, over which channels, without writing
    #[arg(long, conflicts_with = "server")]
    dry_run: bool,
    #[command(flatten)]
    remote: Remote,
}

/// `abort` and `rollback`: no time rule holds them back, so the reason is only kept.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The failed phase
    phase: String,
    /// A comment kept in the audit trail
    #[arg(long)]
    comment: Option<String>,
    /// Why it is stopped, kept in the audit trail
    #[arg(long)]
    reason: Option<String>,
    /// Check the decision and print who it would notify, over which channels, without writing
    #[arg(long, conflicts_with = "server")]
    dry_run: bool,
    #[command(flatten)]
    remote: Remote,
}

pub fn approve(ctx: &Context, a: &ApproveArgs) -> anyhow::Result<i32> {
    record(ctx, (Decision::Approve, a.dry_run, &a.remote), &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

pub fn reject(ctx: &Context, a: &RejectArgs) -> anyhow::Result<i32> {
    record(ctx, (Decision::Reject, a.dry_run, &a.remote), &a.key, &a.phase, a.comment.as_deref(), Some(&a.reason))
}

pub fn recover(ctx: &Context, decision: Decision, a: &RecoverArgs) -> anyhow::Result<i32> {
    record(ctx, (decision, a.dry_run, &a.remote), &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

pub fn stop(ctx: &Context, decision: Decision, a: &StopArgs) -> anyhow::Result<i32> {
    record(ctx, (decision, a.dry_run, &a.remote), &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

/// Maps gate errors: refusals exit 1, unknown phases and gates are usage errors (2).
pub fn gate_error(e: GateError, what: &str, tz: chrono_tz::Tz) -> anyhow::Error {
    match e {
        GateError::Refused(r) => Reported(format!("{what} refused: {}", r.describe(tz))).into(),
        GateError::Store(s) => s.into(),
        other @ (GateError::UnknownPhase { .. } | GateError::NoGate { .. }) => usage(other.to_string()),
        other @ (GateError::NotInTeam(_) | GateError::Corrupt { .. }) => Reported(other.to_string()).into(),
    }
}

/// Maps a decision's failure to the exit codes: refusals 1, a wrong ask 2, the log's own
/// errors as the log says (a missing log or unknown deployment is 2).
fn decide_error(e: DecideError) -> anyhow::Error {
    match e {
        DecideError::Store { source, .. } => source.into(),
        DecideError::Ask(g) => usage(g.to_string()),
        refused @ (DecideError::NotAPerson { .. }
        | DecideError::Refused { .. }
        | DecideError::Team(_)
        | DecideError::Damaged { .. }) => Reported(refused.to_string()).into(),
    }
}

pub(super) fn record(
    ctx: &Context,
    (decision, dry_run, remote): (Decision, bool, &Remote),
    key: &str,
    phase: &str,
    comment: Option<&str>,
    reason: Option<&str>,
) -> anyhow::Result<i32> {
    let key: DeploymentKey = key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let ask = Ask {
        key,
        phase: phase.to_owned(),
        decision,
        comment: comment.map(str::to_owned),
        reason: reason.map(str::to_owned),
    };
    if let Some(server) = &remote.server {
        return super::remote::decide(remote, server, &ask);
    }
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    let operator = ctx.operator_in(&store)?;
    let rules = Rules::from_config(&ctx.config);
    if dry_run {
        let (recorded, told) =
            crate::decide::preview(&mut store, &rules, &operator, &ask, ctx.clock.now()).map_err(decide_error)?;
        sayln!("dry run, nothing written: {}", recorded.to_string().replacen("recorded: ", "would record: ", 1));
        for line in crate::decide::told_lines(&told) {
            sayln!("  would notify {line}");
        }
        return Ok(0);
    }
    let recorded = decide(&mut store, &rules, &operator, &ask, ctx.clock.now()).map_err(decide_error)?;
    sayln!("{recorded}");
    Ok(0)
}
