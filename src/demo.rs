//! `shipdeck demo`: the whole product working on a fresh machine with no set-up.
//!
//! It creates a log, seeds ~90 days of history, plans a live phased rollout over ~100 hosts, a
//! rolling one and a scheduled one, starts the real receiver on an ephemeral loopback port and
//! runs simulated agents that post real HTTP events. The dashboard (or, with `--headless`, a
//! summary at the end) shows the result. Nothing here takes a shortcut around the real paths.

pub mod agents;
pub mod canary;
pub mod eta_check;
pub mod failures;
pub mod history;
pub mod pipeline;
pub mod reviews;
pub mod rng;
pub mod schedule;
pub mod sink;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::decide::Operator;
use crate::domain::records::DeploymentSummary;
use crate::domain::{DeploymentKey, ReleaseRef};
use crate::server::{Receiver, ServerOptions};
use crate::store::{PlanRequest, Store, SyncBy};
use agents::{Agents, Rollout};
use anyhow::Context;
use chrono::Duration;
use pipeline::{Deciders, LogPipeline, Pipeline};
use rng::Rng;
use sink::FLAKY_CHANNEL;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// How to run the demo.
pub struct DemoOptions {
    /// The log to create; a new file in a temporary folder when absent.
    pub db: Option<PathBuf>,
    /// `db` came from the `SHIPDECK_DB` variable, not from `--db` (for the refusal's words).
    pub db_from_env: bool,
    /// Time runs this many times faster than real time.
    pub speed: f64,
    pub seed: u64,
    /// Run the simulation to the end without a screen and print a summary.
    pub headless: bool,
    /// Past deployments to seed.
    pub history: usize,
    pub config: Config,
    pub clock: SharedClock,
}

/// The demo writes a new log and refuses to touch an existing file, named as it was given.
#[derive(Debug, thiserror::Error)]
pub enum LogExists {
    #[error("\"{}\" already exists; the demo writes a new log (pass another --db, or none for a temporary one)", .0.display())]
    Flag(PathBuf),
    #[error("\"{}\" (from SHIPDECK_DB) already exists; the demo writes a new log (point SHIPDECK_DB at a new file, unset it for a temporary one, or pass --db)", .0.display())]
    Environment(PathBuf),
}

/// The live deployments of a demo.
struct Live {
    rollouts: Vec<Rollout>,
    keys: Vec<DeploymentKey>,
    /// Canaries whose agents report metrics for their analysis, and how they behave.
    canaries: Vec<(DeploymentKey, canary::Health)>,
}

