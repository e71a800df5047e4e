//! The calendar as iCalendar (RFC 5545), for stakeholders to subscribe to: one event per window
//! opening, freeze occurrence and deployment run in a period. Times are written in UTC (`Z`),
//! each computed in its window's or freeze's own zone, so every calendar program shows them at
//! the right local time; `X-WR-TIMEZONE` names the configured zone for display.

use super::{Entry, EntryKind};
use crate::domain::text::{ical_text, sanitize};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike};

/// The calendar file of `entries`; `stamp` is when it was made (`DTSTAMP`).
#[must_use]
pub fn export(entries: &[Entry], zone: chrono_tz::Tz, stamp: DateTime<Utc>) -> String {
    let mut cal = Calendar::new();
    cal.name("shipdeck change calendar").timezone(zone.name());
    for e in entries {
        let envs = if e.environments.is_empty() { "all environments".to_owned() } else { e.environments.join(", ") };
        let (summary, uid, description) = match e.kind {
            EntryKind::Window => (
                format!("Change window {} ({envs})", e.name),
                format!("window-{}-{}@shipdeck", e.name, e.start.timestamp()),
                "Deployments may proceed in this window.".to_owned(),
            ),
            EntryKind::Freeze => (
                format!("{}freeze {} ({envs})", if e.emergency { "Emergency " } else { "" }, e.name),
                format!("freeze-{}-{}@shipdeck", e.name, e.start.timestamp()),
                e.reason.clone().unwrap_or_default(),
            ),
            EntryKind::Deployment => {
                let key = e.key.clone().unwrap_or_default();
                let mut text = format!("{key} {} into {envs}: {}", e.name, e.status.as_deref().unwrap_or(""));
                for c in &e.conflicts {
                    text.push_str(&format!("\nConflict: {}", c.describe(zone)));
                }
                (format!("{key} {} → {envs}", e.name), format!("{key}@shipdeck"), text)
            }
        };
        // Names, reasons and releases come from people and agents: no control character
        // reaches the file (RFC 5545 allows none in a value) and none reaches a calendar view.
        let event = Event::new()
            .uid(&sanitize(&uid))
            .summary(&sanitize(&summary))
            .description(&ical_text(&description))
            .starts(e.start)
            .ends(e.end)
            .timestamp(stamp)
            .done();
        cal.push(event);
    }
    cal.done().to_string()
}
