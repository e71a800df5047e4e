//! `shipdeck gate wait | show | inbox`: pipelines block on a gate; people see what waits.
//!
//! `gate wait` against the local log polls `PRAGMA data_version` every 20 ms (a read of a
//! counter, no query) and reads the gate only when another process committed; against a
//! receiver (`--server`) it long-polls `GET /v1/deployments/{key}/gates/{phase}?wait=S`.
//! Exit codes: 0 approved, 1 rejected or the deployment halted, 3 timed out, 2 usage error.

use super::approve::gate_error;
use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::gate::view::{GateView, WaitOutcome};
use crate::store::Store;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the local log is checked for another process's commit.
pub const POLL: Duration = Duration::from_millis(20);
/// Longest single long-poll request; the client asks again until its own timeout.
const LONG_POLL_SECS: u64 = 30;
/// Exit code of a wait that timed out.
pub const TIMED_OUT: i32 = 3;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Block until a gate is decided: exit 0 approved, 1 rejected or halted, 3 timed out
    Wait(WaitArgs),
    /// Show a gate: state, approvals so far, what is missing
    Show(ShowArgs),
    /// Pending gates and failed phases, oldest first, and whether you can act on them now
    Inbox {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The phase whose gate to wait for
    phase: String,
    /// Give up after this long (e.g. 30m, 2h) with exit code 3 [default: wait forever]
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Ask this receiver instead of reading the local log (e.g. http://deploy-host:7480 or
    /// https://deploy.example.com behind a TLS-terminating proxy)
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Trust only the CA certificates of this PEM file for an https --server [default: the
    /// system's trusted roots]
    #[arg(long, env = "SHIPDECK_CA_CERT", value_name = "FILE", requires = "server")]
    ca_cert: Option<std::path::PathBuf>,
    /// Bearer token for --server
    #[arg(long, env = "SHIPDECK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// On the switch gate of a parallel deployment: wait for a switch back to the old set
    /// (exit 0, `switched back`) instead of the switch-over; exit 1 once the old set is released
    #[arg(long)]
    back: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The deployment (DEP-<n>)
    key: String,
    /// The phase whose gate to show
    phase: String,
    /// Print JSON (the same document as the long-poll endpoint)
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Wait(a) => wait(ctx, a),
        Command::Show(a) => show(ctx, a),
        Command::Inbox { json } => inbox(ctx, *json),
    }
}

fn parse_key(key: &str) -> anyhow::Result<DeploymentKey> {
    key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))
}

