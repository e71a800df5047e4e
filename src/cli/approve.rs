//! `shipdeck approve | reject | retry | abort | rollback KEY PHASE`: record a decision.
//!
//! The operator (`SHIPDECK_OPERATOR`, else the config's `operator`, else the OS login matched
//! to a person) must be a person in the config; their roles come from there and the OS account
//! is recorded beside the name. The policy is checked in the transaction that records the
//! decision: exit 0 when recorded, 1 naming the rule that refused it, 2 for a usage error.

use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::gate::{Decision, GateState};
use crate::store::{DecisionRequest, GateError, Store};

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
}

pub fn approve(ctx: &Context, a: &ApproveArgs) -> anyhow::Result<i32> {
    record(ctx, Decision::Approve, &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

pub fn reject(ctx: &Context, a: &RejectArgs) -> anyhow::Result<i32> {
    record(ctx, Decision::Reject, &a.key, &a.phase, a.comment.as_deref(), Some(&a.reason))
}

pub fn recover(ctx: &Context, decision: Decision, a: &RecoverArgs) -> anyhow::Result<i32> {
    record(ctx, decision, &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

pub fn stop(ctx: &Context, decision: Decision, a: &StopArgs) -> anyhow::Result<i32> {
    record(ctx, decision, &a.key, &a.phase, a.comment.as_deref(), a.reason.as_deref())
}

/// Opens the log for writing decisions, with the config's team copied in.
pub fn open_with_team(ctx: &Context) -> anyhow::Result<Store> {
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    store.sync_team(&ctx.config.members(), &ctx.config.subscriptions())?;
    Ok(store)
}

/// Maps gate errors: refusals exit 1, unknown phases and gates are usage errors (2).
pub fn gate_error(e: GateError, what: &str, tz: chrono_tz::Tz) -> anyhow::Error {
    match e {
        GateError::Refused(r) => Reported(format!("{what} refused: {}", r.describe(tz))).into(),
        GateError::Store(s) => s.into(),
        other @ (GateError::UnknownPhase { .. } | GateError::NoGate { .. }) => usage(other.to_string()),
    }
}

fn record(
    ctx: &Context,
    decision: Decision,
    key: &str,
    phase: &str,
    comment: Option<&str>,
    reason: Option<&str>,
) -> anyhow::Result<i32> {
    let key: DeploymentKey = key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let name = ctx.operator();
    let what = format!("{decision} of {key} {phase} by {name}");
    let Some(person) = ctx.config.person(&name) else {
        return Err(Reported(format!(
            "{what} refused: \"{name}\" is not a person in the config's [[people]] (set SHIPDECK_OPERATOR or `operator` to your name)"
        ))
        .into());
    };
    let mut store = open_with_team(ctx)?;
    let os_user = super::os_user();
    let req = DecisionRequest {
        key,
        phase,
        decision,
        person: &person.name,
        roles: &person.roles,
        os_user: &os_user,
        comment,
        reason,
        windows: &ctx.config.windows,
        freezes: &ctx.config.freezes,
        now: ctx.clock.now(),
    };
    let out = store.decide(&req).map_err(|e| gate_error(e, &what, ctx.config.timezone))?;
    let a = &out.allowed;
    let role = a.role.as_deref().map_or(String::new(), |r| format!(" as {r}"));
    let effect = match decision {
        Decision::Approve if a.after == GateState::Approved => {
            format!("gate approved ({} of {})", a.approvals, a.required)
        }
        Decision::Approve => {
            format!("{} of {} approvals, {} missing", a.approvals, a.required, a.required - a.approvals)
        }
        _ => format!("deployment {}", out.deployment_status),
    };
    let freeze = a.freeze_override.as_deref().map_or(String::new(), |f| format!(", overriding freeze \"{f}\""));
    println!("recorded: {key} {phase} {decision} by {name}{role}{freeze}: {effect} (audit record {})", out.audit_id);
    Ok(0)
}
