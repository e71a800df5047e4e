//! `shipdeck-bench gates`: how soon `gate wait` and the long-poll notice a decision.
//!
//! Each round plans a deployment whose first phase is gated, starts a waiter (the code of
//! `gate wait`, on the log file or long-polling the real receiver on loopback), lets it settle
//! for a few milliseconds, records an approval from this process and measures from just before
//! that decision's transaction to the moment the waiter returns. Conservative: the time of the
//! decision itself (policy check, audit append, commit) is counted as latency.

use crate::Ctx;
use shipdeck::cli::gate::{wait_local, wait_server};
use shipdeck::decide::{Ask, Operator, Rules, decide};
use shipdeck::domain::gate::Decision;
use shipdeck::domain::gate::view::WaitOutcome;
use shipdeck::domain::{DeploymentKey, ReleaseRef};
use shipdeck::store::{PlanRequest, Store, SyncBy};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds for each of the two waiters
    #[arg(long, default_value_t = 100)]
    rounds: usize,
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench-gates").tempdir()?;
    let db = tmp.path().join("gates.db");
    // The gate as approvals meet it: without the checklists the shipped pilot gate requires
    // (ticking them is not what is measured) and not supervised.
    let mut model = ctx.config.model("phased")?.clone();
    for gate in model.phases.iter_mut().filter_map(|p| p.gate.as_mut()) {
        gate.require.clear();
    }
    model.supervised_runs = 0;
    let mut store = Store::open(&db)?;
    // The log's team is the config's, so the approver below is a person of it.
    store.sync_team(&ctx.config.team(), &[], SyncBy::Seed { os_user: "bench" }, ctx.clock.now())?;
    let plan = |store: &mut Store| -> anyhow::Result<DeploymentKey> {
        let now = ctx.clock.now();
        let req = PlanRequest {
            release: "bench-svc@1.0.0".parse::<ReleaseRef>()?,
            // Not production: the configured freezes and windows are not what is measured.
            environment: "bench".into(),
            model_name: "phased".into(),
            model: &model,
            targets: vec!["a".to_owned(), "b".into(), "c".into()].into(),
            change_ref: None,
            requested_by: "bench-requester".into(),
            release_record: Default::default(),
            planned_start: now,
            planned_end: None,
            now,
        };
        Ok(store.plan(&req)?.0)
    };
    // Decided as the CLI decides, by a person allowed to (the first phase's gate names
    // deployment managers); the environment is not production, so windows and freezes stay out.
    let approver = Operator::named(&ctx.config, "dana", "bench");
    let rules = Rules::from_config(&ctx.config);
    let approve = |store: &mut Store, key: DeploymentKey| -> anyhow::Result<()> {
        let ask =
            Ask { key, phase: model.phases[0].name.clone(), decision: Decision::Approve, comment: None, reason: None };
        decide(store, &rules, &approver, &ask, ctx.clock.now())?;
        Ok(())
    };
    let phase = model.phases[0].name.clone();
    println!(
        "shipdeck-bench gates: {} rounds each; latency from the approval's transaction to the waiter's return",
        a.rounds
    );

    let mut file = Vec::with_capacity(a.rounds);
    for i in 0..a.rounds {
        let key = plan(&mut store)?;
        let (db, phase) = (db.clone(), phase.clone());
        let waiter = std::thread::spawn(move || -> anyhow::Result<(Option<WaitOutcome>, Instant)> {
            let deadline = Some(Instant::now() + Duration::from_secs(10));
            let out = wait_local(&Store::open_existing(&db)?, key, &phase, deadline, &mut |_| {})?;
            Ok((out, Instant::now()))
        });
        std::thread::sleep(settle(i));
        let before = Instant::now();
        approve(&mut store, key)?;
        let (outcome, noticed) = waiter.join().map_err(|_| anyhow::anyhow!("the waiter panicked"))??;
        anyhow::ensure!(outcome == Some(WaitOutcome::Approved), "round {i}: the file waiter saw {outcome:?}");
        file.push(noticed.saturating_duration_since(before));
    }
    report("gate wait (log file, data_version poll)", &mut file, 200);

    let rt = shipdeck::runtime::build()?;
    let mut poll = rt.block_on(long_polls(ctx, &db, a.rounds, &phase, &mut store, &plan, Approver::File(&approve)))?;
    report("gate wait --server (long-poll over loopback HTTP)", &mut poll, 200);

    // Decisions through the server itself, as a person's token: the server knows it committed.
    let (_, token) = store
        .issue_token(&shipdeck::store::TokenRequest {
            person: "dana",
            name: Some("bench"),
            scope: shipdeck::domain::token::Scope::Decide,
            expires: None,
            by: "dana",
            os_user: "bench",
            now: ctx.clock.now(),
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut api = rt.block_on(long_polls(ctx, &db, a.rounds, &phase, &mut store, &plan, Approver::Api(&token)))?;
    report("decision through the API -> gate wait --server", &mut api, 5);
    Ok(())
}

/// A few milliseconds so the waiter is in its steady state, varied to sample its poll phase.
fn settle(i: usize) -> Duration {
    Duration::from_millis(30 + (i as u64 * 7) % 23)
}

type PlanFn<'a> = dyn Fn(&mut Store) -> anyhow::Result<DeploymentKey> + 'a;
type ApproveFn<'a> = dyn Fn(&mut Store, DeploymentKey) -> anyhow::Result<()> + 'a;

/// How a long-poll round's approval is made.
#[derive(Clone, Copy)]
enum Approver<'a> {
    /// In this process, on the log, as the CLI would from another process.
    File(&'a ApproveFn<'a>),
    /// Posted to the same server's decisions endpoint with this person's token.
    Api(&'a str),
}

async fn long_polls(
    ctx: &Ctx,
    db: &Path,
    rounds: usize,
    phase: &str,
    store: &mut Store,
    plan: &PlanFn<'_>,
    approver: Approver<'_>,
) -> anyhow::Result<Vec<Duration>> {
    let served = crate::measure::Served::start(ctx, db).await?;
    let url = format!("http://{}", served.addr);
    let client = shipdeck::client::client(None)?;
    let mut out = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let key = plan(store)?;
        let (wait_url, wait_phase, waiter_client) = (url.clone(), phase.to_owned(), client.clone());
        let waiter = tokio::spawn(async move {
            let deadline = Some(Instant::now() + Duration::from_secs(10));
            let outcome = wait_server(&waiter_client, &wait_url, None, key, &wait_phase, deadline, true).await;
            (outcome, Instant::now())
        });
        tokio::time::sleep(settle(i)).await;
        let before = Instant::now();
        match approver {
            Approver::File(approve) => tokio::task::block_in_place(|| approve(store, key))?,
            Approver::Api(token) => {
                let answer = client
                    .post(format!("{url}/v1/deployments/{key}/gates/{phase}/decisions"))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(r#"{"decision":"approve"}"#)
                    .send()
                    .await?;
                anyhow::ensure!(
                    answer.status().is_success(),
                    "round {i}: the decision was answered {}",
                    answer.status()
                );
            }
        }
        let (outcome, noticed) = waiter.await?;
        let outcome = outcome?;
        anyhow::ensure!(outcome == Some(WaitOutcome::Approved), "round {i}: the long-poll saw {outcome:?}");
        out.push(noticed.saturating_duration_since(before));
    }
    served.stop().await?;
    Ok(out)
}

fn report(what: &str, samples: &mut [Duration], target_ms: u32) {
    samples.sort();
    let at = |q: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    if samples.is_empty() {
        return;
    }
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} decisions (target: p99 <= {target_ms} ms)",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    );
}
