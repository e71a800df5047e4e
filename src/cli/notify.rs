//! `shipdeck notify run | list | retry | test`: the delivery worker alone, the outbox, a
//! failed delivery queued again, and one test message through a channel.

use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::notify::{Delivery, DeliveryState, Outgoing};
use crate::notify::{WorkerOptions, channels};
use crate::store::{RetryError, Store};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the delivery worker alone (`shipdeck serve` runs it too) until Ctrl-C or SIGTERM
    Run,
    /// The outbox: every delivery, newest first, with its state
    List {
        /// Only deliveries that failed for good
        #[arg(long)]
        failed: bool,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        /// How many (0: all)
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue a failed delivery again (its attempts start over, its idempotency key stays)
    Retry {
        /// The delivery's id (from `notify list`)
        id: i64,
    },
    /// Send a test message through a channel now, to check its set-up
    Test {
        /// The channel's name (`[channels.NAME]`)
        channel: String,
        /// The person it is addressed to (for e-mail: their address) [default: the operator]
        #[arg(long, value_name = "PERSON")]
        to: Option<String>,
    },
}

impl Command {
    /// Whether the command writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        matches!(self, Self::Run | Self::Retry { .. })
    }
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Run => worker(ctx),
        Command::List { failed, json, limit } => list(ctx, *failed, *json, *limit),
        Command::Retry { id } => retry(ctx, *id),
        Command::Test { channel, to } => test(ctx, channel, to.as_deref()),
    }
}

fn worker(ctx: &Context) -> anyhow::Result<i32> {
    let db = ctx.db_path()?;
    drop(Store::open_existing(&db)?);
    let stop = Arc::new(AtomicBool::new(false));
    let opts = WorkerOptions {
        db: db.clone(),
        config: Arc::new(ctx.config.clone()),
        clock: ctx.clock.clone(),
        stop: stop.clone(),
    };
    let handle = crate::notify::spawn(opts)?;
    esayln!("shipdeck delivery worker on {} ({} channel(s))", db.display(), ctx.config.channels.len());
    crate::runtime::build()?.block_on(super::serve::shutdown_signal());
    stop.store(true, Ordering::Relaxed);
    let stats = handle.join().map_err(|_| anyhow::anyhow!("the delivery worker panicked"))??;
    esayln!("shipdeck delivery worker stopped: {} sent, {} failed attempt(s)", stats.sent, stats.failed_attempts);
    Ok(0)
}

fn list(ctx: &Context, failed: bool, json: bool, limit: usize) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    let rows = store.deliveries(failed, if limit == 0 { usize::MAX } else { limit })?;
    let mut out = std::io::stdout().lock();
    if json {
        for d in &rows {
            writeln!(out, "{}", serde_json::to_string(d)?)?;
        }
        return Ok(0);
    }
    if rows.is_empty() {
        outln!(out, "{}", if failed { "no failed deliveries" } else { "no deliveries" })?;
        return Ok(0);
    }
    for d in &rows {
        let key = d.outgoing.deployment.map(|k| k.to_string()).unwrap_or_default();
        outln!(
            out,
            "{:>6}  {:<9} {:<10} {:<14} {:<22} {:<8} {}  [{}]",
            d.id,
            d.state.as_str(),
            d.outgoing.recipient,
            d.channel,
            d.outgoing.kind,
            key,
            d.outgoing.subject,
            d.state_text(ctx.config.timezone)
        )?;
    }
    Ok(0)
}

fn retry(ctx: &Context, id: i64) -> anyhow::Result<i32> {
    let mut store = Store::open_existing(&ctx.db_path()?)?;
    match store.retry_delivery(id, ctx.clock.now()) {
        Ok(d) => {
            sayln!(
                "queued again: delivery {} to {} via {} ({}), idempotency key {}",
                d.id,
                d.outgoing.recipient,
                d.channel,
                d.outgoing.subject,
                d.idempotency_key
            );
            Ok(0)
        }
        Err(RetryError::Store(e)) => Err(e.into()),
        Err(e @ RetryError::Unknown(_)) => Err(usage(e.to_string())),
        Err(e @ RetryError::NotFailed { .. }) => Err(Reported(e.to_string()).into()),
    }
}

fn test(ctx: &Context, channel: &str, to: Option<&str>) -> anyhow::Result<i32> {
    if channel == crate::config::notify::IN_APP {
        sayln!("in_app needs no set-up: notifications are stored in the log and shown in the dashboard");
        return Ok(0);
    }
    if !ctx.config.channels.contains_key(channel) {
        let known: Vec<&str> = ctx.config.channels.keys().map(String::as_str).collect();
        return Err(usage(format!(
            "unknown channel \"{channel}\" (channels: {})",
            if known.is_empty() { "none configured".to_owned() } else { known.join(", ") }
        )));
    }
    let person = match to {
        Some(p) => p.to_owned(),
        None => ctx.config.operator.clone().or_else(|| std::env::var("SHIPDECK_OPERATOR").ok()).unwrap_or_default(),
    };
    if ctx.config.person(&person).is_none() {
        let known: Vec<&str> = ctx.config.people.iter().map(|p| p.name.as_str()).collect();
        return Err(usage(format!("unknown person \"{person}\" for --to (people: {})", known.join(", "))));
    }
    let now = ctx.clock.now();
    let d = Delivery {
        id: 0,
        notification: 0,
        channel: channel.to_owned(),
        state: DeliveryState::Sending,
        attempts: 1,
        max_attempts: Some(1),
        due_at: now,
        last_error: None,
        sent_at: None,
        created_at: now,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        outgoing: Outgoing {
            recipient: person.clone(),
            kind: "test".into(),
            deployment: None::<DeploymentKey>,
            phase: None,
            subject: format!("shipdeck test message for {person} via {channel}"),
            body: "If you read this, the channel works.".into(),
        },
        items: Vec::new(),
    };
    let client = crate::notify::http_client().map_err(|e| anyhow::anyhow!(e))?;
    let config = ctx.config.clone();
    let result = crate::runtime::build()?.block_on(async { channels::send(&config, &client, channel, &d).await });
    match result {
        Ok(()) => {
            sayln!("sent: test message to {person} via {channel} (idempotency key {})", d.idempotency_key);
            Ok(0)
        }
        Err(e) => Err(Reported(format!("test message to {person} via {channel} failed: {e}")).into()),
    }
}
