//! `shipdeck status KEY --at TIME`: the deployment as it was at a moment, replayed from its
//! events and decisions (`domain::replay`), printed like `status` with its gates, the decisions
//! taken by then and the tail of its events.

use super::{Context, usage};
use crate::decide::schedule::parse_time;
use crate::domain::DeploymentKey;
use crate::domain::replay::{self, Replay, ReplayView};
use std::io::Write;

/// Events of the tail printed and put in the JSON (as many as the dashboard keeps).
const TAIL: usize = crate::tui::model::TAIL_CAP;
/// Events of the tail printed as text.
const TAIL_TEXT: usize = 20;

pub fn run(ctx: &Context, key: DeploymentKey, given: &str, json: bool) -> anyhow::Result<i32> {
    let tz = ctx.config.timezone;
    let at = parse_time("--at", given, tz).map_err(usage)?;
    let store = ctx.open_log()?;
    let log = store.replay_log(key)?;
    let now = ctx.clock.now();
    replay::check_moment(given, at, &key.to_string(), log.stored.summary.created_at, now).map_err(usage)?;
    let mut replay = Replay::for_one_moment(log);
    replay.seek_time(at);
    let view = replay.view(TAIL);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &view)?;
        writeln!(out)?;
    } else {
        print_view(&mut out, &view, (replay.position(), replay.len()), tz)?;
    }
    out.flush()?;
    Ok(0)
}

fn print_view(
    out: &mut impl Write,
    v: &ReplayView,
    (seen, total): (usize, usize),
    tz: chrono_tz::Tz,
) -> std::io::Result<()> {
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    outln!(out, "replay at {} ({seen} of {total} happenings)", when(v.at))?;
    super::status::print_detail(out, &v.detail, tz, v.at)?;
    if !v.gates.is_empty() {
        writeln!(out)?;
        outln!(out, "gates")?;
        for g in &v.gates {
            let by = if g.approvals.is_empty() { String::new() } else { format!(": {}", g.approvals.join(", ")) };
            outln!(out, "  {:<16} {:<9} {} of {} approval(s){by}", g.phase, g.state, g.approvals.len(), g.required)?;
        }
    }
    if !v.decisions.is_empty() {
        writeln!(out)?;
        outln!(out, "decisions")?;
        for d in &v.decisions {
            let role = d.role.as_deref().map_or(String::new(), |r| format!(" as {r}"));
            let comment = d.comment.as_deref().map_or(String::new(), |c| format!("  {c}"));
            outln!(out, "  {}  {:<16} {:<8} {}{role}{comment}", when(d.at), d.phase, d.decision, d.person)?;
        }
    }
    writeln!(out)?;
    outln!(out, "events (the {} newest received by then)", v.tail.len().min(TAIL_TEXT))?;
    for e in &v.tail[v.tail.len().saturating_sub(TAIL_TEXT)..] {
        let target = e.target.as_deref().unwrap_or("-");
        let message = e.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
        let line = format!("  {}  {target:<24} {:<10} {:<9} {message}", when(e.at), e.step, e.status);
        outln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
