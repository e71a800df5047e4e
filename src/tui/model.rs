//! The dashboard's plain data: what the data thread reads from the log and hands over, what
//! the state asks it to write, and the limits on both. No IO and no terminal.
//!
//! The layers of `tui` (arrows point to what a module uses):
//! `model` <- `data` (reads the log), `app` (state and `update`), `view` (drawing);
//! `layout` (where things go on screen) <- `app`, `view`; `tui.rs`, the run loop, joins them:
//! it hands what `data` loaded ([`Loaded`]) to `app` as a message.

use crate::decide::checklist::TickAsk;
use crate::domain::DeploymentKey;
pub use crate::domain::checklist::Item as ChecklistItem;
use crate::domain::gate::view::{ActionItem, Notification};
use crate::domain::history::{HistoryFilter, HistoryRow};
use crate::domain::records::{DeploymentSummary, PhaseView, StoredEvent, TargetView};
use crate::domain::report::Report;
use crate::domain::review::ReviewContent;
use crate::domain::status::DeploymentStatus;
use crate::store::live::StatusCounts;
use chrono::{DateTime, TimeDelta, Utc};

/// Events of the selected deployment kept for the tail.
pub const TAIL_CAP: usize = 500;
/// New events of the selected deployment read per refresh; past this many the tail restarts
/// from the newest ones (nobody reads hundreds of lines per 30 ms, and reading them costs).
pub const TAIL_FETCH: usize = 200;
/// Events of one target shown when it is opened.
pub const TARGET_EVENTS: usize = 200;
/// Deployments listed (newest first, before the running-first ordering).
pub const LIST_LIMIT: usize = 1_000;
/// Notifications read per refresh (newest first).
pub const NOTIFICATIONS_SHOWN: usize = 200;

/// What changed in the log since the last refresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refresh {
    /// The whole deployment list, when it was reloaded.
    pub list: Option<Vec<DeploymentSummary>>,
    /// Deployments whose summary changed.
    pub changed: Vec<DeploymentSummary>,
    pub counts: Option<StatusCounts>,
    pub detail: Option<DetailUpdate>,
    pub target: Option<TargetEvents>,
    /// The operator's inbox and notifications, when they were read.
    pub gates: Option<GateData>,
    /// A page of History, when one was asked for (or the log changed under it).
    pub history: Option<HistoryPage>,
    /// The report of the deployment drilled into.
    pub report: Option<Box<Report>>,
    /// A deployment's checklist, for its Checklist panel.
    pub checklist: Option<(DeploymentKey, Vec<ChecklistItem>)>,
    /// A comparison History asked for: the run, and it against its previous run (`Err`: why
    /// there is none).
    pub compare: Option<(DeploymentKey, Result<Box<crate::domain::compare::Comparison>, String>)>,
    /// The Metrics view's KPIs, when they were asked for (or the log changed under them).
    pub metrics: Option<Box<crate::domain::kpi::Metrics>>,
    /// The change calendar of the period the Schedule view shows.
    pub calendar: Option<CalendarPage>,
    /// The model review of the last so many days, for the Metrics view.
    pub model_review: Option<(i64, Box<crate::domain::model_review::Review>)>,
    /// A deployment's log for its replay.
    pub replay: Option<(DeploymentKey, Box<crate::domain::replay::ReplayLog>)>,
}

/// The change calendar of a period, as the data source reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarPage {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Windows, freezes and deployments in the period, with conflicts.
    pub entries: Vec<crate::domain::calendar::Entry>,
    /// The next happenings from now (window opens, freeze starts, scheduled starts).
    pub upcoming: Vec<(DateTime<Utc>, crate::domain::calendar::Happening)>,
}

/// A page of History as the data source answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub filter: HistoryFilter,
    /// The index of `rows[0]` among all matching rows.
    pub offset: usize,
    pub rows: Vec<HistoryRow>,
    /// How many rows match.
    pub total: usize,
}

/// Rows of History read per page.
pub const HISTORY_WINDOW: usize = 200;

/// News about the selected deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailUpdate {
    pub key: DeploymentKey,
    pub phases: Vec<PhaseView>,
    /// Every target (`all_targets`) or only those that changed.
    pub targets: Vec<TargetView>,
    pub all_targets: bool,
    /// New events, oldest first; with `reset_tail` they replace the tail.
    pub events: Vec<StoredEvent>,
    pub reset_tail: bool,
    /// How many new events the deployment has (may be more than `events` holds).
    pub new_events: usize,
    /// Its release record, checklist and conformance flags.
    pub verification: crate::domain::records::Verification,
    /// A canary's analysis now (`None`: its model has none).
    pub analysis: Option<crate::store::AnalysisState>,
    /// What its technique adds: a parallel deployment's switch-over, a supervised run.
    pub shape: Shape,
}

/// What a deployment's technique adds to its phases, for the pipeline and the title.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub switch: Option<crate::domain::parallel::Switchover>,
    pub supervised: Option<crate::domain::records::Supervision>,
}

