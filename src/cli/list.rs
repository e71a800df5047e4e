//! `shipdeck list`: deployments, newest first.

use super::{Context, usage};
use crate::domain::DeploymentStatus;
use crate::store::ListFilter;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Only deployments in this status (repeatable)
    #[arg(long, value_name = "STATUS")]
    status: Vec<String>,
    /// Show at most N
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let statuses =
        args.status.iter().map(|s| s.parse::<DeploymentStatus>().map_err(usage)).collect::<anyhow::Result<Vec<_>>>()?;
    let store = ctx.open_log()?;
    let list = store.list(&ListFilter { statuses, limit: args.limit })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else {
        outln!(
            out,
            "{:<9} {:<32} {:<12} {:<10} {:<18} {:>11} {:>6}",
            "KEY",
            "RELEASE",
            "ENV",
            "MODEL",
            "STATUS",
            "DONE",
            "FAILED"
        )?;
        for d in &list {
            let release = format!("{}@{}", d.release, d.version);
            outln!(
                out,
                "{:<9} {:<32} {:<12} {:<10} {:<18} {:>11} {:>6}",
                d.key.to_string(),
                release,
                d.environment,
                d.model,
                crate::domain::calendar::shown_status(
                    d.status,
                    d.planned_at,
                    d.started_at.is_some() || d.last_event_seq > 0,
                    ctx.clock.now()
                ),
                format!("{}/{}", d.succeeded, d.targets),
                d.failed
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}
