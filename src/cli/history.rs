//! `shipdeck history`: finished deployments, newest first, with the History view's filters.

use super::{Context, usage};
use crate::domain::DeploymentStatus;
use crate::domain::history::{self, HistoryFilter, HistoryRow, Period, ReviewState};
use std::io::Write;

/// The filters of History, shared by `history` and `review list`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Only this service (release name)
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Only this environment
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// Only this deployment model
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Only this result: succeeded, failed, aborted, rolled_back (repeatable)
    #[arg(long, value_name = "RESULT")]
    result: Vec<String>,
    /// Only deployments requested by this person
    #[arg(long, value_name = "PERSON")]
    requester: Option<String>,
    /// Finished within this period (24h, 7d, 30d, 90d, 1y, all) or since this date (YYYY-MM-DD)
    #[arg(long, value_name = "PERIOD|DATE")]
    since: Option<String>,
    /// Finished before this date (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Words that must all appear in the key, release, environment, model, requester or change
    #[arg(long, value_name = "WORDS")]
    text: Option<String>,
}

impl Filters {
    /// The filter these flags describe; a value that does not parse is a usage error naming it.
    pub fn to_filter(&self, ctx: &Context) -> anyhow::Result<HistoryFilter> {
        let results = self
            .result
            .iter()
            .map(|r| match r.parse::<DeploymentStatus>() {
                Ok(s) if s.is_final() => Ok(s),
                _ => Err(usage(format!(
                    "\"{r}\" is not a result of a finished deployment (succeeded, failed, aborted, rolled_back)"
                ))),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let until = self.until.as_deref().map(history::parse_date).transpose().map_err(|e| usage(e.to_string()))?;
        let period = match (self.since.as_deref(), until) {
            (None, None) => Period::All,
            (Some(s), until) => match s.parse::<Period>() {
                Ok(Period::Last(span)) if until.is_none() => Period::Last(span),
                Ok(Period::All) => Period::Between(None, until),
                Ok(Period::Last(span)) => Period::Between(until.map(|u| u - span), until),
                Ok(p @ Period::Between(..)) => p,
                Err(period_err) => {
                    let from = history::parse_date(s).map_err(|_| usage(period_err.to_string()))?;
                    Period::Between(Some(from), until)
                }
            },
            (None, until) => Period::Between(None, until),
        };
        if let Period::Between(Some(from), Some(until)) = period {
            if until <= from {
                return Err(usage(format!(
                    "--until {} is not after --since {}",
                    self.until.as_deref().unwrap_or_default(),
                    self.since.as_deref().unwrap_or_default()
                )));
            }
        }
        for (flag, value, known) in [
            ("--env", &self.env, ctx.config.environments.iter().map(|e| e.name.clone()).collect::<Vec<_>>()),
            ("--model", &self.model, ctx.config.models.keys().cloned().collect()),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !known.contains(v)) {
                return Err(usage(format!(
                    "{flag} \"{v}\" is not declared in the config (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(HistoryFilter {
            service: self.service.clone(),
            environment: self.env.clone(),
            model: self.model.clone(),
            results,
            requester: self.requester.clone(),
            period,
            text: self.text.clone(),
            reviews: Vec::new(),
            phase: None,
            step: None,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    filters: Filters,
    /// Only deployments whose review is: owed, draft, complete or not-needed (repeatable)
    #[arg(long, value_name = "STATE")]
    review: Vec<String>,
    /// Show at most N rows (0: all)
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Print JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV
    #[arg(long)]
    csv: bool,
}

/// Rows an export reads from the log at a time.
const EXPORT_PAGE: usize = 5_000;

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let mut filter = args.filters.to_filter(ctx)?;
    filter.reviews = args.review.iter().map(|r| review_state(r)).collect::<anyhow::Result<_>>()?;
    let store = ctx.open_log()?;
    let rule = ctx.config.review_rule();
    let now = ctx.clock.now();
    let total = store.history_count(&filter, &rule, now)?;
    let limit = if args.limit == 0 { total } else { args.limit };
    // Exports (--json, --csv) of many rows read the log page by page, with a bar on a terminal.
    let rows = if args.json || args.csv {
        let progress = crate::progress::bar(limit as u64, "exporting deployments");
        // One read snapshot for every page: a deployment finishing meanwhile shifts no page.
        let rows = store.read_snapshot(|s| {
            let mut rows = Vec::with_capacity(limit.min(100_000));
            while rows.len() < limit {
                let page = s.history(&filter, &rule, now, rows.len(), EXPORT_PAGE.min(limit - rows.len()))?;
                if page.is_empty() {
                    break;
                }
                progress.inc(page.len() as u64);
                rows.extend(page);
            }
            Ok(rows)
        })?;
        progress.finish_and_clear();
        rows
    } else {
        store.history(&filter, &rule, now, 0, limit)?
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if args.csv {
        write_csv(&mut out, &rows)?;
    } else if rows.is_empty() {
        let chips = filter.chips();
        let why = if chips.is_empty() { String::new() } else { format!(" matching {}", chips.join(" ")) };
        outln!(out, "no finished deployments{why}")?;
    } else {
        let tz = ctx.config.timezone;
        outln!(
            out,
            "{:<9} {:<30} {:<11} {:<9} {:<11} {:<16} {:>8} {:>9} {}",
            "KEY",
            "RELEASE",
            "ENV",
            "MODEL",
            "RESULT",
            "STARTED",
            "DURATION",
            "FAILED",
            "REVIEW"
        )?;
        for r in &rows {
            let started =
                r.started_at.map_or("-".into(), |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string());
            outln!(
                out,
                "{:<9} {:<30} {:<11} {:<9} {:<11} {:<16} {:>8} {:>9} {}",
                r.key.to_string(),
                format!("{}@{}", r.release, r.version),
                r.environment,
                r.model,
                r.result.as_str(),
                started,
                crate::domain::duration::format(chrono::TimeDelta::seconds(r.duration_s)),
                format!("{}/{}", r.hosts_failed, r.hosts_total),
                r.review
            )?;
        }
        outln!(out, "{} of {total} shown", rows.len())?;
    }
    out.flush()?;
    Ok(0)
}

/// A review state as `--review` takes it.
pub fn review_state(s: &str) -> anyhow::Result<ReviewState> {
    s.parse().map_err(usage)
}

/// RFC 4180 CSV: every field through [`csv_field`] (quoted when it needs to be, control and
/// bidi characters escaped).
fn write_csv(out: &mut impl Write, rows: &[HistoryRow]) -> std::io::Result<()> {
    use crate::domain::text::csv_field;
    writeln!(
        out,
        "key,release,version,environment,model,requested_by,result,started_at,finished_at,duration_s,hosts_failed,hosts_total,review"
    )?;
    for r in rows {
        let cells = [
            r.key.to_string(),
            r.release.clone(),
            r.version.clone(),
            r.environment.clone(),
            r.model.clone(),
            r.requested_by.clone(),
            r.result.as_str().to_owned(),
            r.started_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.finished_at.to_rfc3339(),
            r.duration_s.to_string(),
            r.hosts_failed.to_string(),
            r.hosts_total.to_string(),
            r.review.as_str().to_owned(),
        ];
        writeln!(out, "{}", cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","))?;
    }
    Ok(())
}