/// Runs the demo; returns the log's path.
pub fn run(opts: DemoOptions) -> anyhow::Result<PathBuf> {
    let db = match &opts.db {
        Some(p) => p.clone(),
        None => tempfile::Builder::new().prefix("shipdeck-demo-").tempdir()?.keep().join("shipdeck-demo.db"),
    };
    if db.exists() {
        return Err(if opts.db_from_env { LogExists::Environment(db) } else { LogExists::Flag(db) }.into());
    }
    let mut store = Store::open(&db)?;
    store.set_zone(opts.config.timezone);
    let os_user = crate::decide::os_user();
    store.sync_team(
        &opts.config.team(),
        &opts.config.subscriptions(),
        SyncBy::Seed { os_user: &os_user },
        opts.clock.now(),
    )?;
    let mut rng = Rng::seeded(opts.seed);
    let now = opts.clock.now();
    let seeded = history::seed(&mut store, &opts.config, &mut rng, now - Duration::hours(2), opts.history)?;
    // The loopback webhook sink, and the channels to it: from now on (not for the history),
    // stakeholders are told over them too, and the delivery worker sends it all.
    let runtime = crate::runtime::build()?;
    let (sink_addr, sink) = runtime.block_on(sink::start())?;
    let config = sink::with_channels(&opts.config, sink_addr);
    store.sync_team(&config.team(), &config.subscriptions(), SyncBy::Creator { os_user: &os_user }, now)?;
    let live = plan_live(&mut store, &config, &mut rng, now)?;
    schedule::seed(&mut store, &config, now)?;
    drop(store);
    let stop_worker = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = crate::notify::spawn(crate::notify::WorkerOptions {
        db: db.clone(),
        config: std::sync::Arc::new(config.clone()),
        clock: opts.clock.clone(),
        stop: stop_worker.clone(),
    })?;
    let deciders = if opts.headless { Deciders::Colleagues } else { Deciders::Operator };
    let log_pipeline =
        std::sync::Arc::new(LogPipeline::new(Store::open(&db)?, opts.config.clone(), opts.clock.clone(), deciders));
    let pipeline: std::sync::Arc<dyn Pipeline> = log_pipeline.clone();

    let agents = runtime.block_on(async {
        let receiver = Receiver::bind(
            "127.0.0.1:0",
            ServerOptions {
                db: db.clone(),
                token: None,
                clock: opts.clock.clone(),
                config: std::sync::Arc::new(opts.config.clone()),
                signing_key: None,
            },
        )
        .await?;
        let addr = receiver.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(receiver.serve(async {
            let _ = stopped.await;
        }));
        let agents = Agents::new(addr, opts.speed);
        // The canaries' agents report their metrics for the analysis, over HTTP like the rest.
        let samples = std::sync::Arc::new(std::sync::Mutex::new(Store::open(&db)?));
        let feeders: Vec<_> = live
            .canaries
            .iter()
            .map(|&(key, health)| {
                let feed = canary::Feed {
                    receiver: addr,
                    store: samples.clone(),
                    clock: opts.clock.clone(),
                    speed: opts.speed,
                };
                tokio::spawn(async move { feed.run(key, health).await })
            })
            .collect();
        let sims: Vec<_> = live
            .rollouts
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, r)| {
                let (agents, pipeline) = (agents.clone(), pipeline.clone());
                tokio::spawn(async move { agents.run(r, pipeline, opts.seed + i as u64).await })
            })
            .collect();
        if opts.headless {
            for s in sims {
                let _ = s.await;
            }
        } else {
            let tui = crate::tui::TuiOptions {
                db: db.clone(),
                config: opts.config.clone(),
                clock: opts.clock.clone(),
                read_only: false,
                receiver: Some(addr.to_string()),
                operator: operator(&opts.config),
            };
            let result = crate::tui::run(tui).await;
            for s in &sims {
                s.abort();
            }
            result?;
        }
        for f in &feeders {
            f.abort();
        }
        let _ = stop.send(());
        server.await.context("the receiver task failed")??;
        Ok::<_, anyhow::Error>(agents)
    })?;
    stop_worker.store(true, Ordering::Relaxed);
    let _ = worker.join();
    if opts.headless {
        let store = Store::open_existing(&db)?;
        let summaries: Vec<DeploymentSummary> =
            live.keys.iter().map(|k| store.summary(*k)).collect::<Result<_, _>>()?;
        print_summary(&seeded, &agents, &summaries, &db);
        let deliveries = store.deliveries(false, usize::MAX)?;
        let sent = deliveries.iter().filter(|d| d.state == crate::domain::notify::DeliveryState::Sent).count();
        println!(
            "notifications: {} deliveries to the loopback webhook sink {sink_addr}, {sent} sent, {} answered 500 and retried ({FLAKY_CHANNEL}), {} failed",
            deliveries.len(),
            sink.refused.load(Ordering::Relaxed),
            store.failed_deliveries()?
        );
        print_eta_check(&eta_check::check(&store, &log_pipeline.predicted())?);
    }
    Ok(db)
}

/// Who the person at the demo's dashboard is: whoever `SHIPDECK_OPERATOR` or the config names
/// when that is a configured person, else `dana`, a deployment manager who did not request the
/// live rollouts, so the demo's gates are theirs to decide.
fn operator(config: &Config) -> Operator {
    let named = Operator::named(config, &crate::decide::identity::operator_name(config), &crate::decide::os_user());
    if named.is_person() { named } else { Operator::named(config, DEMO_OPERATOR, &named.os_user) }
}

/// The demo's default operator.
const DEMO_OPERATOR: &str = "dana";

