//! `shipdeck audit verify | list`: the hash-chained trail of every gate decision.

use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::audit::ExpectedHead;
use crate::store::Store;
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the chain: exit 0 when intact, 1 naming the first record changed, removed or inserted
    Verify {
        /// A head printed earlier by `audit head` (and kept elsewhere): the trail must still
        /// contain that record, so a rewritten chain is detected too; it must be a record's
        /// hash (the genesis hash of 64 zeros, which every trail starts from, is refused)
        #[arg(long, value_name = "HASH")]
        expect: Option<String>,
    },
    /// Print the chain's record count and newest hash, to keep elsewhere
    Head {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List decisions, oldest first
    List {
        /// Only this deployment's decisions
        #[arg(long, value_name = "KEY")]
        deployment: Option<String>,
        /// Print JSON, one record per line
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    // A bad --expect is the user's input: refused before the log is read.
    let expect = match cmd {
        Command::Verify { expect: Some(e) } => Some(e.parse::<ExpectedHead>().map_err(usage)?),
        _ => None,
    };
    let store = ctx.open_log()?;
    match cmd {
        Command::Verify { .. } => verify(&store, expect.as_ref()),
        Command::Head { json } => {
            let (count, hash) = store.audit_head()?;
            if *json {
                outln!(std::io::stdout().lock(), "{}", serde_json::json!({ "count": count, "hash": hash }))?;
            } else {
                outln!(std::io::stdout().lock(), "{count} {hash}")?;
            }
            Ok(0)
        }
        Command::List { deployment, json } => {
            let key = match deployment {
                Some(k) => Some(k.parse::<DeploymentKey>().map_err(|e| usage(e.to_string()))?),
                None => None,
            };
            let records = store.audit_records(key)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let tz = ctx.config.timezone;
            for r in &records {
                if *json {
                    serde_json::to_writer(&mut out, r)?;
                    writeln!(out)?;
                    continue;
                }
                let role = r.role.as_deref().map_or(String::new(), |x| format!(" as {x}"));
                let os = r
                    .os_user
                    .as_deref()
                    .filter(|u| *u != r.person)
                    .map_or(String::new(), |u| format!(" (OS account {u})"));
                let text = r.note(tz);
                let key = if r.deployment.0 == 0 { "-".to_owned() } else { r.deployment.to_string() };
                let decision = r.label();
                outln!(
                    out,
                    "{:>4}  {}  {key} {:<10} {:<8} {}{role}{os}  {}  {}",
                    r.id,
                    r.decided_at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
                    r.phase,
                    decision,
                    r.person,
                    text,
                    &r.hash[..12.min(r.hash.len())]
                )?;
            }
            out.flush()?;
            Ok(0)
        }
    }
}

/// `audit verify`: the chain is intact, and holds the expected head when one is given.
fn verify(store: &Store, expect: Option<&ExpectedHead>) -> anyhow::Result<i32> {
    let n = match store.audit_verify()? {
        Ok(n) => n,
        Err(problem) => return Err(Reported(problem.to_string()).into()),
    };
    let Some(hash) = expect.map(ExpectedHead::as_str) else {
        sayln!("audit trail intact: {n} record(s)");
        return Ok(0);
    };
    let Some(id) = store.audit_find(hash)? else {
        return Err(Reported(format!(
            "the audit trail ({n} record(s)) does not contain the expected head {hash}: the chain was rewritten or cut back"
        ))
        .into());
    };
    sayln!("audit trail intact: {n} record(s); it contains the expected head {hash} (record {id})");
    Ok(0)
}