fn wait(ctx: &Context, a: &WaitArgs) -> anyhow::Result<i32> {
    let key = parse_key(&a.key)?;
    let timeout = match &a.timeout {
        None => None,
        Some(t) => Some(
            crate::domain::duration::parse(t)
                .ok()
                .and_then(|d| d.to_std().ok())
                .ok_or_else(|| usage(format!("--timeout \"{t}\" is not a duration (e.g. 90s, 30m, 2h)")))?,
        ),
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    let clock = ctx.clock.clone();
    let back = a.back;
    let outcome = match &a.server {
        None => {
            let store = ctx.open_log()?;
            if back {
                let view = store.gate(key, &a.phase).map_err(|e| gate_error(e, "gate wait", ctx.config.timezone))?;
                if view.switch.is_none() {
                    return Err(not_a_switch(key, &a.phase));
                }
            }
            let decided = move |v: &GateView| if back { v.back_outcome(clock.now()) } else { v.outcome() };
            wait_local_for(&store, key, &a.phase, deadline, &mut progress, &decided)?
        }
        Some(url) => {
            crate::client::check_url(url).map_err(|e| usage(format!("--server {e}")))?;
            let client = crate::client::client(a.ca_cert.as_deref()).map_err(usage)?;
            let target = GateTarget { server: url, token: a.token.as_deref(), key, phase: &a.phase };
            let mode = if back { Wait::Back(&*ctx.clock) } else { Wait::Decision };
            crate::runtime::build()?.block_on(wait_server_for(&client, &target, deadline, false, mode))?
        }
    };
    let what = format!("{key} {}", a.phase);
    match outcome {
        Some(WaitOutcome::Approved) => {
            sayln!("approved");
            Ok(0)
        }
        Some(WaitOutcome::SwitchedBack) if back => {
            sayln!("switched back");
            Ok(0)
        }
        Some(WaitOutcome::SwitchedBack) => {
            Err(Reported(format!("{what}: traffic was switched back to the old set")).into())
        }
        Some(WaitOutcome::Released) => {
            Err(Reported(format!("{what}: the old set was released, so traffic can no longer be switched back")).into())
        }
        Some(WaitOutcome::Rejected) => Err(Reported(format!("{what}: the gate was rejected")).into()),
        Some(WaitOutcome::Halted) => {
            Err(Reported(format!("{what}: the deployment was halted before the gate was decided")).into())
        }
        None => {
            esayln!("shipdeck: {what}: timed out after {} waiting for the gate", a.timeout.as_deref().unwrap_or("?"));
            Ok(TIMED_OUT)
        }
    }
}

fn not_a_switch(key: DeploymentKey, phase: &str) -> anyhow::Error {
    usage(format!("--back waits for a switch back, but {key} {phase} is not the switch gate of a parallel deployment"))
}

/// Prints a line to stderr when the gate's state or approvals change.
fn progress(view: &GateView) {
    let who: Vec<&str> = view.approvals.iter().map(|a| a.person.as_str()).collect();
    esayln!(
        "{}",
        progress_line(
            &view.deployment.to_string(),
            &view.phase,
            view.state.as_str(),
            &who,
            u64::from(view.required),
            view.deployment_status.as_str()
        )
    );
}

/// The progress line of `gate wait`, the same against the local log and a receiver.
fn progress_line(key: &str, phase: &str, state: &str, who: &[&str], required: u64, status: &str) -> String {
    format!(
        "{key} {phase}: {state} ({} of {required} approvals{}), deployment {status}",
        who.len(),
        if who.is_empty() { String::new() } else { format!(": {}", who.join(", ")) },
    )
}

/// Waits on the local log until the gate is decided (`None`: the deadline passed).
pub fn wait_local(
    store: &Store,
    key: DeploymentKey,
    phase: &str,
    deadline: Option<Instant>,
    on_change: &mut dyn FnMut(&GateView),
) -> anyhow::Result<Option<WaitOutcome>> {
    wait_local_for(store, key, phase, deadline, on_change, &GateView::outcome)
}

/// Waits on the local log until `decided` says how the wait ends (`None`: the deadline
/// passed). `decided` is asked again at every poll, not only after a commit, so an end that
/// comes with time (an old set released) is seen too.
pub fn wait_local_for(
    store: &Store,
    key: DeploymentKey,
    phase: &str,
    deadline: Option<Instant>,
    on_change: &mut dyn FnMut(&GateView),
    decided: &dyn Fn(&GateView) -> Option<WaitOutcome>,
) -> anyhow::Result<Option<WaitOutcome>> {
    let mut seen: Option<i64> = None;
    let mut last: Option<GateView> = None;
    loop {
        let version = store.data_version()?;
        if seen != Some(version) {
            seen = Some(version);
            let view = store.gate(key, phase).map_err(|e| gate_error(e, "gate wait", chrono_tz::Tz::UTC))?;
            if last.as_ref() != Some(&view) {
                on_change(&view);
                last = Some(view);
            }
        }
        if let Some(outcome) = last.as_ref().and_then(decided) {
            return Ok(Some(outcome));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// Which gate a waiter asks a receiver about.
pub struct GateTarget<'a> {
    pub server: &'a str,
    pub token: Option<&'a str>,
    pub key: DeploymentKey,
    pub phase: &'a str,
}

/// What a waiter waits for.
#[derive(Clone, Copy)]
pub enum Wait<'a> {
    /// The gate's decision (`approved`, `rejected`, ...).
    Decision,
    /// A switch back on a switch gate, judged at the clock's now.
    Back(&'a dyn crate::clock::Clock),
}

/// How a switch-back wait ends, from a receiver's gate document.
fn back_outcome(body: &serde_json::Value) -> Option<WaitOutcome> {
    match body["switch"]["state"].as_str() {
        Some("switched_back") => Some(WaitOutcome::SwitchedBack),
        Some("released") => Some(WaitOutcome::Released),
        Some("switched") => None,
        _ => match body["outcome"].as_str() {
            Some("rejected") => Some(WaitOutcome::Rejected),
            Some("halted") => Some(WaitOutcome::Halted),
            _ => None,
        },
    }
}

/// Waits by long-polling a receiver until the gate is decided (`None`: the deadline passed).
///
/// A TLS failure (a certificate that does not verify) ends the wait with its reason: retrying
/// would not change the certificate, and falling back to plain HTTP is never an option.
pub async fn wait_server(
    client: &reqwest::Client,
    server: &str,
    token: Option<&str>,
    key: DeploymentKey,
    phase: &str,
    deadline: Option<Instant>,
    quiet: bool,
) -> anyhow::Result<Option<WaitOutcome>> {
    let target = GateTarget { server, token, key, phase };
    wait_server_for(client, &target, deadline, quiet, Wait::Decision).await
}

/// [`wait_server`] for what `mode` waits for. A switch-back wait asks again no later than the
/// instant the old set is released, so that end is seen when it comes.
pub async fn wait_server_for(
    client: &reqwest::Client,
    target: &GateTarget<'_>,
    deadline: Option<Instant>,
    quiet: bool,
    mode: Wait<'_>,
) -> anyhow::Result<Option<WaitOutcome>> {
    let GateTarget { server, token, key, phase } = *target;
    let mut release_in: Option<Duration> = None;
    let base = format!("{}/v1/deployments/{key}/gates/{phase}", server.trim_end_matches('/'));
    let mut last_state = String::new();
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(None);
        }
        // The first request answers at once, so the waiter says where the gate stands before
        // long-polling for a change (the local mode does the same).
        let wait = if last_state.is_empty() {
            Duration::ZERO
        } else {
            let longest =
                release_in.map_or(Duration::from_secs(LONG_POLL_SECS), |r| r.min(Duration::from_secs(LONG_POLL_SECS)));
            left.map_or(longest, |l| l.min(longest))
        };
        let mut req =
            client.get(format!("{base}?wait={:.3}", wait.as_secs_f64())).timeout(wait + Duration::from_secs(10));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                if crate::client::tls_failure(&e).is_some() {
                    return Err(Reported(crate::client::describe(server, &e)).into());
                }
                // The receiver may be restarting: try again until the deadline.
                esayln!("shipdeck: {}; retrying", crate::client::describe(server, &e));
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let status = resp.status();
        let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
        let message = body["error"].as_str().unwrap_or("no reason given").to_owned();
        match status.as_u16() {
            200 => {}
            400 | 404 => return Err(usage(format!("{server}: {message}"))),
            401 => return Err(Reported(format!("{server} refused the request: {message}")).into()),
            _ => {
                esayln!("shipdeck: {server} answered {status}: {message}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        match mode {
            Wait::Decision => match body["outcome"].as_str() {
                Some("approved") => return Ok(Some(WaitOutcome::Approved)),
                Some("rejected") => return Ok(Some(WaitOutcome::Rejected)),
                Some("halted") => return Ok(Some(WaitOutcome::Halted)),
                Some("switched_back") => return Ok(Some(WaitOutcome::SwitchedBack)),
                _ => {}
            },
            Wait::Back(clock) => {
                if body.get("switch").is_none_or(serde_json::Value::is_null) {
                    return Err(not_a_switch(key, phase));
                }
                if let Some(end) = back_outcome(&body) {
                    return Ok(Some(end));
                }
                let until = body["switch"]["old_kept_until"]
                    .as_str()
                    .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
                release_in =
                    until.map(|u| (u - clock.now()).to_std().unwrap_or(Duration::ZERO) + Duration::from_millis(50));
            }
        }
        let state = format!("{} {}", body["state"], body["approvals"]);
        if state != last_state && quiet {
            last_state = state;
        } else if state != last_state {
            let who: Vec<&str> = body["approvals"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["person"].as_str()).collect())
                .unwrap_or_default();
            esayln!(
                "{}",
                progress_line(
                    &key.to_string(),
                    phase,
                    body["state"].as_str().unwrap_or("?"),
                    &who,
                    body["required"].as_u64().unwrap_or(0),
                    body["deployment_status"].as_str().unwrap_or("?")
                )
            );
            last_state = state;
        }
    }
}

fn show(ctx: &Context, a: &ShowArgs) -> anyhow::Result<i32> {
    let key = parse_key(&a.key)?;
    let store = ctx.open_log()?;
    let view = store.gate(key, &a.phase).map_err(|e| gate_error(e, "gate show", ctx.config.timezone))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &view.document(ctx.clock.now()))?;
        writeln!(out)?;
        return Ok(0);
    }
    let p = &view.policy;
    outln!(out, "{} {}: {} (deployment {})", view.deployment, view.phase, view.state, view.deployment_status)?;
    outln!(
        out,
        "policy: {} approval(s) from {}{}{}{}",
        view.required,
        if p.roles.is_empty() { "anyone".to_owned() } else { p.roles.join(" or ") },
        if p.allow_self { ", self-approval allowed" } else { ", no self-approval" },
        if p.bake.is_zero() { String::new() } else { format!(", bake {}", crate::domain::duration::format(p.bake)) },
        if p.windows.is_empty() { String::new() } else { format!(", windows {}", p.windows.join(", ")) },
    )?;
    for ap in &view.approvals {
        let role = ap.role.as_deref().map_or(String::new(), |r| format!(" as {r}"));
        outln!(out, "  approved by {}{role} at {}", ap.person, crate::domain::time::at(ap.at, ctx.config.timezone))?;
    }
    if let Some(r) = &view.rejection {
        outln!(out, "  rejected by {}: {}", r.person, r.reason)?;
    }
    if view.outcome().is_none() {
        let rules = crate::decide::time_rules(&ctx.config, &store)?;
        for line in still_missing(ctx, &view, &rules) {
            outln!(out, "missing: {line}")?;
        }
    }
    Ok(0)
}