/// When the demo's clock starts: now if a production change window is open for the next 90
/// minutes and no freeze applies, else shortly after the next such opening, so that gates with
/// window rules can be approved during the demo.
#[must_use]
pub fn start_time(config: &Config, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let windows: Vec<_> = config.windows.iter().filter(|w| w.applies_to("production")).collect();
    if windows.is_empty() {
        return now;
    }
    let usable = |t: chrono::DateTime<chrono::Utc>| {
        windows.iter().any(|w| w.open_at(t).is_some_and(|(_, end)| end - t >= Duration::minutes(90)))
            && !config.freezes.iter().any(|f| f.applies_to("production") && f.active_at(t))
    };
    let mut t = now;
    for _ in 0..200 {
        if usable(t) {
            return t;
        }
        // The next opening of any window after the one (if any) open now.
        let next = windows
            .iter()
            .filter_map(|w| w.next_open(w.open_at(t).map_or(t, |(_, end)| end)))
            .map(|(s, _)| s)
            .filter(|s| *s > t)
            .min();
        match next {
            Some(s) => t = s + Duration::minutes(5),
            None => break,
        }
    }
    now
}

fn plan_live(
    store: &mut Store,
    config: &Config,
    rng: &mut Rng,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Live> {
    let mut live = Live { rollouts: Vec::new(), keys: Vec::new(), canaries: Vec::new() };
    // (service, version, model, host prefix, hosts, starts in). The rolling fleet sits on six
    // racks (its batches spread over them, never more than max_unavailable out at once), the
    // pilot's in three offices (Berlin first), the blue/green one in two slots (green idle).
    let mut specs = vec![
        ("payments-api", "2.5.0", "phased", "pay-prd", 100, None),
        ("checkout-web", "7.12.1", "rolling", "web-prd", 36, None),
        ("search-svc", "3.4.0", "canary", "srch-prd", 24, Some(Duration::hours(6))),
        ("crm-portal", "4.2.0", "pilot", "crm", 18, None),
        ("storefront", "9.0.0", "parallel", "shop", 12, None),
    ];
    // Two canaries analysed live (when the canary model has analysis rules): one healthy, one
    // whose error rate climbs two minutes after its canary succeeded, so shipdeck halts it.
    let analysed = config.model_for("canary", "production").is_ok_and(|m| !m.analysis.is_empty());
    if analysed {
        specs.push(("catalog-api", "4.2.0", "canary", "cat-prd", 8, None));
        specs.push(("images-svc", "2.9.0", "canary", "img-prd", 8, None));
    }
    for (service, version, model_name, prefix, hosts, later) in specs {
        let Ok(model) = config.model_for(model_name, "production") else {
            // A config without the model (a demo on an older config) shows the others.
            continue;
        };
        let targets = demo_inventory(model_name, prefix, hosts);
        let req = PlanRequest {
            release: ReleaseRef { name: service.into(), version: version.into() },
            environment: "production".into(),
            model_name: model_name.into(),
            model,
            targets,
            change_ref: Some(format!("CHG-{}", 5000 + rng.range(0, 999))),
            requested_by: "sam".into(),
            release_record: Default::default(),
            planned_start: now + later.unwrap_or_else(Duration::zero),
            planned_end: None,
            now,
        };
        let (key, phases) = store.plan(&req)?;
        live.keys.push(key);
        match service {
            "catalog-api" => live.canaries.push((key, canary::Health::Healthy)),
            "images-svc" => live.canaries.push((key, canary::Health::Degrades { after: Duration::minutes(2) })),
            _ => {}
        }
        if later.is_some() {
            continue; // scheduled for tonight's window: nothing runs yet
        }
        let silent = (model_name == "phased").then(|| phases.get(2).and_then(|p| p.targets.get(5)).cloned()).flatten();
        live.rollouts.push(Rollout {
            key,
            service: service.into(),
            steps: model.steps.clone(),
            phases: phases.into_iter().map(|p| (p.name, p.targets)).collect(),
            parallel: agents::parallel_for(model_name),
            failure_rate: 0.04,
            silent,
        });
    }
    Ok(live)
}

/// The live rollouts' targets, labelled as their models select and spread: racks for the
/// rolling fleet, offices for the pilot, blue and green slots for the parallel one.
fn demo_inventory(model: &str, prefix: &str, hosts: usize) -> crate::domain::inventory::Inventory {
    use crate::domain::inventory::{Inventory, Target};
    let label = |i: usize| -> Vec<(String, String)> {
        match model {
            "rolling" => vec![("rack".into(), format!("r{}", 1 + i % 6))],
            "pilot" => {
                let site = ["berlin", "paris", "lisbon"][(i - 1) * 3 / hosts.max(1)];
                vec![("site".into(), site.into()), ("rack".into(), format!("r{}", 1 + i % 3))]
            }
            "parallel" => {
                let slot = if i <= hosts / 2 { "blue" } else { "green" };
                vec![("slot".into(), slot.into()), ("rack".into(), format!("r{}", 1 + i % 3))]
            }
            _ => Vec::new(),
        }
    };
    Inventory {
        targets: (1..=hosts)
            .map(|i| Target { name: format!("{prefix}-{i:03}"), labels: label(i).into_iter().collect() })
            .collect(),
    }
}

/// Each phase's ETA at its start against how long it took, and the median absolute error.
fn print_eta_check(checked: &[eta_check::Checked]) {
    let secs = |d: chrono::TimeDelta| d.num_milliseconds() as f64 / 1000.0;
    for c in checked {
        let p = &c.predicted;
        println!(
            "eta {} {} ({} hosts): predicted {:.0}s, took {:.0}s, error {:+.0}%",
            p.key,
            p.phase,
            p.hosts,
            secs(p.eta),
            secs(c.took),
            c.error * 100.0
        );
    }
    match eta_check::median_absolute_error(checked) {
        Some(e) => println!("eta median absolute error: {:.0}% over {} phases", e * 100.0, checked.len()),
        None => println!("eta median absolute error: no phase to check"),
    }
}

fn print_summary(seeded: &history::Seeded, agents: &Agents, live: &[DeploymentSummary], db: &std::path::Path) {
    let s = &agents.stats;
    println!("shipdeck demo finished");
    println!(
        "history: {} past deployments ({} failed, {} of them rolled back), {} events",
        seeded.deployments, seeded.failed, seeded.rolled_back, seeded.events
    );
    let r = &seeded.reviews;
    println!(
        "reviews: {} complete, {} drafts, {} owed; {} improvement actions ({} done, {} overdue)",
        r.complete, r.drafts, r.owed, r.actions, r.done, r.overdue
    );
    println!(
        "agents: {} posts, {} events accepted, {} duplicates (resends), {} rejected, {} posts failed",
        s.posted.load(Ordering::Relaxed),
        s.accepted.load(Ordering::Relaxed),
        s.duplicates.load(Ordering::Relaxed),
        s.rejected.load(Ordering::Relaxed),
        s.failed_posts.load(Ordering::Relaxed)
    );
    for d in live {
        println!(
            "{} {}@{} -> {} ({}): {}, {}/{} done, {} failed, {} running",
            d.key, d.release, d.version, d.environment, d.model, d.status, d.succeeded, d.targets, d.failed, d.running
        );
    }
    println!("log: {}", db.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&chrono::Utc)
    }

    #[test]
    fn the_demo_starts_inside_a_change_window_and_outside_freezes() {
        let config = Config::built_in();
        // Thursday 26 Nov 2026, 10:00 UTC: the weekday-evenings window opens at 18:00 Berlin.
        assert_eq!(start_time(&config, utc("2026-11-26T10:00:00Z")), utc("2026-11-26T17:05:00Z"));
        // Inside the window with enough time left: start right away.
        assert_eq!(start_time(&config, utc("2026-11-26T18:00:00Z")), utc("2026-11-26T18:00:00Z"));
        // During the year-end freeze: the first window after it.
        let t = start_time(&config, utc("2026-12-22T10:00:00Z"));
        assert!(t >= utc("2027-01-04T07:00:00Z"), "{t}");
    }
}
