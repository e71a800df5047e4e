//! `shipdeck-bench schedule`: the change calendar at scale.
//!
//! Builds a log with 10,000 deployments scheduled over the coming year (50 services, three
//! environments, five targets each from a pool of 2,000 hosts) and a team whose calendar holds
//! 200 windows and freezes (weekly and one-off windows, one-off, weekly and yearly freezes), then
//! measures, each as the median of several runs beside a floor measured in the same run:
//! - the conflict check of one plan (`decide::schedule::conflicts` with its run length), against
//!   reading the stored windows and freezes every check starts from;
//! - `schedule next` (`decide::schedule::next`) from a busy day, against the same floor plus
//!   loading the bookings of its horizon;
//! - the Schedule view's month view, from the key press to the first frame on a 200x50 test
//!   terminal, against drawing an unchanged full-screen paragraph.

use crate::Ctx;
use crate::measure::{median, ms, time};
use anyhow::Context;
use chrono::{DateTime, NaiveTime, TimeDelta, Utc, Weekday};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::Paragraph;
use shipdeck::clock::{FixedClock, SharedClock};
use shipdeck::config::Config;
use shipdeck::decide::schedule::{self as scheduling, Proposal};
use shipdeck::domain::ReleaseRef;
use shipdeck::domain::schedule::{ChangeWindow, Freeze, Repeat, WindowTimes, YearDay};
use shipdeck::store::{PlanRequest, Store, SyncBy};
use shipdeck::tui::app::{App, Msg, Session};
use shipdeck::tui::data::Loader;
use shipdeck::tui::keymap::Keymap;
use shipdeck::tui::theme::Theme;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENVS: [&str; 3] = ["production", "staging", "dr-site"];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reuse (or keep) the generated log here
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Scheduled deployments over the year
    #[arg(long, default_value_t = 10_000)]
    deployments: usize,
    /// Windows and freezes on the calendar
    #[arg(long, default_value_t = 200)]
    rules: usize,
    /// Runs of each measurement (the median is shown)
    #[arg(long, default_value_t = 21)]
    runs: usize,
}

