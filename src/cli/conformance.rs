//! `shipdeck conformance [KEY] [--json]`: what agents did that was not authorised.
//!
//! Lists the conformance flags of one deployment, or of all: kind, phase, first and last time,
//! count and sample targets. Exit 0 whether or not there are flags; the list is the answer.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this deployment (DEP-<n>)
    key: Option<String>,
    /// One JSON object per flag, per line
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, a: &Args) -> anyhow::Result<i32> {
    let key = match &a.key {
        Some(k) => Some(k.parse::<DeploymentKey>().map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let store = ctx.open_log()?;
    let flags = store.conformance(key)?;
    let tz = ctx.config.timezone;
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if flags.is_empty() && !a.json {
        outln!(out, "no conformance flags")?;
    }
    for f in &flags {
        if a.json {
            serde_json::to_writer(&mut out, f)?;
            writeln!(out)?;
            continue;
        }
        let samples = f.sample_targets.join(", ");
        outln!(
            out,
            "{}  {:<20} {:<10} {:>6}x  {} .. {}  {}",
            f.deployment,
            f.kind,
            f.phase.as_deref().unwrap_or("-"),
            f.count,
            when(f.first_at),
            when(f.last_at),
            if samples.is_empty() { "-".into() } else { samples }
        )?;
    }
    out.flush()?;
    Ok(0)
}
