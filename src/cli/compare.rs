//! `shipdeck compare KEY1 KEY2`: two runs side by side: phases, step durations and failures,
//! hosts that failed in both, error groups new in the second, where they first diverged.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::compare;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first run (DEP-<n>)
    first: String,
    /// The second run (DEP-<n>), compared against the first
    second: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let parse = |s: &str| s.parse::<DeploymentKey>().map_err(|e: crate::domain::BadKey| usage(e.to_string()));
    let (a, b) = (parse(&args.first)?, parse(&args.second)?);
    let store = ctx.open_log()?;
    let rule = ctx.config.review_rule();
    let c = store.comparison(a, b, &rule)?;
    if !c.same_service || !c.same_environment {
        esayln!(
            "note: {} is {} in {}, {} is {} in {}: different {}",
            c.first.key,
            c.first.release,
            c.first.environment,
            c.second.key,
            c.second.release,
            c.second.environment,
            if c.same_service { "environments" } else { "services" }
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &c)?;
        writeln!(out)?;
    } else {
        for line in compare::lines(&c) {
            outln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(0)
}
