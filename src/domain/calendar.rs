//! The change calendar's rules: when a deployment's run conflicts with the calendar, the next
//! free slot, and what happens next.
//!
//! A run is its planned start and the end its model's history predicts. It conflicts when it
//! starts outside every change window of its environment or runs past the one it starts in,
//! overlaps a freeze, overlaps another deployment of the same service in the same environment,
//! shares a target with a deployment running at the same time, or would make more deployments
//! run at once in its environment than `max_concurrent` allows. `plan`, `reschedule`,
//! `schedule next`, the calendar view and the demo all ask [`conflicts`] and [`next_slot`].

use super::schedule::{ChangeWindow, Freeze};
use super::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::fmt;

fn key_text<S: serde::Serializer>(k: &DeploymentKey, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(k)
}

/// A deployment on the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Booking {
    #[serde(serialize_with = "key_text")]
    pub key: DeploymentKey,
    /// `name@version`.
    pub release: String,
    /// The release's name: two deployments of one service into one environment must not overlap.
    pub service: String,
    pub environment: String,
    pub status: DeploymentStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The targets it shares with the run being checked (filled by the store for that run).
    #[serde(skip)]
    pub shared_targets: Vec<String>,
}

impl Booking {
    /// Whether it still holds its slot (it has not finished).
    #[must_use]
    pub fn holds_slot(&self) -> bool {
        !self.status.is_final()
    }

    fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && self.end > start
    }
}

/// A run to check: a deployment planned, rescheduled or looked for a slot.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The deployment itself when it is rescheduled (it never conflicts with itself).
    pub key: Option<DeploymentKey>,
    pub service: &'a str,
    pub environment: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The calendar a run is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Calendar<'a> {
    pub windows: &'a [ChangeWindow],
    pub freezes: &'a [Freeze],
    /// Deployments that may overlap the runs checked, sorted by start (see [`sort`]).
    pub bookings: &'a [Booking],
    /// The environment's `max_concurrent` (`None`: no limit).
    pub max_concurrent: Option<u32>,
}

/// Sorts bookings as [`Calendar::bookings`] expects them.
pub fn sort(bookings: &mut [Booking]) {
    bookings.sort_by_key(|b| (b.start, b.key));
}

/// Why a run does not fit the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conflict {
    /// It starts while none of the environment's windows is open.
    StartOutsideWindows { windows: Vec<String>, next_opens: Option<DateTime<Utc>> },
    /// It starts in `window` but would still run when it closes.
    EndOutsideWindow { window: String, closes: DateTime<Utc>, end: DateTime<Utc> },
    /// It overlaps a freeze of the environment.
    Freeze { name: String, from: DateTime<Utc>, until: DateTime<Utc> },
    /// Another deployment of the same service in the same environment overlaps it.
    SameService {
        #[serde(serialize_with = "key_text")]
        key: DeploymentKey,
        release: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// A deployment running at the same time touches some of the same targets.
    SharedTargets {
        #[serde(serialize_with = "key_text")]
        key: DeploymentKey,
        release: String,
        count: usize,
        targets: Vec<String>,
    },
    /// More deployments would run at once in the environment than it allows.
    MaxConcurrent { environment: String, max: u32, at: DateTime<Utc>, with: Vec<String> },
}

impl Conflict {
    /// The kind's name, as in JSON.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StartOutsideWindows { .. } => "start_outside_windows",
            Self::EndOutsideWindow { .. } => "end_outside_window",
            Self::Freeze { .. } => "freeze",
            Self::SameService { .. } => "same_service",
            Self::SharedTargets { .. } => "shared_targets",
            Self::MaxConcurrent { .. } => "max_concurrent",
        }
    }

    /// One sentence with its times in `tz`.
    #[must_use]
    pub fn describe(&self, tz: chrono_tz::Tz) -> String {
        let t = |d: &DateTime<Utc>| super::time::at(*d, tz);
        match self {
            Self::StartOutsideWindows { windows, next_opens } => format!(
                "starts outside every change window of the environment ({}){}",
                windows.join(", "),
                next_opens.map_or(String::new(), |o| format!("; the next opens at {}", t(&o)))
            ),
            Self::EndOutsideWindow { window, closes, end } => format!(
                "runs past the end of window \"{window}\" (it closes at {}, the run is expected to end at {})",
                t(closes),
                t(end)
            ),
            Self::Freeze { name, from, until } => {
                format!("overlaps freeze \"{name}\" ({} to {})", t(from), t(until))
            }
            Self::SameService { key, release, start, end } => {
                format!("overlaps {key} ({release}, same service and environment, {} to {})", t(start), t(end))
            }
            Self::SharedTargets { key, release, count, targets } => format!(
                "shares {count} target(s) with {key} ({release}) at the same time: {}{}",
                targets.join(", "),
                if *count > targets.len() { ", ..." } else { "" }
            ),
            Self::MaxConcurrent { environment, max, at, with } => format!(
                "{environment} allows {max} deployment(s) at once; at {} it would run beside {}",
                t(at),
                with.join(", ")
            ),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(chrono_tz::Tz::UTC))
    }
}

