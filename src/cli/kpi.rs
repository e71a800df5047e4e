//! `shipdeck kpi`: the delivery KPIs of a period and scope, as text, JSON or CSV.

use super::{Context, usage};
use crate::domain::duration;
use crate::domain::history::{self, Period};
use crate::domain::kpi::{Band, Group, GroupBy, Kpis};
use crate::store::KpiScope;
use chrono::{DateTime, TimeDelta, Utc};
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
    /// Only this service (release name)
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Only this environment
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// Only this deployment model
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Split by week, service, env or model
    #[arg(long, value_name = "GROUP")]
    by: Option<String>,
    /// Print JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (one row per group)
    #[arg(long)]
    csv: bool,
}

/// The KPIs as `--json` prints them.
#[derive(Debug, Serialize)]
struct Output<'a> {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    service: Option<&'a str>,
    environment: Option<&'a str>,
    model: Option<&'a str>,
    production_environments: &'a [String],
    #[serde(flatten)]
    kpis: &'a Kpis,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [Group]>,
}

/// `[from, until)` of `--since` / `--until` at `now`; `first` is when the log's first deployment
/// finished (the start of `all`).
pub fn period(
    since: &str,
    until: Option<&str>,
    now: DateTime<Utc>,
    first: Option<DateTime<Utc>>,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let end = until.map(history::parse_date).transpose().map_err(|e| usage(e.to_string()))?;
    let from = match since.parse::<Period>() {
        Ok(Period::Last(span)) => end.unwrap_or(now) - span,
        Ok(_) => first.unwrap_or(now).min(end.unwrap_or(now)),
        Err(bad) => history::parse_date(since).map_err(|_| usage(bad.to_string()))?,
    };
    let end = end.unwrap_or(now);
    if end > now + TimeDelta::days(366 * 100) {
        return Err(usage(format!("--until {} is too far ahead", until.unwrap_or_default())));
    }
    if end <= from {
        return Err(usage(format!("--until {} is not after --since {since}", until.unwrap_or("(now)"))));
    }
    Ok((from, end))
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let by = args.by.as_deref().map(str::parse::<GroupBy>).transpose().map_err(usage)?;
    for (flag, value, known) in [
        ("--env", &args.env, ctx.config.environments.iter().map(|e| e.name.clone()).collect::<Vec<_>>()),
        ("--model", &args.model, ctx.config.models.keys().cloned().collect()),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !known.contains(v)) {
            return Err(usage(format!("{flag} \"{v}\" is not declared in the config (known: {})", known.join(", "))));
        }
    }
    let store = ctx.open_log()?;
    if let Some(s) = &args.service {
        let services = store.services()?;
        if !services.contains(s) {
            return Err(usage(format!(
                "--service \"{s}\" has no deployment in the log (known: {})",
                if services.is_empty() { "none".to_owned() } else { services.join(", ") }
            )));
        }
    }
    let now = ctx.clock.now();
    let (from, until) = period(&args.since, args.until.as_deref(), now, store.first_finished()?)?;
    let scope = KpiScope { service: args.service.clone(), environment: args.env.clone(), model: args.model.clone() };
    let production = ctx.config.production_environments();
    let report = store.kpis(&scope, from, until, &production, by, ctx.config.timezone)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let output = Output {
            from,
            until,
            service: args.service.as_deref(),
            environment: args.env.as_deref(),
            model: args.model.as_deref(),
            production_environments: &production,
            kpis: &report.total,
            groups: report.groups.as_deref(),
        };
        serde_json::to_writer_pretty(&mut out, &output)?;
        writeln!(out)?;
    } else if args.csv {
        write_csv(&mut out, &report.total, report.groups.as_deref())?;
    } else {
        let tz = ctx.config.timezone;
        let days = (until - from).num_days();
        let scope_text = [("service", &args.service), ("env", &args.env), ("model", &args.model)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>();
        outln!(
            out,
            "KPIs {} .. {} ({days} days), {}",
            from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            until.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            if scope_text.is_empty() { "all deployments".to_owned() } else { scope_text.join(" ") }
        )?;
        if report.total.deployments == 0 {
            outln!(out, "no deployments in this period")?;
        } else {
            for line in text(&report.total) {
                outln!(out, "{line}")?;
            }
        }
        if let Some(groups) = &report.groups {
            outln!(out)?;
            outln!(
                out,
                "{:<24} {:>6} {:>8} {:>8} {:>10} {:>10} {:>8} {:>9}",
                "GROUP",
                "DEPLOY",
                "SUCCESS",
                "CFR",
                "RECOVERY",
                "LEAD",
                "FTR",
                "ROLLBACKS"
            )?;
            for g in groups {
                let k = &g.kpis;
                outln!(
                    out,
                    "{:<24} {:>6} {:>8} {:>8} {:>10} {:>10} {:>8} {:>9}",
                    g.group,
                    k.deployments,
                    percent(k.success_rate),
                    percent(k.change_failure_rate),
                    seconds(k.recovery.time.median_s),
                    seconds(k.lead_time.total.median_s),
                    percent(k.first_time_right_rate),
                    k.rollbacks
                )?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

/// A rate as a percentage, `-` when there is nothing to divide.
#[must_use]
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// Seconds as a duration, `-` when there are none.
#[must_use]
pub fn seconds(s: Option<i64>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| duration::format_coarse(TimeDelta::seconds(s)))
}

/// The KPIs as lines of text.
fn text(k: &Kpis) -> Vec<String> {
    let mut lines = vec![
        format!(
            "deployments                {:>8}   {:.2}/day  {:.1}/week   DORA {}",
            k.deployments,
            k.per_day,
            k.per_week,
            Band::frequency(k.per_day).as_str()
        ),
        format!("success rate               {:>8}   ({} of {})", percent(k.success_rate), k.succeeded, k.deployments),
        format!(
            "change failure rate        {:>8}   ({} of {} production deployments that started){}",
            percent(k.change_failure_rate),
            k.production_failed,
            k.production_started,
            k.change_failure_rate
                .map(|r| format!("   DORA {}", Band::change_failure_rate(r).as_str()))
                .unwrap_or_default()
        ),
        format!(
            "recovery time              median {}  p90 {}  ({} recovered, {} still open){}",
            seconds(k.recovery.time.median_s),
            seconds(k.recovery.time.p90_s),
            k.recovery.time.count,
            k.recovery.open,
            k.recovery.time.median_s.map(|m| format!("   DORA {}", Band::recovery(m).as_str())).unwrap_or_default()
        ),
        format!(
            "lead time                  median {}  p90 {}",
            seconds(k.lead_time.total.median_s),
            seconds(k.lead_time.total.p90_s)
        ),
        format!("  mean {}, of which:", seconds(k.lead_time.mean_s)),
        format!("  waiting for approval      {:>8}", seconds(k.lead_time.approval_wait_mean_s)),
        format!("  waiting for window/freeze {:>8}", seconds(k.lead_time.window_wait_mean_s)),
        format!("  waiting for bake          {:>8}", seconds(k.lead_time.bake_wait_mean_s)),
        format!("  running                   {:>8}", seconds(k.lead_time.running_mean_s)),
        format!("first-time-right           {:>8}", percent(k.first_time_right_rate)),
        format!(
            "hosts failed / deployment  {:>8}",
            k.hosts_failed_per_deployment.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
        ),
        format!("rollbacks                  {:>8}", k.rollbacks),
    ];
    for (title, waits) in [("per gate", &k.approval_wait_by_gate), ("per role", &k.approval_wait_by_role)] {
        if !waits.is_empty() {
            lines.push(format!("approval wait {title}"));
            for w in waits {
                lines.push(format!(
                    "  {:<24} median {:>8}  p90 {:>8}  ({} approvals)",
                    w.name,
                    seconds(w.wait.median_s),
                    seconds(w.wait.p90_s),
                    w.wait.count
                ));
            }
        }
    }
    lines
}

/// One CSV row per group (or one, `all`, without `--by`).
fn write_csv(out: &mut impl Write, total: &Kpis, groups: Option<&[Group]>) -> std::io::Result<()> {
    writeln!(
        out,
        "group,deployments,per_day,succeeded,success_rate,production_started,production_failed,change_failure_rate,recovery_median_s,recovery_p90_s,recovery_open,lead_time_median_s,lead_time_p90_s,approval_wait_mean_s,window_wait_mean_s,bake_wait_mean_s,running_mean_s,first_time_right_rate,hosts_failed_per_deployment,rollbacks"
    )?;
    let all = [Group { group: "all".into(), start: DateTime::UNIX_EPOCH, kpis: total.clone() }];
    let opt_f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let opt_i = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for g in groups.unwrap_or(&all) {
        let k = &g.kpis;
        let field = crate::domain::text::csv_field(&g.group);
        writeln!(
            out,
            "{field},{},{:.4},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            k.deployments,
            k.per_day,
            k.succeeded,
            opt_f(k.success_rate),
            k.production_started,
            k.production_failed,
            opt_f(k.change_failure_rate),
            opt_i(k.recovery.time.median_s),
            opt_i(k.recovery.time.p90_s),
            k.recovery.open,
            opt_i(k.lead_time.total.median_s),
            opt_i(k.lead_time.total.p90_s),
            opt_i(k.lead_time.mean_s),
            opt_i(k.lead_time.approval_wait_mean_s),
            opt_i(k.lead_time.window_wait_mean_s),
            opt_i(k.lead_time.bake_wait_mean_s),
            opt_i(k.lead_time.running_mean_s),
            opt_f(k.first_time_right_rate),
            opt_f(k.hosts_failed_per_deployment),
            k.rollbacks
        )?;
    }
    Ok(())
}
