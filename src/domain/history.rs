//! Past deployments as the History view, `shipdeck history` and reviews see them: finished
//! deployments, the filters over them, and whether each owes a failure review.

use super::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Where a deployment's failure review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// The deployment owes no review (it succeeded, or the rules do not ask for one).
    NotNeeded,
    /// A review is owed and nobody has started it.
    Owed,
    Draft,
    Complete,
}

impl ReviewState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotNeeded => "not needed",
            Self::Owed => "owed",
            Self::Draft => "draft",
            Self::Complete => "complete",
        }
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished deployment, a row of History.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    #[serde(serialize_with = "super::records::key_text")]
    pub key: DeploymentKey,
    pub release: String,
    pub version: String,
    pub environment: String,
    pub model: String,
    pub requested_by: String,
    /// succeeded, failed, aborted or rolled_back.
    pub result: DeploymentStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    /// Seconds from start (or plan, if it never started) to finish.
    pub duration_s: i64,
    pub hosts_failed: usize,
    pub hosts_total: usize,
    pub review: ReviewState,
}

/// A time range of History: the last N hours/days, or from/until dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    #[default]
    All,
    /// The last span before now.
    Last(TimeDelta),
    /// Between two instants (either open).
    Between(Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

impl Period {
    /// The presets the History view cycles through, with their labels.
    pub const PRESETS: [(&'static str, Option<i64>); 6] =
        [("24h", Some(1)), ("7d", Some(7)), ("30d", Some(30)), ("90d", Some(90)), ("1y", Some(365)), ("all", None)];

    /// The instants `[from, until)` this period covers at `now`.
    #[must_use]
    pub fn bounds(self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match self {
            Self::All => (None, None),
            Self::Last(span) => (Some(now - span), None),
            Self::Between(from, until) => (from, until),
        }
    }
}

/// A period that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a period (use 24h, 7d, 30d, 90d, 1y, all, or a number with h, d, w or y)")]
pub struct BadPeriod(pub String);

impl FromStr for Period {
    type Err = BadPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        let bad = || BadPeriod(s.to_owned());
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = t[..split].parse().map_err(|_| bad())?;
        if n <= 0 {
            return Err(bad());
        }
        let span = match &t[split..] {
            "h" => TimeDelta::try_hours(n),
            "d" => TimeDelta::try_days(n),
            "w" => TimeDelta::try_weeks(n),
            "y" => n.checked_mul(365).and_then(TimeDelta::try_days),
            _ => None,
        };
        span.map(Self::Last).ok_or_else(bad)
    }
}

/// Parses a calendar date (`2026-03-01`) as the start of that day in UTC.
pub fn parse_date(s: &str) -> Result<DateTime<Utc>, BadDate> {
    let bad = || BadDate(s.to_owned());
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad())?;
    Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc())
}

/// A date that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a date (use YYYY-MM-DD or an RFC 3339 time such as 2026-03-01T09:00:00Z)")]
pub struct BadDate(pub String);

/// What History shows: every field narrows; the defaults show everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// The release name (the service).
    pub service: Option<String>,
    pub environment: Option<String>,
    pub model: Option<String>,
    /// Only these results (empty: every final status).
    pub results: Vec<DeploymentStatus>,
    pub requester: Option<String>,
    pub period: Period,
    /// Words that must all appear in the key, release, version, environment, model, requester or
    /// change reference (case-insensitive).
    pub text: Option<String>,
    /// Only deployments whose review is in one of these states (empty: any).
    pub reviews: Vec<ReviewState>,
    /// Only deployments in which a phase of this name failed.
    pub phase: Option<String>,
    /// Only deployments in which a host failed (or was lost) at this step.
    pub step: Option<String>,
}

