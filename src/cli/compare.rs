//! `shipdeck compare KEY1 KEY2`: two runs side by side: phases, step durations and failures,
//! hosts that failed in both, error groups new in the second, where they first diverged.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::compare::{self, Comparison, Failed, StepSide};
use crate::store::Store;
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

fn failed(store: &Store, key: DeploymentKey) -> anyhow::Result<Vec<Failed>> {
    let phases = store.failed_phases(key)?;
    Ok(store.failures(key)?.into_iter().map(|f| (phases.get(&f.target).cloned().unwrap_or_default(), f)).collect())
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let parse = |s: &str| s.parse::<DeploymentKey>().map_err(|e: crate::domain::BadKey| usage(e.to_string()));
    let (a, b) = (parse(&args.first)?, parse(&args.second)?);
    let store = ctx.open_log()?;
    let rule = ctx.config.review_rule();
    let (ra, rb) = (store.report(a, &rule)?, store.report(b, &rule)?);
    let c = compare::compare(&ra, &failed(&store, a)?, &rb, &failed(&store, b)?);
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
        print(&mut out, &c)?;
    }
    out.flush()?;
    Ok(0)
}

fn print(out: &mut impl Write, c: &Comparison) -> std::io::Result<()> {
    for (label, s) in [("first ", &c.first), ("second", &c.second)] {
        outln!(
            out,
            "{label} {:<9} {} -> {} · {} · {} · {}/{} hosts failed",
            s.key,
            s.release,
            s.environment,
            s.model,
            s.status,
            s.failed,
            s.targets
        )?;
    }
    outln!(out)?;
    match &c.divergence {
        Some(d) => outln!(out, "first divergence: phase {}: {}", d.phase, d.what)?,
        None => outln!(out, "no divergence: every phase ended the same way")?,
    }
    outln!(out)?;
    outln!(out, "{:<14} {:>28}   {:>28}", "PHASE", c.first.key, c.second.key)?;
    let dur = |s: Option<i64>| {
        s.map_or_else(|| "-".to_owned(), |s| crate::domain::duration::format_coarse(chrono::TimeDelta::seconds(s)))
    };
    for p in &c.phases {
        let cell = |s: &Option<compare::PhaseSide>| {
            s.as_ref().map_or_else(
                || "-".to_owned(),
                |s| format!("{} {}/{} failed {}", s.status, s.failed, s.targets, dur(s.duration_s)),
            )
        };
        outln!(out, "{:<14} {:>28}   {:>28}", p.phase, cell(&p.first), cell(&p.second))?;
    }
    outln!(out)?;
    outln!(out, "{:<14} {:<10} {:>28}   {:>28}", "PHASE", "STEP", "p50 / p95 (failed)", "p50 / p95 (failed)")?;
    let cell = |s: &Option<StepSide>| {
        s.as_ref().map_or_else(|| "-".to_owned(), |s| format!("{:.0}s / {:.0}s ({})", s.p50_s, s.p95_s, s.failed))
    };
    for s in &c.steps {
        outln!(out, "{:<14} {:<10} {:>28}   {:>28}", s.phase, s.step, cell(&s.first), cell(&s.second))?;
    }
    outln!(out)?;
    if c.failed_in_both.is_empty() {
        outln!(out, "no host failed in both")?;
    } else {
        outln!(out, "failed in both ({}): {}", c.failed_in_both.len(), c.failed_in_both.join(", "))?;
    }
    if c.new_error_groups.is_empty() {
        outln!(out, "no error group new in {}", c.second.key)?;
    } else {
        outln!(out, "error groups new in {}:", c.second.key)?;
        for g in &c.new_error_groups {
            outln!(out, "  {:>4} {} ({})", g.count, g.pattern, g.steps.join(", "))?;
        }
    }
    Ok(())
}
