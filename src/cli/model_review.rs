//! `shipdeck models review`: how each deployment model did over a period, and rule-based
//! suggestions to improve it; `--record N` turns suggestion N into an improvement action.
//! `shipdeck models actions` lists models' actions, `shipdeck models action MODEL N --done`
//! marks one done.

use super::{Context, Reported, usage};
use crate::decide::improve::{self, RecordAsk};
use crate::domain::model_review::{ModelReview, Review};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The period: 7d, 30d, 90d, 1y, all, a number with h, d, w or y, or a start date (YYYY-MM-DD)
    #[arg(long, default_value = "90d", value_name = "PERIOD|DATE")]
    since: String,
    /// The end of the period (YYYY-MM-DD or RFC 3339) [default: now]
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only this deployment model
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Record suggestion N of this review (same period and model) as an improvement action
    #[arg(long, value_name = "N", requires_all = ["owner", "due"])]
    record: Option<usize>,
    /// With --record: who owns the action (a person of the log's team)
    #[arg(long, value_name = "PERSON", requires = "record")]
    owner: Option<String>,
    /// With --record: when it is due (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", requires = "record")]
    due: Option<String>,
}

impl Args {
    /// Whether this invocation writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        self.record.is_some()
    }
}

/// The review as `--json` prints it.
#[derive(Debug, Serialize)]
struct Output<'a> {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    model: Option<&'a str>,
    #[serde(flatten)]
    review: &'a Review,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    if let Some(m) = args.model.as_ref().filter(|m| !ctx.config.models.contains_key(*m)) {
        let known: Vec<&str> = ctx.config.models.keys().map(String::as_str).collect();
        return Err(usage(format!("--model \"{m}\" is not declared in the config (known: {})", known.join(", "))));
    }
    let mut store = ctx.open_log()?;
    let now = ctx.clock.now();
    let (from, until) = super::kpi::period(&args.since, args.until.as_deref(), now, store.first_finished()?)?;
    let production = ctx.config.production_environments();
    let review = store.model_review(args.model.as_deref(), from, until, &production)?;
    if let (Some(n), Some(owner), Some(due)) = (args.record, &args.owner, &args.due) {
        let Some(suggestion) = review.suggestions.iter().find(|s| s.n == n) else {
            return Err(usage(format!(
                "--record {n}: this review has {} suggestion(s); run `shipdeck models review` with the same --since, --until and --model to see them",
                review.suggestions.len()
            )));
        };
        let operator = ctx.operator_in(&store)?;
        let today = now.with_timezone(&ctx.config.timezone).date_naive();
        let ask = RecordAsk { owner: owner.clone(), due: due.clone() };
        let said = improve::record(&mut store, &operator, suggestion, &ask, today, now).map_err(|e| {
            if e.is_input() {
                usage(e.to_string())
            } else if let improve::RecordError::Store(s) = e {
                anyhow::Error::from(s)
            } else {
                Reported(e.to_string()).into()
            }
        })?;
        sayln!("{said}");
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &Output { from, until, model: args.model.as_deref(), review: &review })?;
        writeln!(out)?;
        out.flush()?;
        return Ok(0);
    }
    let tz = ctx.config.timezone;
    outln!(
        out,
        "Model review {} .. {} ({} days), {}",
        from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        until.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        (until - from).num_days(),
        args.model.as_deref().map_or_else(|| "all models".to_owned(), |m| format!("model {m}"))
    )?;
    if review.models.is_empty() {
        outln!(out, "no deployments in this period")?;
    }
    for m in &review.models {
        outln!(out)?;
        for line in text(m) {
            outln!(out, "{line}")?;
        }
    }
    outln!(out)?;
    if review.suggestions.is_empty() {
        outln!(out, "no suggestions: no rule found anything to change")?;
    } else {
        outln!(out, "Suggestions (record one: shipdeck models review --record N --owner PERSON --due YYYY-MM-DD)")?;
        for s in &review.suggestions {
            outln!(out, "{:>3}. {}", s.n, s.text)?;
            outln!(out, "     why: {} [{}]", s.why, s.rule.as_str())?;
        }
    }
    out.flush()?;
    Ok(0)
}