impl HistoryFilter {
    /// The filters that are set, as `name=value` chips for the filter bar.
    #[must_use]
    pub fn chips(&self) -> Vec<String> {
        let named = [
            ("service", &self.service),
            ("env", &self.environment),
            ("model", &self.model),
            ("requester", &self.requester),
            ("phase", &self.phase),
            ("step", &self.step),
        ];
        let mut chips: Vec<String> =
            named.iter().filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}"))).collect();
        if !self.results.is_empty() {
            let r: Vec<&str> = self.results.iter().map(|s| s.as_str()).collect();
            chips.push(format!("result={}", r.join(",")));
        }
        if !self.reviews.is_empty() {
            let r: Vec<&str> = self.reviews.iter().map(|s| s.as_str()).collect();
            chips.push(format!("review={}", r.join(",")));
        }
        if let Period::Between(from, until) = self.period {
            for (name, at) in [("since", from), ("until", until)] {
                if let Some(at) = at {
                    chips.push(format!("{name}={}", at.format("%Y-%m-%d")));
                }
            }
        }
        if let Some(t) = &self.text {
            chips.push(format!("text={t}"));
        }
        chips
    }
}

impl FromStr for ReviewState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owed" => Ok(Self::Owed),
            "draft" => Ok(Self::Draft),
            "complete" => Ok(Self::Complete),
            "not-needed" | "not_needed" | "none" => Ok(Self::NotNeeded),
            _ => Err(format!("\"{s}\" is not a review state (owed, draft, complete, not-needed)")),
        }
    }
}

impl HistoryFilter {
    /// Reads the filter line of the History view: `name=value` words set a filter (`service`,
    /// `env`, `model`, `result`, `requester`, `review`; several values with commas), the other
    /// words are free text; `phase` and `step` keep deployments where that phase failed or a host
    /// failed at that step. The period is kept as it is.
    pub fn parse_line(line: &str, period: Period) -> Result<Self, String> {
        let mut f = Self { period, ..Self::default() };
        let mut words = Vec::new();
        for word in line.split_whitespace() {
            let Some((name, value)) = word.split_once('=') else {
                words.push(word);
                continue;
            };
            let value = value.to_owned();
            match name {
                "service" | "release" => f.service = Some(value),
                "env" | "environment" => f.environment = Some(value),
                "model" => f.model = Some(value),
                "requester" | "by" => f.requester = Some(value),
                "phase" => f.phase = Some(value),
                "step" => f.step = Some(value),
                "result" => {
                    for r in value.split(',') {
                        match r.parse::<DeploymentStatus>() {
                            Ok(s) if s.is_final() => f.results.push(s),
                            _ => {
                                return Err(format!(
                                    "\"{r}\" is not a result (succeeded, failed, aborted, rolled_back)"
                                ));
                            }
                        }
                    }
                }
                "review" => {
                    for r in value.split(',') {
                        f.reviews.push(r.parse()?);
                    }
                }
                "since" | "until" => {
                    let at = parse_date(&value).map_err(|e| e.to_string())?;
                    let (from, to) = match f.period {
                        Period::Between(from, to) => (from, to),
                        _ => (None, None),
                    };
                    f.period =
                        if name == "since" { Period::Between(Some(at), to) } else { Period::Between(from, Some(at)) };
                }
                _ => {
                    return Err(format!(
                        "unknown filter \"{name}\" (service, env, model, result, requester, review, phase, step, since, until; other words search)"
                    ));
                }
            }
        }
        f.text = (!words.is_empty()).then(|| words.join(" "));
        Ok(f)
    }
}

/// Which deployments owe a failure review: these results, in these environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRule {
    pub results: Vec<DeploymentStatus>,
    /// Environments whose deployments owe reviews.
    pub environments: Vec<String>,
}

