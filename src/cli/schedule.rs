//! `shipdeck schedule list | next | export`: the change calendar on the command line.
//!
//! `list` prints windows, freezes and deployments in a period (with each scheduled deployment's
//! conflicts); `next` finds the earliest start where a whole estimated run fits a window, in no
//! freeze and beside no conflicting deployment; `export --ics` writes the calendar as iCalendar
//! (the receiver serves the same at `GET /v1/calendar.ics`).

use super::{Context, Reported, usage};
use crate::decide::schedule::{self as scheduling, Proposal, parse_time};
use chrono::{DateTime, TimeDelta, Utc};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Windows, freezes and deployments in a period, with conflicts
    List {
        /// From (RFC 3339 or YYYY-MM-DDTHH:MM in the configured zone) [default: now]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Until [default: 14 days after --from]
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The earliest start where the whole estimated run fits the calendar
    Next {
        /// The service (the release's name)
        #[arg(long, value_name = "NAME")]
        service: String,
        /// The environment
        #[arg(long, value_name = "ENV")]
        env: String,
        /// The deployment model (its history gives the run's length) [default: the first
        /// model allowed in the environment]
        #[arg(long)]
        model: Option<String>,
        /// The targets: a file or a comma-separated list (shared targets are conflicts)
        #[arg(long, value_name = "FILE_OR_LIST")]
        targets: Option<String>,
        /// Not before this time [default: now]
        #[arg(long, value_name = "TIME")]
        after: Option<String>,
        /// Say why each earlier candidate start was skipped
        #[arg(long)]
        explain: bool,
    },
    /// Write the calendar as a file for calendar programs
    Export {
        /// iCalendar (RFC 5545); the only format
        #[arg(long, required = true)]
        ics: bool,
        /// From [default: 7 days ago]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Until [default: 90 days from now]
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
}

/// The period of `--from` / `--until`, with defaults relative to now.
fn period(
    ctx: &Context,
    from: Option<&str>,
    until: Option<&str>,
    default_from: DateTime<Utc>,
    default_len: TimeDelta,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let zone = ctx.config.timezone;
    let from_t = from.map(|f| parse_time("--from", f, zone)).transpose().map_err(usage)?.unwrap_or(default_from);
    let until_t =
        until.map(|u| parse_time("--until", u, zone)).transpose().map_err(usage)?.unwrap_or(from_t + default_len);
    if until_t <= from_t {
        return Err(usage(format!("--until \"{}\" is not after --from", until.unwrap_or_default())));
    }
    if until_t - from_t > TimeDelta::days(3 * 366) {
        return Err(usage("the period is longer than three years: give a shorter --from / --until"));
    }
    Ok((from_t, until_t))
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    let now = ctx.clock.now();
    let zone = ctx.config.timezone;
    let at = |t: DateTime<Utc>| t.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z").to_string();
    match cmd {
        Command::List { from, until, json } => {
            let span = period(ctx, from.as_deref(), until.as_deref(), now, TimeDelta::days(14))?;
            let store = ctx.open_log()?;
            let entries = scheduling::entries(&store, &ctx.config, span, now)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if *json {
                let doc = serde_json::json!({ "from": span.0, "until": span.1, "entries": entries });
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
                out.flush()?;
                return Ok(0);
            }
            for e in &entries {
                let envs = if e.environments.is_empty() { "all".to_owned() } else { e.environments.join(",") };
                let what = match e.kind {
                    crate::domain::calendar::EntryKind::Window => format!("window   {}", e.name),
                    crate::domain::calendar::EntryKind::Freeze => {
                        format!("{}   {}", if e.emergency { "FREEZE!" } else { "freeze " }, e.name)
                    }
                    crate::domain::calendar::EntryKind::Deployment => format!(
                        "{:<8} {} [{}]",
                        e.key.as_deref().unwrap_or(""),
                        e.name,
                        e.status.as_deref().unwrap_or("")
                    ),
                };
                outln!(out, "{} → {}  {envs:<12} {what}", at(e.start), at(e.end))?;
                for c in &e.conflicts {
                    outln!(out, "    conflict: {}", c.describe(zone))?;
                }
            }
            if entries.is_empty() {
                outln!(out, "nothing on the calendar from {} to {}", at(span.0), at(span.1))?;
            }
            out.flush()?;
            Ok(0)
        }
        Command::Next { service, env, model, targets, after, explain } => {
            ctx.config.environment(env).map_err(usage)?;
            let model_name = match model {
                Some(m) => m.clone(),
                None => ctx
                    .config
                    .models
                    .iter()
                    .find(|(_, m)| m.environments.is_empty() || m.environments.contains(env))
                    .map(|(n, _)| n.clone())
                    .ok_or_else(|| usage(format!("no model may deploy into \"{env}\": name one with --model")))?,
            };
            let m = ctx.config.model_for(&model_name, env).map_err(usage)?;
            let targets = match targets {
                Some(t) => super::plan::read_targets(t)?,
                None => vec![format!("{service}-host")].into(),
            };
            let after_t = after.as_deref().map(|a| parse_time("--after", a, zone)).transpose().map_err(usage)?;
            let after_t = after_t.unwrap_or(now).max(now);
            let store = ctx.open_log()?;
            let length = scheduling::run_length(&store, &ctx.config, &model_name, m, &targets)?;
            let names = targets.names();
            let proposal = Proposal { key: None, service, environment: env, targets: &names, length };
            let (slot, skipped) = scheduling::next(&store, &ctx.config, &proposal, after_t)?;
            if *explain {
                for s in &skipped {
                    let why: Vec<String> = s.conflicts.iter().map(|c| c.describe(zone)).collect();
                    esayln!("skipped {}: {}", at(s.start), why.join("; "));
                }
            }
            match slot {
                Some(t) => {
                    sayln!("{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                    esayln!(
                        "next free slot for {service} in {env}: {} to {} (estimated run {}, model {model_name})",
                        at(t),
                        at(t + length),
                        crate::domain::duration::format(length)
                    );
                    Ok(0)
                }
                None => Err(Reported(format!(
                    "no free slot for {service} in {env} within {} of {} ({} candidate start(s) tried; --explain says why)",
                    crate::domain::duration::format(ctx.config.schedule.horizon),
                    at(after_t),
                    skipped.len()
                ))
                .into()),
            }
        }
        Command::Export { ics: _, from, until } => {
            let span = period(ctx, from.as_deref(), until.as_deref(), now - TimeDelta::days(7), TimeDelta::days(97))?;
            let store = ctx.open_log()?;
            let entries = scheduling::entries(&store, &ctx.config, span, now)?;
            let text = crate::domain::calendar::ics::export(&entries, zone, now);
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            Ok(0)
        }
    }
}
