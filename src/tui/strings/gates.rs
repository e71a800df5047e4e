//! Wording of the Approvals and Notifications views and the confirm dialog. What a decision's
//! result says is [`crate::decide`]'s, the same words as the CLI.

use crate::domain::DeploymentKey;
use crate::domain::gate::view::{ActionItem, ActionKind};
use crate::domain::gate::{Decision, Refusal};

pub const APPROVALS: &str = "Needs you";
pub const OTHERS: &str = "others";
/// Entries that are the operator's once a bake time, window or freeze allows.
pub const LATER: &str = "later";
pub const NOTIFICATIONS: &str = "Notifications for";
pub const UNREAD: &str = "unread";
/// Beside the Approvals tab: entries the operator can act on now (the list's "Needs you").
pub const NEED_YOU: &str = "need you";
/// The box of reviews owed and overdue actions, below the gates.
pub const FOLLOW_UPS: &str = "Reviews and actions";
pub const REVIEW_OWED: &str = "review owed";
pub const OVERDUE: &str = "overdue";
pub const AGO: &str = "ago";
/// Under a selected review or action: what Enter does.
pub const FOLLOW_UP_OPEN: &str = "Enter: the deployment's drill-down (its report and review) · Esc: back here";

/// `2 reviews owed`.
#[must_use]
pub fn owed_count(n: usize) -> String {
    format!("{n} review{} owed", if n == 1 { "" } else { "s" })
}

/// `1 action overdue`.
#[must_use]
pub fn overdue_count(n: usize) -> String {
    format!("{n} action{} overdue", if n == 1 { "" } else { "s" })
}

/// The header's counts of reviews owed and actions overdue, longest first (`2 reviews owed  1
/// action overdue`, `2 owed · 1 overdue`, `✎2 !1`); empty strings when both are zero.
#[must_use]
pub fn follow_up_counts(owed: usize, overdue: usize) -> [String; 3] {
    let join = |a: String, b: String, sep: &str| match (owed > 0, overdue > 0) {
        (true, true) => format!("{a}{sep}{b}"),
        (true, false) => a,
        (false, true) => b,
        (false, false) => String::new(),
    };
    [
        join(owed_count(owed), overdue_count(overdue), "  "),
        join(format!("{owed} owed"), format!("{overdue} overdue"), " · "),
        join(format!("✎{owed}"), format!("!{overdue}"), " "),
    ]
}
/// Beside a notification whose gate was decided since.
pub const SETTLED: &str = "settled";
/// Under an opened notification.
pub const NOTE_CLOSE: &str = "Enter or Esc closes";
/// The confirm dialog's preview of who is told.
pub const WILL_NOTIFY: &str = "Will notify:";
pub const PREVIEW_LOADING: &str = "Will notify: (working it out...)";
pub const PREVIEW_REFUSED: &str = "Will notify: nobody, as it stands:";
pub const NOBODY_TOLD: &str = "Will notify: nobody";
/// Deliveries of an opened notification.
pub const DELIVERIES: &str = "Delivery:";
pub const IN_APP_READ: &str = "in_app: read";
pub const IN_APP_UNREAD: &str = "in_app: unread";
/// The header's count of deliveries that failed for good.
pub const FAILED_DELIVERIES: &str = "failed deliveries";

/// One line of the preview: who, about what, over which channels.
#[must_use]
pub fn told(t: &crate::domain::notify::Told) -> String {
    format!("  {} ({}) via {}", t.person, t.kind, t.channels.join(", "))
}

/// A delivery's short mark in the list: `hook ✓`, `hook ↻2/6`, `mail ✗`, `pager …`.
#[must_use]
pub fn delivery_mark(d: &crate::domain::notify::Delivery) -> String {
    use crate::domain::notify::DeliveryState as S;
    let of = d.max_attempts.map_or_else(|| d.attempts.to_string(), |m| format!("{}/{m}", d.attempts));
    match d.state {
        S::Sent => format!("{} ✓", d.channel),
        S::Failed => format!("{} ✗", d.channel),
        S::Retrying => format!("{} ↻{of}", d.channel),
        S::Queued | S::Sending => format!("{} …", d.channel),
    }
}
pub const LOADING: &str = "reading the gates...";
pub const EMPTY: &str = "Nothing needs a decision: no pending gate and no failed phase.";
pub const NO_NOTIFICATIONS: &str =
    "No notifications yet. Gates that open and decisions on your deployments show up here.";
pub const NO_OPERATOR: &str = "the dashboard has no operator to decide as";
pub const LIST_HEADER: [&str; 7] = ["", "KEY", "RELEASE", "ENV", "PHASE", "AGE", "STATUS"];
pub const READY: &str = "ready";
pub const NOT_YOURS: &str = "not yours";
pub const SENDING: &str = "recording...";
pub const CONFIRM_HINT: &str = "Enter confirm · Esc cancel";
pub const COMMENT: &str = "Comment (optional):";
pub const REASON: &str = "Reason (required):";
pub const BEFORE: &str = "Before:";
pub const FAILED: &str = "Failed:";
pub const APPROVALS_SO_FAR: &str = "Approvals:";
pub const ANALYSIS: &str = "Analysis:";
/// How the canary analysis decides, under its numbers in the Approvals view.
pub const ANALYSIS_RULE: &str = "shipdeck (analysis) approves once every rule passes and the bake is over; a failed rule \
halts the deployment. Your approval over it is recorded as an override.";

