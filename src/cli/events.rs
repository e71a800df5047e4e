//! `shipdeck events KEY`: a deployment's events, oldest first.

use super::{Context, usage};
use crate::domain::DeploymentKey;
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in &events {
        if args.json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        } else {
            let at = e.at.with_timezone(&ctx.config.timezone).format("%m-%d %H:%M:%S");
            let place = e.target.as_deref().or(e.phase.as_deref()).unwrap_or("-");
            let msg = e.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
            writeln!(out, "{at}  {place:<20} {:<12} {:<9} {msg}", e.step, e.status)?;
        }
    }
    out.flush()?;
    Ok(0)
}