/// Every rule that still stands between an undecided gate and its approval: approvals, and the
/// time rules as the gate check sees them, with when they all hold.
fn still_missing(ctx: &Context, view: &GateView, in_force: &crate::domain::team::TimeRules) -> Vec<String> {
    use crate::domain::gate::timing::{WindowState, time_state};
    let zone = ctx.config.timezone;
    // Every line names a time from which something holds: to the second where it matters.
    let at = |t: chrono::DateTime<chrono::Utc>| crate::domain::time::until(t, zone);
    let now = ctx.clock.now();
    let mut lines = Vec::new();
    if view.missing() > 0 {
        lines.push(format!("{} approval(s)", view.missing()));
    }
    if view.state == crate::domain::gate::GateState::Waiting {
        lines.push("the phase before it to succeed".to_owned());
        return lines;
    }
    let rules = time_state(&view.time_facts(&in_force.windows, &in_force.freezes), now);
    if let Some(t) = rules.planned_start {
        lines.push(format!("the planned start, {}", at(t)));
    }
    if let Some(t) = rules.bake_until {
        lines.push(format!("bake time, until {}", at(t)));
    }
    match &rules.window {
        WindowState::Closed { name, opens, .. } => lines.push(format!("a change window: {name} opens {}", at(*opens))),
        WindowState::Never => lines.push("a change window: none of them opens again".to_owned()),
        WindowState::Open { .. } | WindowState::NotRequired => {}
    }
    if let Some((name, until)) = &rules.freeze {
        lines.push(format!("the end of freeze \"{name}\", {}", at(*until)));
    }
    if !rules.all_hold(now) {
        lines.push(rules.earliest.map_or_else(
            || "no time in the coming weeks meets every time rule".to_owned(),
            |t| format!("every time rule holds from {}", at(t)),
        ));
    }
    lines
}

fn inbox(ctx: &Context, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    let operator = ctx.operator_in(&store)?;
    let items = store.inbox(operator.decider(), ctx.clock.now())?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &items)?;
        writeln!(out)?;
        return Ok(0);
    }
    if items.is_empty() {
        outln!(out, "nothing waits for you")?;
    }
    for it in &items {
        let offers: Vec<&str> = it.offers.iter().map(|d| d.as_str()).collect();
        let why = it.blocked.as_ref().map_or_else(|| "you can act now".to_owned(), |r| r.describe(ctx.config.timezone));
        outln!(
            out,
            "{} {} {}@{} -> {}  [{}]  {why}",
            it.deployment,
            it.phase,
            it.release,
            it.version,
            it.environment,
            offers.join("/")
        )?;
    }
    Ok(0)
}
