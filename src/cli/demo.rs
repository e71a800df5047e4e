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
    // clap takes --db over SHIPDECK_DB: the variable gave it when it says the same.
    let db_from_env = db.is_some() && std::env::var_os("SHIPDECK_DB").map(PathBuf::from) == db;
    let db = crate::demo::run(DemoOptions {
        db,
        db_from_env,
        speed: args.speed,
        seed: args.seed,
        headless: args.headless,
        history: args.history,
        config: ctx.config.clone(),
        clock: clock.clone(),
    })?;
    if !args.headless {
        eprint!("{}", look_again(&db, clock.now()));
    }
    Ok(0)
}

/// Where the demo's log is kept and how to open it again on the demo's clock: its times lie
/// ahead of the wall clock (a later change window, time sped up), so on yours every age would
/// be 0s. `demo_now` is the demo's time as it ended.
fn look_again(db: &std::path::Path, demo_now: chrono::DateTime<chrono::Utc>) -> String {
    let at = demo_now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "shipdeck demo: the log is kept at {db}\n  its times are on the demo's clock ({at} as it ended), ahead of yours\n  look again on that clock with: shipdeck --db {db} tui --clock-from {at}\n",
        db = db.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_demo_s_look_again_command_opens_its_log_on_the_demo_s_clock() {
        let demo_end = crate::store::testing::at("2026-11-26T19:42:10Z");
        let text = look_again(std::path::Path::new("demo.db"), demo_end);
        let command = text.lines().find_map(|l| l.split_once("look again on that clock with: ")).expect("a command").1;
        let cli = crate::cli::Cli::try_parse_from(command.split(' ')).expect("the printed command parses");
        assert_eq!(cli.db.as_deref(), Some(std::path::Path::new("demo.db")));
        let Some(crate::cli::Command::Tui(tui)) = cli.command else { panic!("opens the dashboard: {command}") };
        // The dashboard's clock runs on from the demo's end, not from the wall clock.
        let now = tui.clock(&crate::clock::system()).now();
        assert!(now >= demo_end && now < demo_end + chrono::TimeDelta::minutes(1), "{now}");
    }
}
