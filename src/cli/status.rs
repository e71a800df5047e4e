//! `shipdeck status KEY`: one deployment, its phases in order and each phase's targets.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::records::DeploymentDetail;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// Print JSON (the same document as GET /v1/deployments/{key})
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let store = ctx.open_log()?;
    let detail = store.detail(key, true)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &detail)?;
        writeln!(out)?;
    } else {
        print_detail(&mut out, &detail, ctx.config.timezone)?;
    }
    out.flush()?;
    Ok(0)
}

fn print_detail(out: &mut impl Write, d: &DeploymentDetail, tz: chrono_tz::Tz) -> std::io::Result<()> {
    let s = &d.summary;
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
    outln!(out, "{}  {}@{} -> {}  [{}]", s.key, s.release, s.version, s.environment, s.status)?;
    outln!(
        out,
        "model {} ({}), requested by {}{}, planned {}",
        s.model,
        s.technique,
        s.requested_by,
        s.change_ref.as_ref().map_or(String::new(), |c| format!(", change {c}")),
        when(s.planned_at)
    )?;
    outln!(out, "targets {}: {} done, {} failed, {} running", s.targets, s.succeeded, s.failed, s.running)?;
    for p in &d.phases {
        writeln!(out)?;
        outln!(
            out,
            "phase {}. {} [{}]  done {}  failed {}  running {}  pending {}  budget left {} of {}{}",
            p.index + 1,
            p.name,
            p.status,
            p.succeeded,
            p.failed,
            p.running,
            p.pending,
            p.budget_left,
            p.failure_budget,
            p.gate.as_ref().map_or(String::new(), |g| format!("  gate: {} approval(s)", g.approvals))
        )?;
        for t in d.target_list.iter().filter(|t| t.phase == p.name) {
            let last = match (&t.last_step, t.last_status) {
                (Some(step), Some(st)) => format!("{step} {st}"),
                _ => "-".into(),
            };
            let note = t
                .last_error
                .as_deref()
                .filter(|_| t.status.is_finished() && t.status != crate::domain::TargetStatus::Succeeded)
                .unwrap_or("");
            let line = format!("    {:<24} {:<10} {:<22} {}", t.name, t.status, last, first_line(note));
            outln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
