//! `shipdeck plan`: create a deployment whose phases and targets follow a model.

use super::{Context, Reported, usage};
use crate::decide::schedule::{self as scheduling, Proposal};
use crate::domain::ReleaseRef;
use crate::domain::inventory::{Format, Inventory};
use crate::domain::release::{Component, ReleaseFile, ReleaseRecord};
use crate::store::{PlanRequest, Store};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to deploy, as NAME@VERSION [default: the release file's `release`]
    #[arg(long, value_name = "NAME@VERSION")]
    release: Option<String>,
    /// The environment to deploy into, as declared in [[environments]] (e.g. production)
    #[arg(long, value_name = "ENV")]
    env: String,
    /// The deployment model from the config (e.g. phased)
    #[arg(long)]
    model: String,
    /// A file of targets (one per line; CSV or TOML with a `name` column and label columns), or
    /// a comma-separated list
    #[arg(long, value_name = "FILE_OR_LIST", required_unless_present = "inventory", conflicts_with = "inventory")]
    targets: Option<String>,
    /// An inventory named in the config's [[inventories]]
    #[arg(long, value_name = "NAME")]
    inventory: Option<String>,
    /// The change reference (RFC) that authorises it
    #[arg(long, value_name = "RFC")]
    change: Option<String>,
    /// Planned start: RFC 3339, YYYY-MM-DDTHH:MM in the configured zone, or `next` (the next
    /// free slot of the calendar) [default: now]. A planned start is checked for conflicts
    #[arg(long, value_name = "TIME|next")]
    start: Option<String>,
    /// Plan even though the schedule conflicts (needs --reason and a role allowed to override)
    #[arg(long)]
    force: bool,
    /// Why the conflicts are overridden (with --force)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Who asks for it [default: the operator]
    #[arg(long, value_name = "NAME")]
    requested_by: Option<String>,
    /// The release record: components with checksums, notes, change, evidence (TOML)
    #[arg(long, value_name = "FILE")]
    release_file: Option<PathBuf>,
    /// A service component and its checksum (repeatable)
    #[arg(long = "component", value_name = "NAME@VERSION=sha256:HEX")]
    components: Vec<String>,
    /// Release notes, as text
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
    /// Where the release notes are published
    #[arg(long, value_name = "URL")]
    notes_url: Option<String>,
    /// A link to test evidence (repeatable)
    #[arg(long = "evidence", value_name = "URL")]
    evidence: Vec<String>,
}

/// The release and its record from `--release-file` and the flags (flags add to the file).
fn release_record(args: &Args) -> anyhow::Result<(ReleaseRef, ReleaseRecord)> {
    let file = match &args.release_file {
        Some(path) => {
            if !path.is_file() {
                return Err(usage(format!("release file \"{}\" is not a file", path.display())));
            }
            let text = super::read_input(path)?;
            ReleaseFile::parse(&text, &path.display().to_string()).map_err(usage)?
        }
        None => ReleaseFile { release: None, record: ReleaseRecord::default() },
    };
    let release = match (&args.release, file.release) {
        (Some(r), _) => r.parse().map_err(|e: crate::domain::BadRelease| usage(e.to_string()))?,
        (None, Some(r)) => r,
        (None, None) => {
            return Err(usage("name the release with --release NAME@VERSION or `release` in the release file"));
        }
    };
    let mut record = file.record;
    for c in &args.components {
        record.add_component(Component::parse_flag(c).map_err(usage)?).map_err(usage)?;
    }
    for e in &args.evidence {
        record.add_evidence(e).map_err(usage)?;
    }
    if let Some(n) = args.notes.as_ref().filter(|n| !n.trim().is_empty()) {
        record.notes = Some(n.clone());
    }
    record.set_notes_url(args.notes_url.as_deref()).map_err(usage)?;
    if args.change.is_some() {
        record.change_ref.clone_from(&args.change);
    }
    Ok((release, record))
}

