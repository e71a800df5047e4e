//! `shipdeck events KEY`: a deployment's events, oldest first.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use chrono::Datelike;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// Print one JSON object per line
    #[arg(long)]
    json: bool,
    /// Show the newest N events
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let store = ctx.open_log()?;
    let events = store.events(key, args.limit)?;
    let tz = ctx.config.timezone;
    let this_year = ctx.clock.now().with_timezone(&tz).year();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in &events {
        if args.json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        } else {
            let local = e.at.with_timezone(&tz);
            // The year only when it is not this one: a far-off time must not pass for today's.
            let at = if local.year() == this_year {
                local.format("%m-%d %H:%M:%S")
            } else {
                local.format("%Y-%m-%d %H:%M:%S")
            };
            let place = e.target.as_deref().or(e.phase.as_deref()).unwrap_or("-");
            let msg = e.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
            outln!(out, "{at}  {place:<20} {:<12} {:<9} {msg}", e.step, e.status)?;
        }
    }
    out.flush()?;
    Ok(0)
}
