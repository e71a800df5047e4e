//! The Checklist panel of a deployment: its `pre`, `environment` and `post` items, and ticking
//! one (`space`), with a confirm that takes the evidence.
//!
//! A tick is a decision: it goes out as [`Cmd::Tick`] and is checked and recorded by
//! [`crate::decide::checklist`], the same path as `shipdeck check`.

use crate::decide::checklist::TickAsk;
use crate::domain::DeploymentKey;
use crate::domain::checklist::ItemState;
use crate::keymap::Action;
use crate::tui::model::ChecklistItem;
use crate::tui::model::Cmd;

/// The open Checklist panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistPanel {
    pub key: DeploymentKey,
    /// `None` until the items arrive.
    pub items: Option<Vec<ChecklistItem>>,
    pub selected: usize,
    /// The confirm of a tick: the evidence typed so far.
    pub confirm: Option<String>,
    /// A tick was sent and its answer is awaited.
    pub sending: bool,
    /// Why the last tick was not recorded.
    pub error: Option<String>,
}

impl ChecklistPanel {
    /// Opens the panel of `key` and asks for its items.
    #[must_use]
    pub fn open(key: DeploymentKey) -> (Self, Vec<Cmd>) {
        let panel = Self { key, items: None, selected: 0, confirm: None, sending: false, error: None };
        (panel, vec![Cmd::LoadChecklist(key)])
    }

    /// The items arrived (again, after a tick).
    pub fn apply(&mut self, key: DeploymentKey, items: Vec<ChecklistItem>) {
        if key != self.key {
            return;
        }
        self.selected = self.selected.min(items.len().saturating_sub(1));
        self.items = Some(items);
    }

    /// The selected item.
    #[must_use]
    pub fn current(&self) -> Option<&ChecklistItem> {
        self.items.as_ref().and_then(|i| i.get(self.selected))
    }

    /// A movement key.
    pub fn navigate(&mut self, action: Action) {
        let last = self.items.as_ref().map_or(0, |i| i.len().saturating_sub(1));
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => self.selected,
        };
    }

    /// `space`: the confirm of the selected item, when it is open and ticked by hand. Otherwise
    /// says why not (automatic, already ticked).
    pub fn start_tick(&mut self) {
        let Some(item) = self.current() else { return };
        self.error = match (item.state, item.auto.as_deref()) {
            (ItemState::Open, None) => {
                self.confirm = Some(String::new());
                None
            }
            (ItemState::Open, Some(step)) => {
                Some(format!("\"{}\" is ticked by the agents' \"{step}\" events, not by hand", item.id))
            }
            (state, _) => Some(format!("\"{}\" is already {state}", item.id)),
        };
    }

    /// `Enter` in the confirm: the tick, with the evidence typed (if any).
    pub fn confirm(&mut self) -> Vec<Cmd> {
        let (Some(evidence), Some(item)) = (self.confirm.clone(), self.current()) else { return Vec::new() };
        let evidence = Some(evidence.trim().to_owned()).filter(|e| !e.is_empty());
        let ask = TickAsk { key: self.key, item: item.id.clone(), evidence, failed: false };
        self.sending = true;
        vec![Cmd::Tick(ask)]
    }

    /// The answer to a tick: recorded closes the confirm; refused keeps it, with the reason.
    pub fn answered(&mut self, recorded: bool, text: &str) {
        self.sending = false;
        if recorded {
            self.confirm = None;
            self.error = None;
        } else {
            self.error = Some(text.to_owned());
        }
    }
}
