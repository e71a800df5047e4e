//! User-visible text of the dashboard, in one place.
//!
//! Labels, titles, hints and notices live here so wording stays consistent across screens and
//! can be reviewed (or translated) without reading rendering code.

pub mod gates;

/// The product name shown at the left of the header.
pub const APP_NAME: &str = "shipdeck";

/// Tab titles, in tab order (number keys 1-6 select them).
pub const TAB_TITLES: [&str; 6] = ["Live", "Approvals", "Schedule", "Notifications", "History", "Metrics"];
/// The tab titles when the full ones do not fit.
pub const TAB_SHORT: [&str; 6] = ["Live", "Appr", "Sched", "Notif", "Hist", "Metr"];

pub const PAUSED: &str = "PAUSED";
pub const READ_ONLY: &str = "read-only";
pub const REPLAY: &str = "REPLAY";
/// Said when a decision key is pressed while replaying.
pub const REPLAY_NO_DECISIONS: &str =
    "replay shows the past: decisions are taken on the live deployment (Esc goes back to live)";
/// Said when a key would leave the replayed deployment.
pub const REPLAY_LEAVE_FIRST: &str = "replaying this deployment: Esc goes back to live first";
/// Said while the replayed log is read.
pub const REPLAY_LOADING: &str = "reading the log for replay…";
pub const DEPLOYMENTS: &str = "Deployments";
pub const HOSTS: &str = "Hosts";
pub const EVENTS: &str = "Events";
pub const NO_DEPLOYMENTS: &str =
    "No deployments in this log yet. Plan one with `shipdeck plan`, or run `shipdeck demo`.";
pub const NO_MATCH: &str = "No deployment matches the filter.";
pub const NO_SELECTION: &str = "Select a deployment to see its phases, hosts and events.";
pub const LOADING: &str = "loading...";
pub const NO_EVENTS: &str = "No events yet.";
pub const NO_TARGETS: &str = "No targets.";
pub const LIST_HEADER: [&str; 9] = ["", "KEY", "RELEASE", "ENV", "MODEL", "PHASE", "PROGRESS", "FAIL", "AGE"];
pub const FILTER_PROMPT: &str = "filter: ";
pub const FILTER_HINT: &str = "type to filter by key, release, env or status · Enter keep · Esc clear";
/// The Live list's sort columns, in the order the sort key cycles them (the first is the
/// default: running first, then waiting, planned and finished, newest first).
pub const SORT_LABELS: [&str; 5] = ["status", "key", "release", "env", "failed"];
/// In the Live list's title when it is sorted by another column than status.
pub const SORTED_BY: &str = "by";
pub const FOLLOW_HINT: &str = "End to follow";
pub const TOO_SMALL: &str = "Terminal too small";
pub const HELP_TITLE: &str = "Keys";
pub const HELP_CLOSE: &str = "? or Esc closes this help · Ctrl-C always quits";
/// The heading of the keys that act in every view, after the view's own.
pub const HELP_EVERYWHERE: &str = "Every view";
/// The heading of the view's own keys: `Keys of Live`.
pub const HELP_THIS_VIEW: &str = "Keys of";
/// Under the keys: where the other views' keys are.
pub const HELP_OTHERS: &str = "each view's own keys are listed by ? in that view";
/// Said in place of the read-only mode's hidden actions.
pub const HELP_READ_ONLY: &str = "read-only: actions that write to the log are hidden";
/// Under the keys: what the middle column is.
pub const HELP_NAMES: &str = "rebind with [dashboard.keys] name = \"key\"";
pub const TARGET_LAST_ERROR: &str = "Last error";
pub const TARGET_NO_ERROR: &str = "no error reported";
pub const TARGET_EVENTS: &str = "Events of this target";
pub const SILENT: &str = "silent";
pub const TODAY_FAILED: &str = "failed today";
pub const RUNNING: &str = "running";
pub const AWAITING: &str = "awaiting approval";
/// Before the operator's name in the header.
pub const OPERATOR: &str = "as";
/// After the operator's name when the log's team does not know them.
pub const NOT_IN_TEAM: &str = "not in team";

