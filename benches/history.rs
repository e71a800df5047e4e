//! `shipdeck-bench history`: History, the drill-down and `report` on a log of years.
//!
//! Builds (or reuses) a log of 100,000 finished deployments with over 10,000,000 events (see
//! [`crate::log::build_years`]) and measures, as medians, what the History view and `report`
//! ask of the store: the first page with its count, a change of filter, the last page, and the
//! report of a failed 10,000-host deployment. Each is printed beside its floor: the simplest
//! query that reads the same rows by key, in the same run.

use crate::Ctx;
use crate::log::{self, Years, years_now as now};
use crate::measure::{ms, time};
use anyhow::Context as _;
use chrono::TimeDelta;
use shipdeck::domain::history::{HistoryFilter, HistoryRow, Period, ReviewState};
use shipdeck::domain::{DeploymentKey, DeploymentStatus};
use shipdeck::store::Store;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Rows of a History page.
const PAGE: usize = 50;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reuse (or keep) the generated log here
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Finished deployments in the generated log
    #[arg(long, default_value_t = 100_000)]
    deployments: usize,
    /// Hosts of its large failed deployment
    #[arg(long, default_value_t = 10_000)]
    large: usize,
    /// Runs of each measurement (the median is printed)
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

fn size_on_disk(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// One line: what, its time, the floor's, their ratio and the goal.
fn line(what: &str, took: Duration, floor: Duration, goal_ms: u64) {
    let verdict = if took < Duration::from_millis(goal_ms) { "ok" } else { "MISSED" };
    println!(
        "{what:<52} {:>10}   floor {:>9}   x{:<6.1} goal < {goal_ms} ms: {verdict}",
        ms(took),
        ms(floor),
        took.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = a.db.clone().unwrap_or_else(|| dir.path().join("history.db"));
    println!("shipdeck-bench history");
    log::reuse_or_build_years(&ctx.config, &path, &Years { deployments: a.deployments, large: a.large })?;
    let store = Store::open_existing(&path)?;
    println!("log: {:.0} MiB on disk, {} events", size_on_disk(&path) as f64 / (1024.0 * 1024.0), store.last_seq()?);
    let rule = ctx.config.review_rule();
    let at = now();
    let runs = a.runs;

    // A page as the view loads it: the rows, and how many match.
    let page = |filter: &HistoryFilter, offset: usize| -> anyhow::Result<(Vec<HistoryRow>, usize)> {
        Ok((store.history(filter, &rule, at, offset, PAGE)?, store.history_count(filter, &rule, at)?))
    };
    let floor = |rows: &[HistoryRow]| -> anyhow::Result<Duration> {
        let keys: Vec<DeploymentKey> = rows.iter().map(|r| r.key).collect();
        Ok(time(runs, || Ok(store.deployments_by_key(&keys)?))?.0)
    };

    let all = HistoryFilter::default();
    let (first, (rows, total)) = time(runs, || page(&all, 0))?;
    println!("history: {total} finished deployments, pages of {PAGE}");
    line("first page + count", first, floor(&rows)?, 20);
    let (rows_only, _) = time(runs, || Ok(store.history(&all, &rule, at, 0, PAGE)?))?;
    let (count_only, _) = time(runs, || Ok(store.history_count(&all, &rule, at)?))?;
    println!("  (page {} + count {})", ms(rows_only), ms(count_only));

    let filters: [(&str, HistoryFilter); 6] = [
        ("filter service=svc-07", HistoryFilter { service: Some("svc-07".into()), ..HistoryFilter::default() }),
        ("filter result=failed", HistoryFilter { results: vec![DeploymentStatus::Failed], ..HistoryFilter::default() }),
        (
            "filter env=production model=rolling",
            HistoryFilter {
                environment: Some("production".into()),
                model: Some("rolling".into()),
                ..HistoryFilter::default()
            },
        ),
        ("filter period=30d", HistoryFilter { period: Period::Last(TimeDelta::days(30)), ..HistoryFilter::default() }),
        ("filter review=owed", HistoryFilter { reviews: vec![ReviewState::Owed], ..HistoryFilter::default() }),
        ("filter text=\"svc-07 sam\"", HistoryFilter { text: Some("svc-07 sam".into()), ..HistoryFilter::default() }),
    ];
    for (name, filter) in &filters {
        let (took, (rows, n)) = time(runs, || page(filter, 0))?;
        line(&format!("{name} ({n} rows)"), took, floor(&rows)?, 20);
    }

    let last = total.saturating_sub(PAGE);
    let (end, (rows, _)) = time(runs, || page(&all, last))?;
    anyhow::ensure!(rows.len() == total - last, "the last page has {} rows, not {}", rows.len(), total - last);
    line(&format!("scroll to the end (offset {last})"), end, floor(&rows)?, 50);

    let large = store.list(&shipdeck::store::ListFilter { statuses: Vec::new(), limit: 1 })?;
    let large = large.first().context("the log has no deployment")?;
    let key = large.key;
    let report_runs = runs.min(7);
    let (drill, report) = time(report_runs, || Ok(store.report(key, &rule)?))?;
    let (rows_floor, rows_read) = time(report_runs, || Ok(store.deployment_rows(key)?))?;
    println!(
        "{key}: {} hosts, {} failed in {} error groups, {} decisions ({rows_read} rows by key)",
        large.targets,
        report.deployment.failed,
        report.error_groups.len(),
        report.decisions.len()
    );
    line("drill-down (Store::report)", drill, rows_floor, 200);
    let (json, bytes) = time(report_runs, || Ok(serde_json::to_string(&store.report(key, &rule)?)?.len()))?;
    line(&format!("report as JSON in process ({} KiB)", bytes / 1024), json, rows_floor, 200);
    let exe = std::env::current_exe()?.with_file_name(format!("shipdeck{}", std::env::consts::EXE_SUFFIX));
    if exe.is_file() {
        let (cmd, out) = time(report_runs, || {
            Ok(std::process::Command::new(&exe)
                .arg("--db")
                .arg(&path)
                .args(["report", &key.to_string(), "--format", "json"])
                .output()?)
        })?;
        anyhow::ensure!(out.status.success(), "report failed: {}", String::from_utf8_lossy(&out.stderr));
        line(&format!("`shipdeck report {key} --format json` command"), cmd, rows_floor, 200);
    } else {
        println!("(no shipdeck binary beside this one: `report` command not timed)");
    }
    Ok(())
}
