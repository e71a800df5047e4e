//! `shipdeck-bench kpi`: the delivery KPIs and the Metrics view on a log of years.
//!
//! Builds (or reuses) the history benchmark's log (100,000 finished deployments, over
//! 10,000,000 events; see [`crate::log::build_years`]) and measures, as medians: every KPI for
//! 90 days and for all time (`Store::kpis`, what `shipdeck kpi` and the view compute), and the
//! Metrics view's first frame at 200x50 (the key `6`, the data read, the frame drawn), and the
//! model review for 90 days and all time (`Store::model_review`, what `shipdeck models review`
//! and `m` in the view compute). Each is printed beside its floor: a plain scan of the rows it
//! reads, in the same run.

use crate::Ctx;
use crate::log::{self, Years, years_now as now};
use crate::measure::{median, ms};
use anyhow::Context as _;
use chrono::TimeDelta;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::clock::{FixedClock, SharedClock};
use shipdeck::store::{KpiScope, Store};
use shipdeck::tui::app::{App, Cmd, Msg, Session};
use shipdeck::tui::data::Loader;
use shipdeck::tui::keymap::Keymap;
use shipdeck::tui::theme::Theme;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reuse (or keep) the generated log here (the history benchmark's log serves as well)
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Finished deployments in the generated log
    #[arg(long, default_value_t = 100_000)]
    deployments: usize,
    /// Hosts of its large failed deployment
    #[arg(long, default_value_t = 10_000)]
    large: usize,
    /// Runs of each measurement (the median is printed)
    #[arg(long, default_value_t = 9)]
    runs: usize,
}

/// Time this thread has spent on a CPU (its `CLOCK_THREAD_CPUTIME_ID`, to the nanosecond), to tell
/// the code's cost from waiting for a core on a busy machine. Zero where it cannot be read.
fn cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

thread_local! {
    /// The median CPU time of the last [`time`] call.
    static LAST_CPU: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

fn time<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Duration, T)> {
    let mut times = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let (t, c) = (Instant::now(), cpu());
        last = Some(f()?);
        times.push(t.elapsed());
        cpus.push(cpu().saturating_sub(c));
    }
    LAST_CPU.with(|l| l.set(median(cpus)));
    Ok((median(times), last.context("no run")?))
}

fn last_cpu() -> Duration {
    LAST_CPU.with(std::cell::Cell::get)
}

