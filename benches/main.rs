//! `shipdeck-bench`: the measurements the issues ask for, run on this machine's real code paths.
//!
//! A separate binary, built only with the `bench` feature, so none of it ships in `shipdeck`:
//!
//! ```sh
//! cargo build --release --features bench
//! target/release/shipdeck-bench ingest          # or latency, gates, dashboard, history, kpi, schedule
//! ```
//!
//! Adding a benchmark: a file here with an `Args` (clap) and a `run(&Ctx, &Args)`, a variant in
//! [`Bench`], and a paragraph in the README's Benchmarks section. Logs with history come from
//! [`log`], the one generator every benchmark shares; SQL a benchmark needs lives in
//! `src/store/bench.rs`.

mod dashboard;
mod gates;
mod history;
mod ingest;
mod kpi;
mod latency;
mod log;
mod measure;
mod notify;
mod replay;
mod schedule;
mod techniques;

use clap::{Parser, Subcommand};
use shipdeck::clock::SharedClock;
use shipdeck::config::Config;

/// Measure shipdeck on this machine.
#[derive(Debug, Parser)]
#[command(name = "shipdeck-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Agents posting NDJSON to the receiver on loopback, against SQLite's raw append rate
    Ingest(ingest::Args),
    /// Commit-to-dashboard latency while the receiver ingests a steady stream
    Latency(latency::Args),
    /// How soon `gate wait` and the gate long-poll notice a decision (p50/p99)
    Gates(gates::Args),
    /// The dashboard: frame cost, refresh cost, start to first frame, memory
    Dashboard(dashboard::Args),
    /// History, the drill-down and `report` on 100,000 deployments, against their floors
    History(history::Args),
    /// Every delivery KPI for 90 days and all time, and the Metrics view, against their floors
    Kpi(kpi::Args),
    /// Planning 100,000 labelled targets by technique (spread over racks), against a floor
    Techniques(techniques::Args),
    /// The change calendar: conflict check, `schedule next` and the month view at scale
    Schedule(schedule::Args),
    /// The delivery worker: a burst to a webhook sink, ingest beside it, happening to first attempt
    Notify(notify::Args),
    /// `status --at` and the dashboard's replay steps on a 10,000-host deployment, against floors
    Replay(replay::Args),
}

/// What every benchmark may need: the built-in config (so numbers do not depend on the
/// user's) and the system clock.
pub struct Ctx {
    pub config: Config,
    pub clock: SharedClock,
}

fn main() {
    let cli = Cli::parse();
    // reqwest is built without a default crypto provider (as `shipdeck` itself does at start).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ctx = Ctx { config: Config::built_in(), clock: shipdeck::clock::system() };
    let result = match &cli.bench {
        Bench::Ingest(a) => ingest::run(&ctx, a),
        Bench::Latency(a) => latency::run(&ctx, a),
        Bench::Gates(a) => gates::run(&ctx, a),
        Bench::Dashboard(a) => dashboard::run(a),
        Bench::History(a) => history::run(&ctx, a),
        Bench::Kpi(a) => kpi::run(&ctx, a),
        Bench::Techniques(a) => techniques::run(&ctx, a),
        Bench::Schedule(a) => schedule::run(&ctx, a),
        Bench::Notify(a) => notify::run(&ctx, a),
        Bench::Replay(a) => replay::run(&ctx, a),
    };
    if let Err(e) = result {
        eprintln!("shipdeck-bench: {e:#}");
        std::process::exit(1);
    }
}