/// Targets from a file (one per line with `#` comments; `.csv` or `.toml` with a `name` column
/// and label columns) or a comma-separated list.
///
/// A value that looks like a path (it contains `/`, ends in `.txt`, `.csv` or `.toml`, or names
/// a folder) but is not a readable file is an error naming it: planning one host called
/// `hosts.txt` would skip every control meant for the real fleet.
pub fn read_targets(arg: &str) -> anyhow::Result<Inventory> {
    let path = Path::new(arg);
    if !arg.contains(',') && path.is_file() {
        return read_inventory_file(path);
    }
    if !arg.contains(',') && path.is_dir() {
        return Err(usage(format!("--targets \"{arg}\" is a folder, not a file of host names")));
    }
    if !arg.contains(',') && looks_like_path(arg) {
        return Err(usage(format!(
            "--targets \"{arg}\" looks like a file but there is no such file (give a file of host names or a comma-separated list)"
        )));
    }
    Inventory::parse(&arg.replace(',', "\n"), Format::Plain, "--targets").map_err(|e| usage(e.to_string()))
}

/// Reads an inventory file in the format its name says.
pub fn read_inventory_file(path: &Path) -> anyhow::Result<Inventory> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read targets file \"{name}\": {e}")))?;
    Inventory::parse(&text, Format::of_path(&name), &name).map_err(|e| usage(e.to_string()))
}