/// The events of one opened target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetEvents {
    pub key: DeploymentKey,
    pub name: String,
    pub events: Vec<StoredEvent>,
}

/// One inbox entry with what the dashboard adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub item: ActionItem,
    /// The deployment model, whose past phases give the ETA.
    pub model: String,
    /// The phase the decision starts (a gate's phase) or runs again (a failed phase).
    pub phase: Option<PhaseView>,
    /// How long that phase should take, from the model's past per-host durations.
    pub eta: Option<TimeDelta>,
    /// Hosts the ETA was learnt from.
    pub eta_hosts: usize,
    /// A canary's analysis now, which decides (or halted) this entry.
    pub analysis: Option<crate::store::AnalysisState>,
}

/// The operator's gates and notifications as of one read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateData {
    pub inbox: Vec<Pending>,
    /// Finished deployments whose failure review the operator owes, newest first.
    pub owed: Vec<crate::domain::history::HistoryRow>,
    /// Improvement actions not done by their due date, the earliest due first.
    pub overdue: Vec<crate::store::ActionRow>,
    pub notifications: Vec<Notification>,
    pub unread: usize,
    /// The deliveries of those notifications (each recipient's channels besides in-app).
    pub deliveries: Vec<crate::domain::notify::Delivery>,
    /// Deliveries of anyone's notifications that failed for good.
    pub failed_deliveries: usize,
    /// The log's windows and freezes in force as of this read (emergency freezes included):
    /// what the entries' time rules are shown against, as the inbox checked them.
    pub rules: crate::domain::schedule::TimeRules,
}

/// A decision the operator confirmed.
pub type DecisionCmd = crate::decide::Ask;

/// The answer to a decision, in the words of [`crate::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// What was recorded.
    Recorded(String),
    /// The rule that refused it, or why nothing could be written.
    NotRecorded(String),
}

/// Something the run loop must do, as the state asks it (the state does no IO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Quit,
    /// Load this deployment in detail (phases, targets, tail).
    Select(Option<DeploymentKey>),
    /// Load the events of one target.
    LoadTarget(DeploymentKey, String),
    /// Stop or resume following the log.
    Pause(bool),
    /// Record a decision the operator confirmed.
    Decide(DecisionCmd),
    /// Who this decision would notify, for its confirm dialog (nothing is written).
    Preview(DecisionCmd),
    /// Mark these notifications read.
    MarkRead(Vec<i64>),
    /// Read this page of History: the filter, and the first row wanted.
    LoadHistory(HistoryFilter, usize),
    /// Read the report of one deployment for its drill-down.
    LoadReport(DeploymentKey),
    /// Suspend the screen and open the editor on this review text.
    EditReview(DeploymentKey, String),
    /// Save a review the editor left valid, as the operator.
    SaveReview(DeploymentKey, ReviewContent, String),
    /// Read a deployment's checklist.
    LoadChecklist(DeploymentKey),
    /// Record a checklist tick the operator confirmed.
    Tick(TickAsk),
    /// Compare this deployment with its previous run of the same service and environment.
    LoadCompare(DeploymentKey),
    /// Read the Metrics view's KPIs for this period and scope.
    LoadMetrics(crate::domain::kpi::MetricsAsk),
    /// Read the change calendar of this period.
    LoadCalendar(DateTime<Utc>, DateTime<Utc>),
    /// Read the model review of the last so many days.
    LoadModelReview(i64),
    /// Record a suggestion of the model review as an improvement action, as the operator.
    RecordSuggestion(Box<crate::domain::model_review::Suggestion>, crate::decide::improve::RecordAsk),
    /// Read a deployment's log for its replay.
    LoadReplay(DeploymentKey),
}

/// What the data thread hands the run loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Refresh(Box<Refresh>),
    /// Reading the log failed; shown until data flows again.
    Failed(String),
    /// The answer to a decision.
    Decided(Decided),
    /// Who a decision would notify, or why it would not be recorded.
    Previewed(DecisionCmd, Result<Vec<crate::domain::notify::Told>, String>),
}

/// Order of the list: running first, then waiting, planned, and finished ones; newest first.
#[must_use]
pub fn display_rank(status: DeploymentStatus) -> u8 {
    match status {
        DeploymentStatus::Running | DeploymentStatus::Verifying => 0,
        DeploymentStatus::AwaitingApproval => 1,
        DeploymentStatus::Planned => 2,
        _ => 3,
    }
}

/// The list's sort key: [`display_rank`], then newest first.
#[must_use]
pub fn list_order(d: &DeploymentSummary) -> (u8, std::cmp::Reverse<DeploymentKey>) {
    (display_rank(d.status), std::cmp::Reverse(d.key))
}

/// The deployment selected when the dashboard opens: the first of the list.
#[must_use]
pub fn first_selection(list: &[DeploymentSummary]) -> Option<DeploymentKey> {
    list.iter().min_by_key(|d| list_order(d)).map(|d| d.key)
}