/// How many shared targets a conflict names.
const SAMPLE_TARGETS: usize = 5;

/// Every conflict of `run` with the calendar, in a fixed order (windows, freezes, same service,
/// shared targets, concurrency).
#[must_use]
pub fn conflicts(cal: &Calendar<'_>, run: &Run<'_>) -> Vec<Conflict> {
    let mut out = Vec::new();
    window_conflict(cal.windows, run, &mut out);
    for f in cal.freezes.iter().filter(|f| f.applies_to(run.environment)) {
        if let Some((from, until)) = f.occurrences(run.start, run.end).into_iter().next() {
            out.push(Conflict::Freeze { name: f.name.clone(), from, until });
        }
    }
    let overlapping = overlapping(cal.bookings, run);
    for b in &overlapping {
        if b.environment == run.environment && b.service == run.service {
            out.push(Conflict::SameService { key: b.key, release: b.release.clone(), start: b.start, end: b.end });
        }
    }
    for b in overlapping.iter().filter(|b| !b.shared_targets.is_empty()) {
        out.push(Conflict::SharedTargets {
            key: b.key,
            release: b.release.clone(),
            count: b.shared_targets.len(),
            targets: b.shared_targets.iter().take(SAMPLE_TARGETS).cloned().collect(),
        });
    }
    if let Some(max) = cal.max_concurrent {
        let same_env: Vec<&Booking> = overlapping.into_iter().filter(|b| b.environment == run.environment).collect();
        if let Some((at, with)) = busiest(&same_env, run).filter(|(_, with)| with.len() >= max as usize) {
            out.push(Conflict::MaxConcurrent {
                environment: run.environment.to_owned(),
                max,
                at,
                with: with.iter().map(|b| b.key.to_string()).collect(),
            });
        }
    }
    out
}

/// The deployments holding a slot that overlap the run (itself excluded).
fn overlapping<'b>(bookings: &'b [Booking], run: &Run<'_>) -> Vec<&'b Booking> {
    // Sorted by start: everything from the first that starts at or after the run's end is out.
    let upto = bookings.partition_point(|b| b.start < run.end);
    bookings[..upto]
        .iter()
        .filter(|b| b.holds_slot() && Some(b.key) != run.key && b.overlaps(run.start, run.end))
        .collect()
}

/// The instant within the run when most of `others` run at once, and which they are.
fn busiest<'b>(others: &[&'b Booking], run: &Run<'_>) -> Option<(DateTime<Utc>, Vec<&'b Booking>)> {
    let mut instants: Vec<DateTime<Utc>> = std::iter::once(run.start).chain(others.iter().map(|b| b.start)).collect();
    instants.retain(|t| *t >= run.start && *t < run.end);
    instants.sort();
    instants.dedup();
    instants
        .into_iter()
        .map(|t| (t, others.iter().copied().filter(|b| b.start <= t && t < b.end).collect::<Vec<_>>()))
        .max_by_key(|(t, with)| (with.len(), std::cmp::Reverse(*t)))
}

fn window_conflict(windows: &[ChangeWindow], run: &Run<'_>, out: &mut Vec<Conflict>) {
    let applying: Vec<&ChangeWindow> = windows.iter().filter(|w| w.applies_to(run.environment)).collect();
    if applying.is_empty() {
        return;
    }
    let open = applying.iter().filter_map(|w| w.open_at(run.start).map(|(_, closes)| (w, closes))).max_by_key(|o| o.1);
    match open {
        Some((w, closes)) if closes < run.end => {
            out.push(Conflict::EndOutsideWindow { window: w.name.clone(), closes, end: run.end });
        }
        Some(_) => {}
        None => out.push(Conflict::StartOutsideWindows {
            windows: applying.iter().map(|w| w.name.clone()).collect(),
            next_opens: applying.iter().filter_map(|w| w.next_open(run.start).map(|o| o.0)).min(),
        }),
    }
}

