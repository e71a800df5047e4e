//! Replay mode of the Live view: the selected deployment as it was at a time cursor.
//!
//! `T` reads the deployment's log once ([`Cmd::LoadReplay`]) and stands at its last happening;
//! `←`/`→` step one happening (an event, a decision, a checklist tick), `[`/`]` a minute, `p`
//! plays at 1x, 10x, 60x and pauses; `Esc` (or `T`) goes back to live. Every step folds the
//! [`Replay`] to the cursor and hands its phases, targets and tail to the Live view's detail,
//! so the pipeline, heatmap and tail draw the past with the same widgets as the present. Live
//! updates of that detail are set aside meanwhile; decisions are refused.

use super::live::Live;
use crate::domain::DeploymentKey;
use crate::domain::records::DeploymentSummary;
use crate::domain::replay::{Replay, ReplayLog};
use crate::keymap::Action;
use crate::tui::model::{Cmd, DetailUpdate, TAIL_CAP};
use chrono::{DateTime, TimeDelta, Utc};

/// Play speeds `p` cycles through, then pause.
pub const SPEEDS: [u32; 3] = [1, 10, 60];

/// The replay of one deployment.
#[derive(Debug)]
pub struct ReplayMode {
    pub key: DeploymentKey,
    /// `None` until the log is read.
    pub replay: Option<Box<Replay>>,
    /// The deployment's summary at the cursor.
    pub summary: Option<DeploymentSummary>,
    /// Playing at this many times real time (`None`: paused).
    pub speed: Option<u32>,
    /// The clock's time of the last tick while playing.
    played_at: Option<DateTime<Utc>>,
}

impl ReplayMode {
    /// Starts a replay of `key`: the log is read on the data thread.
    #[must_use]
    pub fn open(key: DeploymentKey) -> (Self, Vec<Cmd>) {
        let mode = Self { key, replay: None, summary: None, speed: None, played_at: None };
        (mode, vec![Cmd::LoadReplay(key)])
    }

    /// The deployment's log arrived: stand at its last happening (what Live showed).
    pub fn loaded(&mut self, log: ReplayLog, live: &mut Live) {
        let mut replay = Replay::new(log);
        replay.seek(replay.len());
        self.replay = Some(Box::new(replay));
        self.show(live);
    }

    /// The cursor's time, once loaded.
    #[must_use]
    pub fn at(&self) -> Option<DateTime<Utc>> {
        self.replay.as_ref().map(|r| r.at())
    }

    /// `(happenings applied, all of them)`, once loaded.
    #[must_use]
    pub fn position(&self) -> Option<(usize, usize)> {
        self.replay.as_ref().map(|r| (r.position(), r.len()))
    }

    /// A key of replay mode; `false` when it is not one.
    pub fn action(&mut self, action: Action, now: DateTime<Utc>, live: &mut Live) -> bool {
        let Some(replay) = self.replay.as_mut() else {
            return matches!(action, Action::Left | Action::Right | Action::ReplayBack | Action::ReplayForward);
        };
        match action {
            Action::Left => replay.seek(replay.position().saturating_sub(1)),
            Action::Right => replay.seek(replay.position() + 1),
            Action::ReplayBack | Action::ReplayForward => {
                let minute = TimeDelta::minutes(if action == Action::ReplayBack { -1 } else { 1 });
                let to = (replay.at() + minute).clamp(replay.start(), replay.end());
                replay.seek_time(to);
            }
            Action::ReplayPlay => {
                self.speed = match self.speed {
                    None => Some(SPEEDS[0]),
                    Some(s) => SPEEDS.iter().position(|&x| x == s).and_then(|i| SPEEDS.get(i + 1)).copied(),
                };
                self.played_at = Some(now);
                if self.speed.is_some() && replay.position() == replay.len() {
                    // At the end there is nothing left to play: start from the plan.
                    replay.seek(0);
                }
            }
            _ => return false,
        }
        if !matches!(action, Action::ReplayPlay) {
            self.speed = None;
        }
        self.show(live);
        true
    }

    /// The clock moved: while playing, the cursor moves `speed` times as far (and stops at the
    /// last happening).
    pub fn tick(&mut self, now: DateTime<Utc>, live: &mut Live) {
        let (Some(speed), Some(replay)) = (self.speed, self.replay.as_mut()) else { return };
        let last = self.played_at.replace(now).unwrap_or(now);
        let step = (now - last) * i32::try_from(speed).unwrap_or(1);
        let to = (replay.at() + step).min(replay.end());
        let before = replay.position();
        replay.seek_time(to);
        if to >= replay.end() {
            self.speed = None;
        }
        // Between happenings only the cursor moves: nothing to fold or hand over.
        if replay.position() != before || self.speed.is_none() {
            self.show(live);
        }
    }

    /// Hands the state at the cursor to the Live view's detail: the targets that may have
    /// changed since the last hand-over (every one the first time), the phases and the tail.
    fn show(&mut self, live: &mut Live) {
        let Some(replay) = self.replay.as_mut() else { return };
        let changed = replay.take_changed();
        let detail = replay.detail_without_targets();
        let all_targets = changed.is_none();
        let targets = match changed {
            Some(indices) => replay.targets(&indices),
            None => replay.detail().target_list,
        };
        let shape = crate::tui::model::Shape { switch: detail.switch.clone(), supervised: detail.supervised };
        let verification = crate::domain::records::Verification {
            release_record: detail.release_record,
            checklist: detail.checklist,
            conformance: detail.conformance,
        };
        live.show_replayed(DetailUpdate {
            key: self.key,
            phases: detail.phases,
            targets,
            all_targets,
            events: replay.tail(TAIL_CAP),
            reset_tail: true,
            new_events: 0,
            verification,
            // The analysis is shown live, not replayed.
            analysis: None,
            shape,
        });
        self.summary = Some(detail.summary);
    }
}