/// Metrics: the approval waits, per gate and per role.
pub const WAIT_PER_GATE: &str = "Approval wait per gate (gate opened -> approved)";
pub const WAIT_PER_ROLE: &str = "Approval wait per role (gate opened -> approved by the role)";

/// History and the failure drill-down.
pub const HISTORY: &str = "History";
pub const HISTORY_HEADER: [&str; 10] =
    ["KEY", "RESULT", "RELEASE", "ENV", "MODEL", "STARTED", "DURATION", "FAILED", "REVIEW", "REQUESTER"];
pub const HISTORY_EMPTY: &str = "No finished deployment yet.";
pub const HISTORY_NO_MATCH: &str = "No finished deployment matches these filters.";
pub const HISTORY_FILTER_HINT: &str =
    "service= env= model= result= requester= review= since= until= and words to search · Enter keep · Esc clear";
pub const DRILL: &str = "Drill-down";
pub const TIMELINE: &str = "Timeline";
pub const ERROR_GROUPS: &str = "Error groups";
pub const NO_ERRORS: &str = "No host failed.";
pub const DURATIONS: &str = "Durations against this model's usual";
pub const DECISIONS: &str = "Decisions";
pub const NO_DECISIONS: &str = "No decisions recorded.";
pub const REVIEW: &str = "Review";
pub const NOTIFIED: &str = "Notifications";
/// The Checklist panel.
pub const CHECKLIST: &str = "Checklist";
pub const CHECKLIST_KEYS: &str = "space tick · Esc close";
pub const NO_CHECKLIST: &str = "This deployment's model has no checklist.";
pub const TICK: &str = "Tick";
pub const EVIDENCE_REQUIRED: &str = "evidence (required)";
pub const EVIDENCE_OPTIONAL: &str = "evidence (optional)";
pub const TICK_HINT: &str = "Enter records the tick as you · Esc cancels";
pub const SENDING: &str = "recording...";
pub const NOBODY_NOTIFIED: &str = "Nobody was notified.";
pub const SILENT_HOSTS: &str = "Silent when it ended";
pub const REVIEW_INVALID: &str = "review not saved:";
pub const REVIEW_KEPT: &str = " (your text is kept: w edits it again)";
pub const REVIEW_UNCHANGED: &str = "review not changed; nothing was written";

/// `+4 more`: bars of a calendar lane that have no row left.
#[must_use]
pub fn more(n: usize) -> String {
    format!("+{n} more")
}

/// `12s`, `5m`, `3h`, `2d`: a compact age for lists.
#[must_use]
pub fn age(delta: chrono::TimeDelta) -> String {
    let s = delta.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `! 2 flags: ran without approval (wave-1), ...`: a deployment's conformance flags, in red.
#[must_use]
pub fn flags(flags: &[crate::domain::conformance::Flag]) -> String {
    let first = flags.first().map_or(String::new(), |f| {
        let phase = f.phase.as_deref().map_or(String::new(), |p| format!(" ({p})"));
        format!(": {}{phase}", f.kind.as_str().replace('_', " "))
    });
    let more = if flags.len() > 1 { ", ..." } else { "" };
    format!("! {} flag(s){first}{more}", flags.len())
}

/// `checklist 2/4`: items done of all.
#[must_use]
pub fn checklist(items: &[crate::domain::checklist::Item]) -> String {
    let done = items.iter().filter(|i| i.state == crate::domain::checklist::ItemState::Done).count();
    let failed = items.iter().any(|i| i.state == crate::domain::checklist::ItemState::Failed);
    format!("checklist {done}/{}{}", items.len(), if failed { " (failed)" } else { "" })
}

/// `2 components, 1 evidence link`: the release record in a few words.
#[must_use]
pub fn release_record(r: &crate::domain::release::ReleaseRecord) -> String {
    format!("{} component(s), {} evidence link(s)", r.components.len(), r.evidence.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn ages_use_the_largest_whole_unit() {
        assert_eq!(age(TimeDelta::seconds(-5)), "0s");
        assert_eq!(age(TimeDelta::seconds(59)), "59s");
        assert_eq!(age(TimeDelta::seconds(61)), "1m");
        assert_eq!(age(TimeDelta::hours(5)), "5h");
        assert_eq!(age(TimeDelta::days(40)), "40d");
    }
}