/// The bench's "now": Monday 2026-11-30, 09:00 UTC.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_029_200, 0).unwrap_or_default()
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn line(what: &str, took: Duration, floor: Duration, goal_ms: u64) {
    let verdict = if took < Duration::from_millis(goal_ms) { "ok" } else { "MISSED" };
    println!(
        "{what:<52} {:>10}   floor {:>9}   x{:<6.1} goal < {goal_ms} ms: {verdict}",
        ms(took),
        ms(floor),
        took.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
}

/// The built-in config with `n` more windows and freezes: about half weekly windows (evenings
/// and nights per environment) and one-off windows, half freezes (one-off over the year, weekly
/// and yearly).
fn calendar_config(base: &Config, n: usize, rng: &mut Rng) -> Config {
    let mut config = base.clone();
    let zone = config.timezone;
    let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
    let have = config.windows.len() + config.freezes.len();
    for i in 0..n.saturating_sub(have) {
        let env = vec![ENVS[i % ENVS.len()].to_owned()];
        let at = now() + TimeDelta::hours(i64::try_from(rng.below(365 * 24)).unwrap_or(0));
        match i % 4 {
            0 => {
                let start = NaiveTime::from_hms_opt(u32::try_from(16 + rng.below(6)).unwrap_or(18), 0, 0);
                let end = NaiveTime::from_hms_opt(u32::try_from(rng.below(4)).unwrap_or(2), 0, 0);
                config.windows.push(ChangeWindow {
                    name: format!("w-{i:03}"),
                    environments: env,
                    times: WindowTimes::Weekly {
                        days: vec![days[i % 7], days[(i + 3) % 7]],
                        start: start.unwrap_or_default(),
                        end: end.unwrap_or_default(),
                        zone,
                    },
                });
            }
            1 => config.windows.push(ChangeWindow {
                name: format!("w-{i:03}"),
                environments: env,
                times: WindowTimes::Once { from: at, until: at + TimeDelta::hours(8) },
            }),
            2 => config.freezes.push(Freeze {
                name: format!("f-{i:03}"),
                environments: env,
                from: at,
                until: at + TimeDelta::hours(2 + i64::try_from(rng.below(30)).unwrap_or(0)),
                reason: "bench".into(),
                repeat: None,
            }),
            _ => {
                let repeat = if i % 8 == 3 {
                    Repeat::Weekly {
                        days: vec![days[i % 7]],
                        start: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default(),
                        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
                        zone,
                    }
                } else {
                    let month = u32::try_from(1 + rng.below(12)).unwrap_or(1);
                    let day = |d: u32| YearDay { month, day: d, time: NaiveTime::MIN };
                    Repeat::Yearly { from: day(10), until: day(11), zone }
                };
                config.freezes.push(Freeze {
                    name: format!("f-{i:03}"),
                    environments: env,
                    from: shipdeck::domain::schedule::forever_from(),
                    until: shipdeck::domain::schedule::forever_until(),
                    reason: "bench".into(),
                    repeat: Some(repeat),
                });
            }
        }
    }
    config
}

fn build(config: &Config, path: &std::path::Path, deployments: usize, rng: &mut Rng) -> anyhow::Result<()> {
    let mut store = Store::open(path)?;
    store.relax_durability_for_bulk_load()?;
    store.sync_team(&config.team(), &config.subscriptions(), SyncBy::Seed { os_user: "bench" }, now())?;
    let model = config.model("big-bang").map_err(anyhow::Error::msg)?;
    for i in 0..deployments {
        let start = now() + TimeDelta::minutes(60 + i64::try_from(rng.below(365 * 24 * 60)).unwrap_or(0));
        let length = TimeDelta::minutes(30 + i64::try_from(rng.below(90)).unwrap_or(0));
        let targets: Vec<String> = (0..5)
            .map(|_| format!("h-{:04}", rng.below(2000)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let req = PlanRequest {
            release: ReleaseRef { name: format!("svc-{:02}", i % 50), version: format!("1.{i}") },
            environment: ENVS[i % ENVS.len()].to_owned(),
            model_name: "big-bang".into(),
            model,
            targets: targets.into(),
            change_ref: None,
            requested_by: "sam".into(),
            release_record: shipdeck::domain::release::ReleaseRecord::default(),
            planned_start: start,
            planned_end: Some(start + length),
            now: now(),
        };
        store.plan(&req)?;
    }
    Ok(())
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = a.db.clone().unwrap_or_else(|| dir.path().join("schedule.db"));
    let mut rng = Rng(0x5eed_cafe_f00d);
    let config = calendar_config(&ctx.config, a.rules, &mut rng);
    println!("shipdeck-bench schedule");
    if path.exists() {
        println!("log: {} (reused)", path.display());
    } else {
        let t = Instant::now();
        build(&config, &path, a.deployments, &mut rng).with_context(|| format!("cannot build {}", path.display()))?;
        println!(
            "log: {} deployments scheduled over a year, built in {:.1} s",
            a.deployments,
            t.elapsed().as_secs_f64()
        );
    }
    let store = Store::open_existing(&path)?;
    let rules = scheduling::load(
        &store,
        &config,
        &Proposal { key: None, service: "", environment: "production", targets: &[], length: TimeDelta::zero() },
        now(),
        now(),
    )?
    .rules;
    println!(
        "calendar: {} windows and {} freezes ({} of them recurring)",
        rules.windows.len(),
        rules.freezes.len(),
        rules.freezes.iter().filter(|f| f.recurs()).count()
    );
    // A plan six months ahead, onto another svc-07 production deployment (so the check has
    // conflicts to find and `schedule next` candidates to skip).
    let names: Vec<String> = ["h-0007", "h-0107", "h-0207", "h-0307", "h-0407"].map(String::from).to_vec();
    let inventory: shipdeck::domain::inventory::Inventory = names.clone().into();
    let targets = names;
    let model = config.model("big-bang").map_err(anyhow::Error::msg)?;
    let half = now() + TimeDelta::days(182);
    let start = store
        .bookings(half, half + TimeDelta::days(30), &[])?
        .into_iter()
        .find(|b| b.service == "svc-07" && b.environment == "production" && b.start >= half)
        .map_or(half, |b| b.start);
    let (floor, _) = time(a.runs, || Ok(shipdeck::decide::time_rules(&config, &store)?))?;
    let (check, found) = time(a.runs, || {
        let length = scheduling::run_length(&store, &config, "big-bang", model, &inventory)?;
        let p = Proposal { key: None, service: "svc-07", environment: "production", targets: &targets, length };
        Ok(scheduling::conflicts(&store, &config, &p, start)?)
    })?;
    let around = store.bookings(start - TimeDelta::days(1), start + TimeDelta::days(1), &[])?.len();
    println!("one plan at {start}: {} conflict(s); {around} deployments within a day of it", found.len());
    line("conflict check for one plan", check, floor, 10);
    let length = scheduling::run_length(&store, &config, "big-bang", model, &inventory)?;
    let p = Proposal { key: None, service: "svc-07", environment: "production", targets: &targets, length };
    let (next_floor, _) = time(a.runs, || {
        let rules = shipdeck::decide::time_rules(&config, &store)?;
        let bookings = store.bookings(start, start + config.schedule.horizon, &targets)?;
        Ok((rules, bookings))
    })?;
    let (next, (slot, skipped)) = time(a.runs, || Ok(scheduling::next(&store, &config, &p, start)?))?;
    println!(
        "schedule next after {start}: {} ({} earlier candidate(s) skipped)",
        slot.map_or_else(|| "none in the horizon".to_owned(), |s| s.to_string()),
        skipped.len()
    );
    line("`schedule next`", next, next_floor, 50);
    // The Schedule view: from the key to the month's first frame.
    let clock: SharedClock = Arc::new(FixedClock(start));
    let (w, h) = (200, 50);
    let mut floor_terminal = Terminal::new(TestBackend::new(w, h))?;
    let text = "x".repeat(usize::from(w));
    let paragraph = Paragraph::new(vec![ratatui::text::Line::raw(text); usize::from(h)]);
    let (frame_floor, ()) = time(a.runs, || {
        floor_terminal.draw(|f| f.render_widget(&paragraph, f.area()))?;
        Ok(())
    })?;
    let mut bars = 0;
    // Each run: a dashboard just opened on the log; timed from the key to the first frame.
    let mut times = Vec::new();
    for _ in 0..a.runs.max(1) {
        let desk = shipdeck::decide::Desk::new(&config, shipdeck::decide::Operator::named(&config, "dana", "bench"));
        let mut loader = Loader::new(Store::open_existing(&path)?, clock.clone(), config.timezone).with_gates(desk);
        let session = Session {
            db: path.display().to_string(),
            receiver: None,
            config: config.clone(),
            operator: "dana".into(),
            os_user: "bench".into(),
            notice: None,
        };
        let mut app = App::new(session, Keymap::default(), Theme::colour(), false, start);
        app.update(Msg::Resize(w, h));
        app.calendar.zoom = shipdeck::tui::app::schedule::Zoom::Month;
        let mut terminal = Terminal::new(TestBackend::new(w, h))?;
        let t = Instant::now();
        for cmd in app.update(Msg::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE))) {
            if let shipdeck::tui::app::Cmd::LoadCalendar(from, until) = cmd {
                app.update(Msg::Data(Box::new(loader.calendar(from, until)?)));
            }
        }
        terminal.draw(|f| f.render_widget(&app, f.area()))?;
        times.push(t.elapsed());
        bars = app.calendar.bars().len();
    }
    println!("month view: {bars} deployments in the month, 200x50");
    line("calendar month view, key to first frame", median(times), frame_floor, 50);
    Ok(())
}