/// The warning for a metric no agent reports: never a silent pass.
#[must_use]
pub fn analysis_missing(metric: &str) -> String {
    format!("⚠ no agent reports \"{metric}\" for the canary and the baseline: never approved automatically")
}
pub const POLICY: &str = "Policy:";
pub const MISSING: &str = "Missing:";
pub const NEXT: &str = "Next:";
pub const RETRY: &str = "Retry:";
pub const YOU: &str = "You:";
pub const NONE_YET: &str = "none yet";
pub const NOTHING_MISSING: &str = "nothing, it can be decided now";
pub const NO_ETA: &str = "no ETA (no phase of this model has succeeded yet)";

#[must_use]
pub fn not_offered(decision: Decision, item: &ActionItem) -> String {
    let offers: Vec<&str> = item.offers.iter().map(|d| d.as_str()).collect();
    format!("cannot {decision} {} {}: it offers {}", item.deployment, item.phase, offers.join(", "))
}

#[must_use]
pub fn cannot(decision: Decision, refusal: &Refusal, tz: chrono_tz::Tz) -> String {
    format!("cannot {decision}: {}", refusal.describe(tz))
}

#[must_use]
pub fn reason_required(decision: Decision) -> &'static str {
    match decision {
        Decision::Reject => "a rejection needs a reason: type it, then Enter",
        _ => "overriding the freeze needs a written reason: type it, then Enter",
    }
}

/// The dialog's title.
#[must_use]
pub fn dialog_title(decision: Decision, key: DeploymentKey, phase: &str) -> String {
    let verb = match decision {
        Decision::Approve => "Approve",
        Decision::Reject => "Reject",
        Decision::Retry => "Retry",
        Decision::Abort => "Abort",
        Decision::Rollback => "Roll back",
    };
    format!(" {verb} {key} {phase}? ")
}

/// What confirming does, said before it is done.
#[must_use]
pub fn effect(decision: Decision, item: &ActionItem) -> String {
    let missing = item.gate.as_ref().map_or(1, crate::domain::gate::view::GateView::missing);
    match decision {
        Decision::Approve if missing <= 1 => format!("Approving opens {}: the deployment may start it.", item.phase),
        Decision::Approve => format!("Your approval counts; {} more needed after it.", missing - 1),
        Decision::Reject => "Rejecting halts the deployment for good.".to_owned(),
        Decision::Retry => format!("Retry runs the failed hosts of {} again.", item.phase),
        Decision::Abort => "Abort stops the deployment for good.".to_owned(),
        Decision::Rollback if item.kind == ActionKind::Switched => {
            "Switching back moves the traffic to the old set again (the switch record agents read says so) and marks the deployment rolled back."
                .to_owned()
        }
        Decision::Rollback => {
            "Rollback marks the deployment rolled back and stops it; no agent is told: undoing the change on the hosts is up to you."
                .to_owned()
        },
    }
}

/// A gate that agents ran past, in the list's status column and the detail.
pub const RAN_PAST: &str = "ran without approval";

/// A blue/green deployment's switch-over, in the detail.
pub const SWITCHED: &str = "Switched:";

/// `gate 1/2` or `failed 3/20`: the entry's kind in the list.
#[must_use]
pub fn kind(item: &ActionItem) -> String {
    match (item.kind, &item.gate, &item.result) {
        (ActionKind::Gate, Some(g), _) => format!("gate {}/{}", g.approvals.len(), g.required),
        (ActionKind::FailedPhase, _, Some(r)) => format!("failed {}/{}", r.failed, r.targets),
        (ActionKind::Gate, ..) => "gate".to_owned(),
        (ActionKind::FailedPhase, ..) => "failed".to_owned(),
        (ActionKind::Switched, ..) => "switched".to_owned(),
    }
}

/// A refusal in a few words, for the list's status column. Time rules give the instant when
/// every time rule holds, as the check will.
#[must_use]
pub fn short(refusal: &Refusal, zone: chrono_tz::Tz, now: chrono::DateTime<chrono::Utc>) -> String {
    let from = |word: &str| {
        refusal.opens_at().map_or_else(
            || format!("{word}, no time"),
            |t| format!("{word} → {}", crate::domain::time::until_short(t, zone, now)),
        )
    };
    match refusal {
        Refusal::Bake { .. } => from("bake"),
        Refusal::Window { .. } => from("window"),
        Refusal::Freeze { .. } => from("frozen"),
        Refusal::NotStarted { .. } => from("planned"),
        Refusal::FreezeReasonRequired { .. } => "reason needed".to_owned(),
        Refusal::RetroactiveReasonRequired => RAN_PAST.to_owned(),
        Refusal::Checklist { .. } => "checklist".to_owned(),
        Refusal::SelfApproval { .. } => "your own".to_owned(),
        Refusal::AlreadyApproved { .. } => "you approved".to_owned(),
        _ => NOT_YOURS.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approvals_list_gives_an_approval_possible_within_the_minute_to_the_second() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&chrono::Utc);
        let (since, until) = (at("2026-11-26T23:42:00Z"), at("2026-11-26T23:52:30Z"));
        let bake = Refusal::Bake { since, until, possible_from: Some(until) };
        let now = at("2026-11-26T23:52:00Z");
        assert_eq!(short(&bake, chrono_tz::Europe::Berlin, now), "bake → 00:52:30");
    }
}