/// One model's review as lines of text.
#[must_use]
pub fn text(m: &ModelReview) -> Vec<String> {
    use super::kpi::{percent, seconds};
    let mut lines = vec![format!(
        "{}: {} runs, success {}, lead time p50 {} p90 {}{}",
        m.model,
        m.runs,
        percent(m.success_rate),
        seconds(m.lead_time.median_s),
        seconds(m.lead_time.p90_s),
        if m.outside_window_runs > 0 {
            format!(", {} run(s) outside the windows", m.outside_window_runs)
        } else {
            String::new()
        }
    )];
    lines.push(format!(
        "  {:<20} {:>6} {:>7} {:>13} {:>16} {:>6}",
        "PHASE", "RUNS", "FAILED", "HOSTS FAILED", "MEDIAN DURATION", "HOSTS"
    ));
    for p in &m.phases {
        lines.push(format!(
            "  {:<20} {:>6} {:>7} {:>13} {:>16} {:>6}",
            p.name,
            p.runs,
            p.failed_runs,
            p.failed_hosts,
            seconds(p.median_duration_s),
            p.median_targets.map_or_else(|| "-".to_owned(), |n| n.to_string())
        ));
    }
    for g in &m.gates {
        lines.push(format!(
            "  gate before {} (bake {}): approval wait p50 {} p90 {} ({} approved; people p50 {}); failed hosts before the gate {}, during the bake {}, after it {}",
            g.phase,
            seconds(Some(g.bake_s)),
            seconds(g.approval_wait.median_s),
            seconds(g.approval_wait.p90_s),
            g.approval_wait.count,
            seconds(g.people_wait.median_s),
            g.failures_before_gate,
            g.failures_during_bake,
            g.failures_after_bake
        ));
    }
    let list = |v: &[crate::domain::model_review::Counted]| {
        v.iter().map(|c| format!("{} ({})", c.name, c.count)).collect::<Vec<_>>().join(", ")
    };
    if !m.failing_steps.is_empty() {
        lines.push(format!("  failed hosts by step: {}", list(&m.failing_steps)));
        lines.push(format!("  by error group: {}", list(&m.error_groups)));
    }
    lines
}

/// `shipdeck models actions [--model M] [--json]`.
pub fn actions(ctx: &Context, model: Option<&str>, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    let rows = store.model_actions(model)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        outln!(out, "no improvement actions of models")?;
    } else {
        let today = ctx.clock.now().with_timezone(&ctx.config.timezone).date_naive();
        for a in &rows {
            let state = match a.done_at {
                Some(at) => format!("done {}", at.with_timezone(&ctx.config.timezone).format("%Y-%m-%d")),
                None if a.action.due < today => "OVERDUE".to_owned(),
                None => "open".to_owned(),
            };
            outln!(
                out,
                "{} #{}  due {}  {state}  {}  {}",
                a.model.as_deref().unwrap_or_default(),
                a.n,
                a.action.due,
                a.action.owner,
                a.action.text
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}

/// `shipdeck models action MODEL N --done|--open`.
pub fn mark(ctx: &Context, model: &str, n: usize, done: bool) -> anyhow::Result<i32> {
    let mut store = ctx.open_log()?;
    let operator = ctx.operator_in(&store)?;
    if !operator.is_person() {
        return Err(Reported(improve::RecordError::NotAPerson(operator.name).to_string()).into());
    }
    store.set_model_action_done(model, n, done, &operator.name, ctx.clock.now())?;
    sayln!("{model} action {n} marked {} by {}", if done { "done" } else { "open" }, operator.name);
    Ok(0)
}