/// A start that `schedule next` tried and why it did not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub start: DateTime<Utc>,
    pub conflicts: Vec<Conflict>,
}

/// The earliest start at or after `after` (and before `after + horizon`) at which a run of
/// `length` has no conflict, and the candidates skipped on the way, in order.
///
/// The earliest free start is `after` itself or an instant where a constraint stops binding: a
/// window opens, a freeze ends, a deployment ends. Only those are tried, so the answer is exact
/// and the search stays short.
#[must_use]
pub fn next_slot(
    cal: &Calendar<'_>,
    run: &Run<'_>,
    length: TimeDelta,
    after: DateTime<Utc>,
    horizon: TimeDelta,
) -> (Option<DateTime<Utc>>, Vec<Skipped>) {
    let until = after + horizon;
    let mut candidates = vec![after];
    for w in cal.windows.iter().filter(|w| w.applies_to(run.environment)) {
        candidates.extend(w.openings(after, until).into_iter().map(|o| o.0));
    }
    for f in cal.freezes.iter().filter(|f| f.applies_to(run.environment)) {
        candidates.extend(f.occurrences(after, until + length).into_iter().map(|o| o.1));
    }
    let upto = cal.bookings.partition_point(|b| b.start < until);
    for b in &cal.bookings[..upto] {
        let relevant = b.environment == run.environment || !b.shared_targets.is_empty();
        if relevant && b.holds_slot() && Some(b.key) != run.key {
            candidates.push(b.end);
        }
    }
    candidates.retain(|t| *t >= after && *t < until);
    candidates.sort();
    candidates.dedup();
    let mut skipped = Vec::new();
    for start in candidates {
        let at = Run { start, end: start + length, ..*run };
        let found = conflicts(cal, &at);
        if found.is_empty() {
            return (Some(start), skipped);
        }
        skipped.push(Skipped { start, conflicts: found });
    }
    (None, skipped)
}

/// Something that happens on the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happening {
    WindowOpens {
        name: String,
        environments: Vec<String>,
    },
    FreezeStarts {
        name: String,
        environments: Vec<String>,
    },
    /// A freeze in force now lifts: the one line that names a freeze already under way.
    FreezeEnds {
        name: String,
        environments: Vec<String>,
    },
    DeploymentStarts {
        #[serde(serialize_with = "key_text")]
        key: DeploymentKey,
        release: String,
        environment: String,
    },
}

impl Happening {
    /// One line for people.
    #[must_use]
    pub fn describe(&self) -> String {
        let envs = |e: &[String]| if e.is_empty() { "all".to_owned() } else { e.join(",") };
        match self {
            Self::WindowOpens { name, environments } => format!("window {name} opens ({})", envs(environments)),
            Self::FreezeStarts { name, environments } => format!("freeze {name} starts ({})", envs(environments)),
            Self::FreezeEnds { name, environments } => format!("freeze {name} ends ({})", envs(environments)),
            Self::DeploymentStarts { key, release, environment } => format!("{key} {release} starts ({environment})"),
        }
    }
}