/// The targets of `--targets` or of the config's inventory `--inventory NAME`.
pub fn targets_of(ctx: &Context, targets: Option<&str>, inventory: Option<&str>) -> anyhow::Result<Inventory> {
    match (targets, inventory) {
        (Some(t), _) => read_targets(t),
        (None, Some(name)) => {
            let Some(inv) = ctx.config.inventories.iter().find(|i| i.name == name) else {
                let known: Vec<&str> = ctx.config.inventories.iter().map(|i| i.name.as_str()).collect();
                return Err(usage(format!(
                    "--inventory \"{name}\" is not in the config's [[inventories]] (configured: {})",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            };
            let path = match Path::new(&ctx.config.source).parent() {
                Some(dir) if inv.path.is_relative() && ctx.config.source != "built-in" => dir.join(&inv.path),
                _ => inv.path.clone(),
            };
            if !path.is_file() {
                return Err(usage(format!("inventory \"{name}\": \"{}\" is not a file", path.display())));
            }
            read_inventory_file(&path)
        }
        (None, None) => Err(usage("name the targets with --targets FILE_OR_LIST or --inventory NAME")),
    }
}

/// Whether a `--targets` value is meant as a file name rather than a host name.
fn looks_like_path(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    arg.contains('/') || [".txt", ".csv", ".toml"].iter().any(|ext| lower.ends_with(ext))
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let (release, release_record) = release_record(args)?;
    let model = ctx.config.model_for(&args.model, &args.env).map_err(usage)?;
    let now = ctx.clock.now();
    if args.force && args.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(usage("--force needs a written --reason"));
    }
    let given_start = match args.start.as_deref() {
        None | Some("next") => None,
        Some(s) => {
            let t = scheduling::parse_time("--start", s, ctx.config.timezone).map_err(usage)?;
            if t < now - chrono::TimeDelta::minutes(1) {
                return Err(usage(format!(
                    "--start \"{s}\" is in the past (now is {})",
                    now.format("%Y-%m-%dT%H:%MZ")
                )));
            }
            Some(t)
        }
    };
    let targets = targets_of(ctx, args.targets.as_deref(), args.inventory.as_deref())?;
    let mut store = Store::open(&ctx.db_path()?)?;
    store.set_zone(ctx.config.timezone);
    // A new log starts with the config's team (audited); a log that has one keeps it.
    let os_user = crate::decide::os_user();
    let seed = crate::store::SyncBy::Seed { os_user: &os_user };
    store.sync_team(&ctx.config.team(), &ctx.config.subscriptions(), seed, now)?;
    let operator = ctx.operator_in(&store)?;
    let requested_by = args.requested_by.clone().unwrap_or_else(|| operator.name.clone());
    let length = scheduling::run_length(&store, &ctx.config, &args.model, model, &targets)?;
    let names = targets.names();
    let proposal = Proposal { key: None, service: &release.name, environment: &args.env, targets: &names, length };
    let planned_start = match (args.start.as_deref(), given_start) {
        (Some("next"), _) => scheduling::next(&store, &ctx.config, &proposal, now)?.0.ok_or_else(|| {
            Reported(format!(
                "plan refused: no free slot for {} in {} within {} (see `shipdeck schedule next --explain`)",
                release.name,
                args.env,
                crate::domain::duration::format(ctx.config.schedule.horizon)
            ))
        })?,
        (_, Some(t)) => t,
        _ => now,
    };
    // A planned start is a schedule: it must fit the calendar, or be forced by an allowed role.
    let mut overridden = None;
    if args.start.is_some() {
        let found = scheduling::conflicts(&store, &ctx.config, &proposal, planned_start)?;
        if !found.is_empty() {
            for c in &found {
                esayln!("conflict: {}", c.describe(ctx.config.timezone));
            }
            if !args.force {
                return Err(Reported(format!(
                    "plan refused: {} conflict(s) with the change calendar (fix the start, or --force --reason R with a role allowed to override)",
                    found.len()
                ))
                .into());
            }
            let role = scheduling::override_role(&store, &operator)
                .map_err(|e| Reported(format!("plan --force refused: {e}")))?;
            overridden = Some((role, scheduling::as_json(&found)));
        }
    }
    let req = PlanRequest {
        release,
        environment: args.env.clone(),
        model_name: args.model.clone(),
        model,
        targets,
        change_ref: release_record.change_ref.clone(),
        requested_by,
        release_record,
        planned_start,
        planned_end: Some(planned_start + length),
        now,
    };
    let planner = crate::store::Planner { name: &operator.name, os_user: &operator.os_user };
    let (key, phases) = store.plan_by(&req, planner)?;
    if let Some((role, conflicts)) = &overridden {
        let by = crate::store::Change {
            person: &operator.name,
            os_user: &operator.os_user,
            reason: args.reason.as_deref(),
            now,
        };
        let id = store.record_override(key, by, role, conflicts)?;
        esayln!("{key}: conflicts overridden by {} as {role} (audit record {id})", operator.name);
    }
    let mut out = std::io::stdout().lock();
    outln!(out, "{key}")?;
    if args.start.is_some() {
        let zone = ctx.config.timezone;
        let at = |t: chrono::DateTime<chrono::Utc>| crate::domain::time::at(t, zone);
        outln!(
            out,
            "scheduled from {} to about {} (estimated run {})",
            at(planned_start),
            at(planned_start + length),
            crate::domain::duration::format(length)
        )?;
    }
    outln!(out, "planned {} to {} with model {} ({})", req.release, req.environment, req.model_name, model.technique)?;
    for (i, p) in phases.iter().enumerate() {
        let gate = p.gate.as_ref().map_or(String::new(), |g| format!(", gate: {} approval(s)", g.approvals));
        outln!(
            out,
            "  {}. {:<12} {:>6} targets, failure budget {}{gate}",
            i + 1,
            p.name,
            p.targets.len(),
            p.failure_budget
        )?;
    }
    if let Some((run, of)) = store.supervised(key)? {
        outln!(
            out,
            "supervised run {run} of {of}: model {} is new or changed, so every phase needs a person's approval",
            req.model_name
        )?;
    }
    if let Some(sw) = store.switchover(key)? {
        outln!(
            out,
            "old set: {} target(s) keep the old release and the traffic until `shipdeck switch {key}`; kept {} after it",
            sw.old_targets.len(),
            crate::domain::duration::format(sw.keep_old)
        )?;
    }
    // A short target list must not drop a control silently: say which phases got no target
    // and where their gates went.
    for p in phases.iter().filter(|p| !p.absorbed.is_empty()) {
        let gated: Vec<&str> = p
            .absorbed
            .iter()
            .filter(|name| model.phases.iter().any(|s| s.name == **name && s.gate.is_some()))
            .map(String::as_str)
            .collect();
        let gates = match (&p.gate, gated.is_empty()) {
            (Some(g), false) => format!(
                "; the gate of {} applies to {}, which now needs the strictest of them: {}",
                gated.join(", "),
                p.name,
                describe_gate(g)
            ),
            _ => String::new(),
        };
        outln!(
            out,
            "note: {} target(s) cannot fill the {} phases of model {}: {} get(s) none{gates}",
            req.targets.len(),
            model.phases.len(),
            req.model_name,
            p.absorbed.join(", "),
        )?;
    }
    Ok(0)
}

/// `2 approval(s) from deployment_manager or service_owner, bake 10m, windows a, b`.
fn describe_gate(g: &crate::domain::GatePolicy) -> String {
    let mut text = format!("{} approval(s)", g.approvals);
    if !g.roles.is_empty() {
        text.push_str(&format!(" from {}", g.roles.join(" or ")));
    }
    if !g.bake.is_zero() {
        text.push_str(&format!(", bake {}", crate::domain::duration::format(g.bake)));
    }
    if !g.windows.is_empty() {
        text.push_str(&format!(", windows {}", g.windows.join(", ")));
    }
    text
}