/// One line: what, its wall time (and CPU time), the floor's, their ratio and the goal.
fn line(what: &str, (took, cpu): (Duration, Duration), (floor, floor_cpu): (Duration, Duration), goal_ms: u64) {
    let verdict = if took < Duration::from_millis(goal_ms) { "ok" } else { "MISSED" };
    let cpu_verdict = if cpu < Duration::from_millis(goal_ms) { "ok" } else { "MISSED" };
    println!(
        "{what:<46} {:>10} (cpu {:>9})   floor {:>9} (cpu {:>9})   x{:<5.1} goal < {goal_ms} ms: {verdict} (cpu {cpu_verdict})",
        ms(took),
        ms(cpu),
        ms(floor),
        ms(floor_cpu),
        took.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = a.db.clone().unwrap_or_else(|| dir.path().join("history.db"));
    println!("shipdeck-bench kpi");
    log::reuse_or_build_years(&ctx.config, &path, &Years { deployments: a.deployments, large: a.large })?;
    let store = Store::open_existing(&path)?;
    let at = now();
    let production = ctx.config.production_environments();
    let tz = ctx.config.timezone;
    let first = store.first_finished()?.context("the log has no finished deployment")?;
    for (label, from, goal) in [("90 days", at - TimeDelta::days(90), 50), ("all time", first, 500)] {
        let scope = KpiScope::default();
        let (took, report) = time(a.runs, || Ok(store.kpis(&scope, from, at, &production, None, tz)?))?;
        let took = (took, last_cpu());
        let (floor, rows) = time(a.runs, || Ok(store.kpi_floor(from.timestamp_millis(), at.timestamp_millis())?))?;
        let floor = (floor, last_cpu());
        let k = &report.total;
        println!(
            "{label}: {} deployments, CFR {}, recovery p50 {}s, {} gates' waits ({rows} rows read)",
            k.deployments,
            k.change_failure_rate.map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
            k.recovery.time.median_s.unwrap_or(0),
            k.approval_wait.count
        );
        line(&format!("every KPI, {label} (Store::kpis)"), took, floor, goal);
        let svc = KpiScope { service: Some("svc-07".into()), ..KpiScope::default() };
        let (took, _) = time(a.runs, || Ok(store.kpis(&svc, from, at, &production, None, tz)?))?;
        let took = (took, last_cpu());
        line(&format!("every KPI, {label}, service=svc-07"), took, floor, goal);
        let (took, _) = time(a.runs, || {
            Ok(store.kpis(&scope, from, at, &production, Some(shipdeck::domain::kpi::GroupBy::Week), tz)?)
        })?;
        let took = (took, last_cpu());
        line(&format!("every KPI, {label}, --by week"), took, floor, goal);
    }

    // The model review (what `shipdeck models review` and `m` in Metrics compute): every model's
    // numbers and the suggestion rules, beside a plain scan of the rows it reads. No goal of its
    // own in the issue: the KPIs' (50 ms for 90 days, 500 ms for all time) is the bar.
    for (label, from, goal) in [("90 days", at - TimeDelta::days(90), 50), ("all time", first, 500)] {
        let (took, review) = time(a.runs, || Ok(store.model_review(None, from, at, &production)?))?;
        let took = (took, last_cpu());
        let (floor, rows) =
            time(a.runs, || Ok(store.model_review_floor(from.timestamp_millis(), at.timestamp_millis())?))?;
        let floor = (floor, last_cpu());
        println!(
            "models review, {label}: {} models, {} runs, {} suggestion(s) ({rows} rows read)",
            review.models.len(),
            review.models.iter().map(|m| m.runs).sum::<usize>(),
            review.suggestions.len()
        );
        line(&format!("models review, {label} (Store::model_review)"), took, floor, goal);
    }

    // The Metrics view's first frame: `6` pressed, its data read (30 days and the 30 before),
    // the frame drawn at 200x50.
    let clock: SharedClock = Arc::new(FixedClock(at));
    let config = ctx.config.clone();
    let (w, h) = (200, 50);
    let mut frames = Vec::new();
    let mut frame_cpus = Vec::new();
    for _ in 0..a.runs.max(1) {
        let mut loader = Loader::new(Store::open_existing(&path)?, clock.clone(), config.timezone)
            .with_production(production.clone());
        let session = Session {
            db: path.display().to_string(),
            receiver: None,
            config: config.clone(),
            operator: "bench".into(),
            os_user: "bench".into(),
            notice: None,
        };
        let mut app = App::new(session, Keymap::default(), Theme::colour(), false, at);
        app.update(Msg::Resize(w, h));
        let (t, c) = (Instant::now(), cpu());
        for cmd in app.update(Msg::Key(KeyEvent::new(KeyCode::Char('6'), KeyModifiers::NONE))) {
            if let Cmd::LoadMetrics(ask) = cmd {
                let refresh = loader.metrics(ask)?;
                app.update(Msg::Data(Box::new(refresh)));
            }
        }
        let mut terminal = Terminal::new(TestBackend::new(w, h))?;
        terminal.draw(|f| f.render_widget(&app, f.area()))?;
        let took = t.elapsed();
        frame_cpus.push(cpu().saturating_sub(c));
        anyhow::ensure!(app.metrics.data.is_some(), "the Metrics view got no data");
        frames.push(took);
    }
    let drawn = (median(frames), median(frame_cpus));
    let (floor, _) =
        time(a.runs, || Ok(store.kpi_floor((at - TimeDelta::days(60)).timestamp_millis(), at.timestamp_millis())?))?;
    line("Metrics view first frame (6, 30d + 30d before, 200x50)", drawn, (floor, last_cpu()), 100);
    Ok(())
}
