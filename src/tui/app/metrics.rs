//! The Metrics view's state: the period and scope asked for, the KPIs that came back, and the
//! selection among the top failing services, models, phases and steps.
//!
//! `Enter` on one of those turns it into History's filter line (the same words a user would
//! type), so History shows exactly the failed deployments the entry counted.
//!
//! `m` swaps the top failing lists for the model review of the period and its suggestions; `i`
//! opens a [`RecordDialog`] that asks the owner and due date of the selected suggestion's
//! improvement action, recorded through [`crate::decide::improve`] like the CLI's `--record`.

use crate::decide::improve::RecordAsk;
use crate::domain::kpi::{Metrics, MetricsAsk};
use crate::domain::model_review::{Review, Suggestion};
use crate::keymap::Action;
use crate::tui::model::Cmd;

/// The periods the view cycles through, in days.
pub const PERIODS: [(&str, i64); 4] = [("7d", 7), ("30d", 30), ("90d", 90), ("1y", 365)];
/// The period the view opens with: 30 days.
const DEFAULT_PERIOD: usize = 1;
/// The results History shows for "failed" entries: what counts as a failure here.
pub const FAILED_RESULTS: &str = "result=failed,rolled_back,aborted";

/// What a top-failing entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKind {
    Service,
    Model,
    Phase,
    Step,
}

impl TopKind {
    pub const ALL: [Self; 4] = [Self::Service, Self::Model, Self::Phase, Self::Step];

    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Service => "services",
            Self::Model => "models",
            Self::Phase => "phases",
            Self::Step => "steps (hosts)",
        }
    }
}

/// The Metrics view.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsView {
    /// Index into [`PERIODS`].
    pub period: usize,
    /// 0: all environments; n: the config's n-th environment.
    pub scope: usize,
    pub data: Option<Box<Metrics>>,
    /// What was last asked: answers for anything else are stale.
    pub wanted: Option<MetricsAsk>,
    /// The selected entry among the top failing ones (in [`TopKind::ALL`] order).
    pub selected: usize,
    /// Whether the model review shows instead of the top failing lists.
    pub show_review: bool,
    /// The model review, and the days it covers.
    pub review: Option<(i64, Box<Review>)>,
    /// The selected suggestion of the review.
    pub suggestion: usize,
    /// The open dialog that records the selected suggestion.
    pub record: Option<RecordDialog>,
}

/// Asks the owner and due date of the improvement action a suggestion becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDialog {
    pub suggestion: Suggestion,
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    /// The field being typed: 0 the owner, 1 the due date.
    pub field: usize,
    /// Sent, waiting for the answer.
    pub sending: bool,
    /// Why the last confirm was not recorded.
    pub error: Option<String>,
}

impl RecordDialog {
    /// The field being typed.
    pub fn text_mut(&mut self) -> &mut String {
        if self.field == 0 { &mut self.owner } else { &mut self.due }
    }

    /// Enter: sends the ask (once).
    pub fn confirm(&mut self) -> Vec<Cmd> {
        if self.sending {
            return Vec::new();
        }
        self.sending = true;
        self.error = None;
        let ask = RecordAsk { owner: self.owner.trim().to_owned(), due: self.due.trim().to_owned() };
        vec![Cmd::RecordSuggestion(Box::new(self.suggestion.clone()), ask)]
    }
}

impl MetricsView {
    #[must_use]
    pub fn new() -> Self {
        Self { period: DEFAULT_PERIOD, ..Self::default() }
    }

