//! `shipdeck demo`: a seeded log, the real receiver and simulated agents, on the dashboard.

use super::Context;
use crate::demo::DemoOptions;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Speed up time by this factor (agents' steps take seconds at 1)
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Seed of the simulation, for a reproducible demo
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Run the simulation to the end without a screen and print a summary
    #[arg(long)]
    headless: bool,
    /// Past deployments to seed the log with
    #[arg(long, default_value_t = 300)]
    history: usize,
}

pub fn run(ctx: &Context, db: Option<PathBuf>, args: &Args) -> anyhow::Result<i32> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(super::usage(format!("--speed {} must be a positive number", args.speed)));
    }
    // The demo keeps its own time: it starts inside a change window and runs `speed` times faster,
    // so bake times pass and window rules can be met while you watch.
    let start = crate::demo::start_time(&ctx.config, ctx.clock.now());
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::ScaledClock::new(start, args.speed));
    let db = crate::demo::run(DemoOptions {
        db,
        speed: args.speed,
        seed: args.seed,
        headless: args.headless,
        history: args.history,
        config: ctx.config.clone(),
        clock,
    })?;
    if !args.headless {
        eprintln!("shipdeck demo: the log is kept at {}", db.display());
        eprintln!("  look again with: shipdeck --db {}", db.display());
    }
    Ok(0)
}
