//! `shipdeck-bench techniques`: planning a large labelled fleet by each technique.
//!
//! Builds an inventory of `--targets` hosts (default 100,000) over `--racks` racks (500) and five
//! sites, then plans it with the real planner: a rolling model spread over racks (batches of
//! 1%, max_unavailable 1%), and a pilot by site spread over racks. Each figure is the median of
//! `--runs` beside a same-run floor (copying the fleet's names, the least any plan does) and the
//! goal (under 500 ms). It also plans the rolling deployment into a fresh log once (SQL
//! included) for the record.

use crate::Ctx;
use shipdeck::domain::inventory::{Inventory, Target};
use shipdeck::domain::{DeploymentModel, plan};
use shipdeck::store::{PlanRequest, Store};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Targets in the inventory
    #[arg(long, default_value_t = 100_000)]
    targets: usize,
    /// Racks the targets are spread over
    #[arg(long, default_value_t = 500)]
    racks: usize,
    /// Runs of each measurement (the median is printed)
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn inventory(n: usize, racks: usize) -> Inventory {
    const SITES: [&str; 5] = ["berlin", "paris", "tokyo", "austin", "lagos"];
    let targets = (0..n)
        .map(|i| Target {
            name: format!("host-{i:06}"),
            labels: [
                ("site".to_owned(), SITES[i % SITES.len()].to_owned()),
                ("rack".to_owned(), format!("rack-{:03}", (i / 7) % racks.max(1))),
                ("group".to_owned(), if i % 50 == 0 { "internal" } else { "customers" }.to_owned()),
                ("slot".to_owned(), if i % 2 == 0 { "blue" } else { "green" }.to_owned()),
            ]
            .into_iter()
            .collect(),
        })
        .collect();
    Inventory { targets }
}

fn model(text: &str) -> anyhow::Result<DeploymentModel> {
    Ok(toml::from_str(text)?)
}

fn median(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(what: &str, took: Duration, floor: Duration, goal_ms: f64) {
    let verdict = if ms(took) < goal_ms { "ok" } else { "MISSED" };
    println!(
        "{what:<52} {:>8.1} ms   floor {:>6.1} ms   x{:<6.1} goal < {goal_ms} ms: {verdict}",
        ms(took),
        ms(floor),
        ms(took) / ms(floor).max(0.001)
    );
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let inv = inventory(a.targets, a.racks);
    println!("inventory: {} targets, {} racks, 5 sites, labels site, rack, group, slot", inv.len(), a.racks);
    let floor = median(a.runs, || {
        std::hint::black_box(inv.names());
        Ok(())
    })?;
    let rolling = model(
        "technique = \"rolling\"\nsteps = [\"install\"]\nbatch = \"1%\"\nmax_unavailable = \"1%\"\nspread = \"rack\"\n",
    )?;
    let pilot = model(
        "technique = \"pilot\"\nsteps = [\"install\"]\n\n[[phases]]\nname = \"internal\"\nselect = \"group=internal\"\nspread = \"rack\"\n\n\
         [[phases]]\nname = \"berlin\"\nselect = \"site=berlin\"\ntargets = \"50%\"\nspread = \"rack\"\n\n[[phases]]\nname = \"rest\"\nspread = \"rack\"\n",
    )?;
    let mut batches = 0;
    let took = median(a.runs, || {
        batches = plan::plan(&rolling, &inv)?.len();
        Ok(())
    })?;
    line(&format!("plan rolling, 1% batches spread over racks ({batches} batches)"), took, floor, 500.0);
    let mut shape = String::new();
    let took = median(a.runs, || {
        shape = shipdeck::domain::rehearsal::shape(&plan::plan(&pilot, &inv)?);
        Ok(())
    })?;
    line("plan pilot by label, spread over racks", took, floor, 500.0);
    println!("  ({shape})");
    let parallel = model("technique = \"parallel\"\nsteps = [\"install\"]\nnew = \"slot=green\"\nspread = \"rack\"\n")?;
    let took = median(a.runs, || {
        shape = shipdeck::domain::rehearsal::shape(&plan::plan(&parallel, &inv)?);
        Ok(())
    })?;
    line("plan parallel (blue/green by slot), spread over racks", took, floor, 500.0);
    println!("  ({shape})");

    let tmp = tempfile::Builder::new().prefix("shipdeck-bench-techniques").tempdir()?;
    let mut store = Store::open(&tmp.path().join("plan.db"))?;
    let now = ctx.clock.now();
    let req = PlanRequest {
        release: "bench-svc@1.0.0".parse()?,
        environment: "bench".into(),
        model_name: "rolling".into(),
        model: &rolling,
        targets: inv.clone(),
        change_ref: None,
        requested_by: "bench".into(),
        release_record: Default::default(),
        planned_start: now,
        planned_end: None,
        now,
    };
    let t = Instant::now();
    store.plan(&req)?;
    println!(
        "plan rolling into a new log (one transaction, labels stored) {:>8.1} ms (for the record)",
        ms(t.elapsed())
    );
    Ok(())
}