impl ReviewRule {
    /// Whether a deployment with this result in this environment owes a review. An abort before
    /// anything started owes none: nothing reached a host.
    #[must_use]
    pub fn owes(&self, result: DeploymentStatus, environment: &str, started: bool) -> bool {
        if result == DeploymentStatus::Aborted && !started {
            return false;
        }
        self.results.contains(&result) && self.environments.iter().any(|e| e == environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_parse_presets_and_spans() {
        assert_eq!("all".parse(), Ok(Period::All));
        assert_eq!("24h".parse(), Ok(Period::Last(TimeDelta::hours(24))));
        assert_eq!("90d".parse(), Ok(Period::Last(TimeDelta::days(90))));
        assert_eq!("2w".parse(), Ok(Period::Last(TimeDelta::days(14))));
        assert_eq!("1y".parse(), Ok(Period::Last(TimeDelta::days(365))));
        for bad in ["", "d", "0d", "-3d", "7x", "7 d", "99999999999999y"] {
            let err = bad.parse::<Period>().expect_err(bad);
            assert!(err.to_string().contains(&format!("\"{bad}\"")));
        }
        for (label, _) in Period::PRESETS {
            assert!(label.parse::<Period>().is_ok(), "{label}");
        }
    }

    #[test]
    fn dates_parse_as_utc_days_or_instants() {
        let d = parse_date("2026-03-01").expect("date");
        assert_eq!(d, Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().expect("valid"));
        let t = parse_date("2026-03-01T10:00:00+01:00").expect("time");
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("valid"));
        assert!(parse_date("2026-02-30").expect_err("no such day").to_string().contains("2026-02-30"));
    }

    #[test]
    fn reviews_are_owed_for_the_configured_results_and_environments() {
        use DeploymentStatus::*;
        let rule = ReviewRule { results: vec![Failed, Aborted, RolledBack], environments: vec!["production".into()] };
        assert!(rule.owes(Failed, "production", true));
        assert!(rule.owes(RolledBack, "production", true));
        assert!(rule.owes(Aborted, "production", true));
        assert!(!rule.owes(Aborted, "production", false), "an abort before the start reached no host");
        assert!(!rule.owes(Succeeded, "production", true));
        assert!(!rule.owes(Failed, "staging", true));
    }

    #[test]
    fn the_filter_line_sets_named_filters_and_searches_the_rest() {
        let f = HistoryFilter::parse_line("service=payments-api result=failed,rolled_back disk full", Period::All)
            .expect("parses");
        assert_eq!(f.service.as_deref(), Some("payments-api"));
        assert_eq!(f.results, [DeploymentStatus::Failed, DeploymentStatus::RolledBack]);
        assert_eq!(f.text.as_deref(), Some("disk full"));
        assert_eq!(HistoryFilter::parse_line("", Period::All), Ok(HistoryFilter::default()));
        let err = HistoryFilter::parse_line("result=running", Period::All).expect_err("not final");
        assert!(err.contains("\"running\""), "{err}");
        let err = HistoryFilter::parse_line("colour=red", Period::All).expect_err("unknown");
        assert!(err.contains("unknown filter \"colour\""), "{err}");
        assert_eq!(HistoryFilter::parse_line("review=owed", Period::All).expect("parses").reviews, [ReviewState::Owed]);
        let f = HistoryFilter::parse_line("model=phased phase=wave-1 step=install", Period::All).expect("parses");
        assert_eq!((f.phase.as_deref(), f.step.as_deref()), (Some("wave-1"), Some("install")));
        assert_eq!(f.chips(), ["model=phased", "phase=wave-1", "step=install"]);
        let dates = HistoryFilter::parse_line("since=2026-03-01 until=2026-04-01", Period::All).expect("parses");
        assert_eq!(
            dates.period,
            Period::Between(Some(parse_date("2026-03-01").expect("d")), Some(parse_date("2026-04-01").expect("d")))
        );
        let err = HistoryFilter::parse_line("since=yesterday", Period::All).expect_err("not a date");
        assert!(err.contains("\"yesterday\""), "{err}");
    }

    #[test]
    fn chips_name_each_filter_set() {
        let f = HistoryFilter {
            service: Some("payments-api".into()),
            results: vec![DeploymentStatus::Failed, DeploymentStatus::RolledBack],
            text: Some("disk".into()),
            ..HistoryFilter::default()
        };
        assert_eq!(f.chips(), ["service=payments-api", "result=failed,rolled_back", "text=disk"]);
        assert!(HistoryFilter::default().chips().is_empty());
    }
}
