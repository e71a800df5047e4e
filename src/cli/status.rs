//! `shipdeck status KEY`: one deployment, its phases in order and each phase's targets.

use super::{Context, usage};
use crate::domain::DeploymentKey;
use crate::domain::records::DeploymentDetail;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment (DEP-<n>)
    key: String,
    /// Print JSON (the document of GET /v1/deployments/{key}, with the canary `analysis`)
    #[arg(long)]
    json: bool,
    /// Replay: the deployment as it was at TIME (RFC 3339, or YYYY-MM-DDTHH:MM in the
    /// configured zone), rebuilt from its events and decisions
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let key: DeploymentKey = args.key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    if let Some(at) = &args.at {
        return super::status_at::run(ctx, key, at, args.json);
    }
    let store = ctx.open_log()?;
    let detail = store.detail(key, true)?;
    let analysis = store.analysis(key, ctx.clock.now())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let mut doc = detail.document(ctx.clock.now());
        if let (Some(a), Some(map)) = (&analysis, doc.as_object_mut()) {
            map.insert("analysis".into(), serde_json::to_value(a)?);
        }
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        print_detail(&mut out, &detail, ctx.config.timezone, ctx.clock.now())?;
        if let Some(a) = &analysis {
            print_analysis(&mut out, a)?;
        }
    }
    out.flush()?;
    Ok(0)
}

pub(super) fn print_detail(
    out: &mut impl Write,
    d: &DeploymentDetail,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let s = &d.summary;
    let when = |t: chrono::DateTime<chrono::Utc>| crate::domain::time::at(t, tz);
    let started = s.started_at.is_some() || s.last_event_seq > 0;
    let shown = crate::domain::calendar::shown_status(s.status, s.planned_at, started, now);
    outln!(out, "{}  {}@{} -> {}  [{shown}]", s.key, s.release, s.version, s.environment)?;
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
    if let Some(sup) = d.supervised {
        outln!(out, "{sup}: a new or changed model, so every phase needs a person's approval")?;
    }
    if let Some(sw) = &d.switch {
        outln!(out, "{}", switch_line(sw, &when, now))?;
    }
    print_release(out, d)?;
    print_checklist(out, d, &when)?;
    print_conformance(out, d, &when)?;
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
            let labels = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            let labels = if labels.is_empty() { labels } else { format!(" [{labels}]") };
            let line = format!("    {:<24} {:<10} {:<22} {}{labels}", t.name, t.status, last, first_line(note));
            outln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// Where a parallel deployment's traffic is: `switch: traffic on the old set (3 target(s)); the
/// new set green (slot=green, 3 target(s)) takes it when the switch gate is approved`.
pub fn switch_line(
    sw: &crate::domain::parallel::Switchover,
    when: &dyn Fn(chrono::DateTime<chrono::Utc>) -> String,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use crate::domain::parallel::SwitchState;
    let new = format!("new set {} ({}, {} target(s))", sw.new_phase, sw.new_set, sw.new_targets);
    let old = format!("old set ({} target(s))", sw.old_targets.len());
    match sw.state(now) {
        SwitchState::Before => {
            format!("switch: traffic on the {old}; the {new} takes it when the switch gate is approved")
        }
        SwitchState::Switched => format!(
            "switch: traffic on the {new} since {}; the {old} is kept, ready to switch back to, until {}",
            sw.switched_at.map_or_else(String::new, when),
            sw.old_kept_until().map_or_else(String::new, when)
        ),
        SwitchState::SwitchedBack => format!(
            "switch: traffic switched back to the {old} at {} (it was on the {new} from {})",
            sw.switched_back_at.map_or_else(String::new, when),
            sw.switched_at.map_or_else(String::new, when)
        ),
        SwitchState::Released => format!(
            "switch: traffic on the {new} since {}; the {old} was released at {}",
            sw.switched_at.map_or_else(String::new, when),
            sw.old_kept_until().map_or_else(String::new, when)
        ),
    }
}

fn print_release(out: &mut impl Write, d: &DeploymentDetail) -> std::io::Result<()> {
    let Some(r) = d.release_record.as_ref().filter(|r| !r.is_empty()) else { return Ok(()) };
    writeln!(out)?;
    outln!(out, "release record")?;
    for c in &r.components {
        outln!(out, "  component {c}")?;
    }
    if let Some(n) = &r.notes {
        outln!(out, "  notes     {}", first_line(n))?;
    }
    if let Some(u) = &r.notes_url {
        outln!(out, "  notes     {u}")?;
    }
    for e in &r.evidence {
        outln!(out, "  evidence  {e}")?;
    }
    Ok(())
}

fn print_checklist(
    out: &mut impl Write,
    d: &DeploymentDetail,
    when: &dyn Fn(chrono::DateTime<chrono::Utc>) -> String,
) -> std::io::Result<()> {
    use crate::domain::checklist::ItemState;
    if d.checklist.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    outln!(out, "checklist")?;
    for i in &d.checklist {
        let mark = match i.state {
            ItemState::Open => "[ ]",
            ItemState::Done => "[x]",
            ItemState::Failed => "[!]",
        };
        let who = match (&i.ticked_by, i.ticked_at) {
            (Some(by), Some(at)) => format!("  {} by {by} at {}", i.state, when(at)),
            _ if i.roles.is_empty() => format!("  auto: {}", i.auto.as_deref().unwrap_or("?")),
            _ => format!("  by {}", i.roles.join(" or ")),
        };
        let evidence = i.evidence.as_deref().map_or(String::new(), |e| format!(" ({})", first_line(e)));
        outln!(out, "  {mark} {:<12} {:<16} {}{who}{evidence}", i.list, i.id, i.text)?;
    }
    Ok(())
}

fn print_conformance(
    out: &mut impl Write,
    d: &DeploymentDetail,
    when: &dyn Fn(chrono::DateTime<chrono::Utc>) -> String,
) -> std::io::Result<()> {
    if d.conformance.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    outln!(out, "conformance flags ({})", d.conformance.len())?;
    for f in &d.conformance {
        let targets =
            if f.sample_targets.is_empty() { String::new() } else { format!("; {}", f.sample_targets.join(", ")) };
        outln!(out, "  ! {}, {} to {}{targets}", f.headline(), when(f.first_at), when(f.last_at))?;
    }
    Ok(())
}

/// The canary analysis: the headline, each rule's numbers, and a warning for each metric no
/// agent reports (never a silent pass).
fn print_analysis(out: &mut impl Write, a: &crate::store::AnalysisState) -> std::io::Result<()> {
    writeln!(out)?;
    outln!(out, "{} (canary phase {}, decides the gate of {})", a.headline(), a.canary_phase, a.gate_phase)?;
    match &a.analysis {
        Some(analysis) => {
            for r in &analysis.rules {
                outln!(out, "  {}", r.describe())?;
            }
            for m in analysis.missing() {
                outln!(out, "  ! no agent reports \"{m}\" for both sides: the analysis cannot pass until one does")?;
            }
        }
        None => {
            for r in &a.rules {
                outln!(out, "  {}", r.describe())?;
            }
        }
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