/// The next `n` happenings from `now` within `horizon`: windows opening, freezes starting,
/// scheduled deployments starting, in time order; before them the end of each freeze already in
/// force, however far ahead it lifts.
#[must_use]
pub fn upcoming(
    windows: &[ChangeWindow],
    freezes: &[Freeze],
    bookings: &[Booking],
    now: DateTime<Utc>,
    horizon: TimeDelta,
    n: usize,
) -> Vec<(DateTime<Utc>, Happening)> {
    let until = now + horizon;
    let mut out: Vec<(DateTime<Utc>, Happening)> = Vec::new();
    for w in windows {
        for (s, _) in w.openings(now, until).into_iter().filter(|(s, _)| *s >= now).take(n) {
            out.push((s, Happening::WindowOpens { name: w.name.clone(), environments: w.environments.clone() }));
        }
    }
    for f in freezes {
        for (s, e) in f.occurrences(now, until).into_iter().take(n + 1) {
            let (name, environments) = (f.name.clone(), f.environments.clone());
            if s >= now {
                out.push((s, Happening::FreezeStarts { name, environments }));
            } else if e > now {
                out.push((e, Happening::FreezeEnds { name, environments }));
            }
        }
    }
    for b in bookings.iter().filter(|b| b.start >= now && b.start < until && b.holds_slot()) {
        out.push((
            b.start,
            Happening::DeploymentStarts { key: b.key, release: b.release.clone(), environment: b.environment.clone() },
        ));
    }
    // A freeze in force comes first whenever it lifts: it is what holds deployments now.
    out.sort_by_key(|(at, h)| (!matches!(h, Happening::FreezeEnds { .. }), *at));
    out.truncate(n);
    out
}

/// What `status` and `list` call a deployment: `scheduled` while its planned start is ahead and
/// nothing ran yet, else its status.
#[must_use]
pub fn shown_status(
    status: DeploymentStatus,
    planned_start: DateTime<Utc>,
    started: bool,
    now: DateTime<Utc>,
) -> &'static str {
    let waiting = matches!(status, DeploymentStatus::Planned | DeploymentStatus::AwaitingApproval);
    if waiting && !started && planned_start > now { "scheduled" } else { status.as_str() }
}

pub mod ics;

/// What an [`Entry`] of the calendar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Window,
    Freeze,
    Deployment,
}

/// One thing on the calendar in a period: a window's opening, a freeze's occurrence or a
/// deployment's run, with the conflicts a scheduled deployment has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// The window's or freeze's name, or the deployment's release.
    pub name: String,
    /// `DEP-<n>` of a deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where it applies (empty: every environment); a deployment's one environment.
    pub environments: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// A deployment's status (`scheduled` while its start is ahead and nothing ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A freeze declared at run time (`shipdeck freeze add`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
    /// A freeze's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A deployment's conflicts with the calendar (windows, freezes, same service,
    /// concurrency; shared targets are checked when a start is planned or moved).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

/// Everything on the calendar overlapping `[from, until)`, in time order: window openings,
/// freeze occurrences (`emergency` names those declared at run time) and deployments, each open
/// deployment with its conflicts. `max_concurrent` gives an environment's limit.
#[must_use]
pub fn entries(
    windows: &[ChangeWindow],
    freezes: &[Freeze],
    emergency: &[String],
    bookings: &[Booking],
    max_concurrent: &dyn Fn(&str) -> Option<u32>,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let blank = |kind, name: &str, environments: &[String], (start, end)| Entry {
        kind,
        name: name.to_owned(),
        key: None,
        environments: environments.to_vec(),
        start,
        end,
        status: None,
        emergency: false,
        reason: None,
        conflicts: Vec::new(),
    };
    for w in windows {
        out.extend(w.openings(from, until).into_iter().map(|o| blank(EntryKind::Window, &w.name, &w.environments, o)));
    }
    for f in freezes {
        for o in f.occurrences(from, until) {
            let mut e = blank(EntryKind::Freeze, &f.name, &f.environments, o);
            e.emergency = emergency.contains(&f.name);
            e.reason = Some(f.reason.clone());
            out.push(e);
        }
    }
    for b in bookings.iter().filter(|b| b.start < until && b.end > from) {
        let mut e = blank(EntryKind::Deployment, &b.release, std::slice::from_ref(&b.environment), (b.start, b.end));
        e.key = Some(b.key.to_string());
        let started = b.status != DeploymentStatus::Planned && b.status != DeploymentStatus::AwaitingApproval;
        e.status = Some(shown_status(b.status, b.start, started, now).to_owned());
        if b.holds_slot() && b.end > now {
            let cal = Calendar { windows, freezes, bookings, max_concurrent: max_concurrent(&b.environment) };
            let run =
                Run { key: Some(b.key), service: &b.service, environment: &b.environment, start: b.start, end: b.end };
            e.conflicts = conflicts(&cal, &run);
        }
        out.push(e);
    }
    out.sort_by(|a, b| (a.start, a.kind as u8, &a.name).cmp(&(b.start, b.kind as u8, &b.name)));
    out
}

#[cfg(test)]
mod tests;
