//! `shipdeck report KEY`: the post-deployment report for the change record.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::report;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown that renders on GitHub and GitLab
    Md,
    /// JSON with the same content
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let store = ctx.open_log()?;
    let report = store.report(key, &ctx.config.review_rule())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        // Already sanitised cell by cell; Markdown keeps its own line breaks.
        Format::Md => write!(out, "{}", report::markdown(&report, ctx.config.timezone))?,
    }
    out.flush()?;
    Ok(0)
}