    /// The period's label.
    #[must_use]
    pub fn period_label(&self) -> &'static str {
        PERIODS.get(self.period).map_or("30d", |p| p.0)
    }

    /// What the view asks for, with `environments` the config's.
    #[must_use]
    pub fn ask(&self, environments: &[String]) -> MetricsAsk {
        MetricsAsk {
            days: PERIODS.get(self.period).map_or(30, |p| p.1),
            environment: self.scope.checked_sub(1).and_then(|i| environments.get(i)).cloned(),
        }
    }

    /// Asks for the data of the period and scope in force (and the model review when shown).
    pub fn load(&mut self, environments: &[String]) -> Vec<Cmd> {
        let ask = self.ask(environments);
        self.wanted = Some(ask.clone());
        let mut cmds = vec![Cmd::LoadMetrics(ask.clone())];
        if self.show_review {
            cmds.push(Cmd::LoadModelReview(ask.days));
        }
        cmds
    }

    /// The model review arrived: kept when it covers the period in force.
    pub fn apply_review(&mut self, days: i64, review: Box<Review>) {
        if PERIODS.get(self.period).is_some_and(|p| p.1 != days) {
            return;
        }
        self.suggestion = self.suggestion.min(review.suggestions.len().saturating_sub(1));
        self.review = Some((days, review));
    }

    /// The suggestions shown (none until the review arrived).
    #[must_use]
    pub fn suggestions(&self) -> &[Suggestion] {
        self.review.as_ref().map_or(&[], |(_, r)| r.suggestions.as_slice())
    }

    /// `i`: the dialog that records the selected suggestion, the owner prefilled with the
    /// operator and the due date two weeks from `today`.
    pub fn start_record(&mut self, operator: &str, today: chrono::NaiveDate) {
        let Some(s) = self.suggestions().get(self.suggestion).filter(|_| self.show_review) else { return };
        self.record = Some(RecordDialog {
            suggestion: s.clone(),
            owner: operator.to_owned(),
            due: (today + chrono::TimeDelta::days(14)).format("%Y-%m-%d").to_string(),
            field: 0,
            sending: false,
            error: None,
        });
    }

    /// The answer to a record: closes the dialog when it was recorded, shows why when not.
    pub fn recorded(&mut self, recorded: bool, text: &str) {
        if recorded {
            self.record = None;
        } else if let Some(d) = self.record.as_mut() {
            d.sending = false;
            d.error = Some(text.to_owned());
        }
    }

    /// The data arrived: kept when it is what was last asked.
    pub fn apply(&mut self, data: Box<Metrics>) {
        if self.wanted.as_ref().is_some_and(|w| *w != data.ask) {
            return;
        }
        self.data = Some(data);
        self.selected = self.selected.min(self.entries().len().saturating_sub(1));
    }

    /// Every top failing entry, in the order shown.
    #[must_use]
    pub fn entries(&self) -> Vec<(TopKind, &str, usize)> {
        let Some(d) = self.data.as_deref() else { return Vec::new() };
        let mut out = Vec::new();
        for (kind, list) in TopKind::ALL.into_iter().zip([&d.top_services, &d.top_models, &d.top_phases, &d.top_steps])
        {
            out.extend(list.iter().take(5).map(|(name, n)| (kind, name.as_str(), *n)));
        }
        out
    }

    /// A key of the view; `environments` are the config's (for the scope).
    pub fn action(&mut self, action: Action, environments: &[String]) -> Vec<Cmd> {
        let last = if self.show_review {
            self.suggestions().len().saturating_sub(1)
        } else {
            self.entries().len().saturating_sub(1)
        };
        let selected = if self.show_review { &mut self.suggestion } else { &mut self.selected };
        match action {
            Action::ModelReview => {
                self.show_review = !self.show_review;
                if self.show_review {
                    vec![Cmd::LoadModelReview(PERIODS.get(self.period).map_or(30, |p| p.1))]
                } else {
                    Vec::new()
                }
            }
            Action::MetricsPeriod => {
                self.period = (self.period + 1) % PERIODS.len();
                self.load(environments)
            }
            Action::MetricsScope => {
                self.scope = (self.scope + 1) % (environments.len() + 1);
                self.load(environments)
            }
            Action::Up => {
                *selected = selected.saturating_sub(1);
                Vec::new()
            }
            Action::Down => {
                *selected = (*selected + 1).min(last);
                Vec::new()
            }
            Action::Top => {
                *selected = 0;
                Vec::new()
            }
            Action::Bottom => {
                *selected = last;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// History's filter line and time range (index into its presets) for the selected entry.
    #[must_use]
    pub fn history_line(&self) -> Option<(String, usize)> {
        let entries = self.entries();
        let (kind, name, _) = entries.get(self.selected)?;
        let d = self.data.as_deref()?;
        let mut words = Vec::new();
        match kind {
            TopKind::Service => words.push(format!("service={name}")),
            TopKind::Model => words.push(format!("model={name}")),
            // `model/phase`: the runs of that model in which that phase failed.
            TopKind::Phase => match name.split_once('/') {
                Some((model, phase)) => words.extend([format!("model={model}"), format!("phase={phase}")]),
                None => words.push(format!("phase={name}")),
            },
            TopKind::Step => words.push(format!("step={name}")),
        }
        if let Some(env) = &d.ask.environment {
            words.push(format!("env={env}"));
        }
        words.push(FAILED_RESULTS.to_owned());
        let label = self.period_label();
        let preset = crate::domain::history::Period::PRESETS.iter().position(|(l, _)| *l == label).unwrap_or(0);
        Some((words.join(" "), preset))
    }
}
