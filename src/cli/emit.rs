//! `shipdeck emit`: post one event to a receiver, as an agent or pipeline step would.

use super::{Context, Reported, usage};
use crate::domain::EventStatus;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The receiver's base URL (http:// or https://)
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7480")]
    server: String,
    /// Trust only the CA certificates of this PEM file for an https --server [default: the
    /// system's trusted roots]
    #[arg(long, env = "SHIPDECK_CA_CERT", value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// The deployment (DEP-<n>)
    #[arg(long, value_name = "KEY")]
    deployment: String,
    /// The target (host); omit for a phase-level event
    #[arg(long)]
    target: Option<String>,
    /// The phase (derived from the target when omitted)
    #[arg(long)]
    phase: Option<String>,
    /// The lifecycle step (e.g. install)
    #[arg(long)]
    step: String,
    /// started, succeeded, failed, skipped or info
    #[arg(long)]
    status: String,
    /// A message (an error's text, a progress note)
    #[arg(long)]
    message: Option<String>,
    /// The idempotency key [default: a new random UUID]
    #[arg(long)]
    id: Option<String>,
    /// When it happened, RFC 3339 [default: when the receiver gets it]
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Bearer token
    #[arg(long, env = "SHIPDECK_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn run(_ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    args.status.parse::<EventStatus>().map_err(usage)?;
    crate::client::check_url(&args.server).map_err(|e| usage(format!("--server {e}")))?;
    let client = crate::client::client(args.ca_cert.as_deref()).map_err(usage)?;
    let id = args.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut event = json!({ "id": id, "deployment": args.deployment, "step": args.step, "status": args.status });
    for (field, value) in
        [("target", &args.target), ("phase", &args.phase), ("message", &args.message), ("at", &args.at)]
    {
        if let Some(v) = value {
            event[field] = json!(v);
        }
    }
    let url = format!("{}/v1/events", args.server.trim_end_matches('/'));
    let (status, body) = crate::runtime::build()?.block_on(async {
        let mut req = client.post(&url).header("content-type", "application/x-ndjson").body(event.to_string());
        if let Some(t) = &args.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Reported(crate::client::describe(&args.server, &e)))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        Ok::<_, Reported>((status, body))
    })?;
    println!("{}", body.trim_end());
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let stored = reply["accepted"].as_u64().unwrap_or(0) + reply["duplicates"].as_u64().unwrap_or(0);
    if status.is_success() && stored == 1 {
        return Ok(0);
    }
    let why =
        reply["rejected"][0]["error"].as_str().or(reply["error"].as_str()).unwrap_or("no reason given").to_owned();
    Err(Reported(format!("the receiver refused the event ({status}): {why}")).into())
}
