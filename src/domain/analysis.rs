//! Canary analysis: the canary's metric samples compared with the baseline's, rule by rule, into
//! one verdict with its numbers.
//!
//! A model states its rules (`[[models.NAME.analysis]]`): a metric, how the canary's value is
//! compared with the baseline's (`difference` or `ratio` of means, or of 95th percentiles), the
//! most it may exceed the baseline by, and how long the comparison must hold. Time after the
//! canary phase succeeded is cut into intervals (`interval`, a minute by default); in each
//! complete interval the comparison *held* (both sides reported and the canary stayed within
//! `max`), was *breached*, or had *no data* (one side reported nothing). A rule **passes** once
//! it held for `for` in total, **fails** once it was breached in more than `failure_limit`
//! intervals, reports a **missing metric** while a side has not reported the metric in any
//! complete interval, and is **inconclusive** otherwise. Everything here is pure: the store reads
//! the samples, the automation (`decide::automatic`) acts on the verdict, the front ends show it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the canary's value is compared with the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Mean of the canary minus mean of the baseline.
    Difference,
    /// Mean of the canary over mean of the baseline.
    Ratio,
    /// 95th percentile of the canary minus that of the baseline.
    P95Difference,
    /// 95th percentile of the canary over that of the baseline.
    P95Ratio,
}

impl Comparison {
    pub const ALL: [Self; 4] = [Self::Difference, Self::Ratio, Self::P95Difference, Self::P95Ratio];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Difference => "difference",
            Self::Ratio => "ratio",
            Self::P95Difference => "p95_difference",
            Self::P95Ratio => "p95_ratio",
        }
    }

    fn is_ratio(self) -> bool {
        matches!(self, Self::Ratio | Self::P95Ratio)
    }

    fn p95(self) -> bool {
        matches!(self, Self::P95Difference | Self::P95Ratio)
    }

    /// The statistic of one side's values (never empty).
    fn statistic(self, values: &mut [f64]) -> f64 {
        if self.p95() {
            percentile(values, 95.0)
        } else {
            #[allow(clippy::cast_precision_loss)]
            let n = values.len() as f64;
            values.iter().sum::<f64>() / n
        }
    }

    /// The compared figure: canary minus baseline, or canary over baseline (a baseline of 0:
    /// 1 when the canary is 0 too, else infinite).
    #[must_use]
    pub fn score(self, canary: f64, baseline: f64) -> f64 {
        if !self.is_ratio() {
            return canary - baseline;
        }
        if baseline == 0.0 {
            return if canary == 0.0 { 1.0 } else { f64::INFINITY };
        }
        canary / baseline
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Comparison {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            super::Invalid(format!(
                "unknown comparison \"{s}\" (use {})",
                Self::ALL.map(Self::as_str).join(", ").replacen(", p95_ratio", " or p95_ratio", 1)
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Nearest-rank percentile of `values` (sorted in place; never empty).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn minute() -> TimeDelta {
    TimeDelta::minutes(1)
}

/// One analysis rule of a canary model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRule {
    /// The metric agents report (`data.metric` of an `info` event).
    pub metric: String,
    pub compare: Comparison,
    /// The most the canary may exceed the baseline by: a difference, or a ratio.
    pub max: f64,
    /// How long the comparison must hold (in total, counted in whole intervals) to pass.
    #[serde(rename = "for", with = "super::duration::serde_text")]
    pub hold: TimeDelta,
    /// The length of each compared interval (default 1m).
    #[serde(default = "minute", with = "super::duration::serde_text")]
    pub interval: TimeDelta,
    /// Breached intervals tolerated; one more fails the analysis (default 0).
    #[serde(default)]
    pub failure_limit: u32,
}

impl AnalysisRule {
    /// What is wrong with the rule, in one sentence naming the value; `None` when it is sound.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        let m = &self.metric;
        if m.trim().is_empty() || m.len() > 128 {
            return Some(format!("analysis metric \"{m}\" must name a metric (1 to 128 bytes)"));
        }
        if self.hold <= TimeDelta::zero() {
            return Some(format!("analysis of \"{m}\": for = \"{}\" must be longer than 0s", fmt_d(self.hold)));
        }
        if self.interval <= TimeDelta::zero() {
            return Some(format!(
                "analysis of \"{m}\": interval = \"{}\" must be longer than 0s",
                fmt_d(self.interval)
            ));
        }
        if self.interval > self.hold {
            return Some(format!(
                "analysis of \"{m}\": interval = \"{}\" is longer than for = \"{}\"",
                fmt_d(self.interval),
                fmt_d(self.hold)
            ));
        }
        if !self.max.is_finite() || self.max < 0.0 || (self.compare.is_ratio() && self.max == 0.0) {
            return Some(format!(
                "analysis of \"{m}\": max = {} is not a usable {} (a finite number{})",
                self.max,
                self.compare,
                if self.compare.is_ratio() { " above 0" } else { ", 0 or more" }
            ));
        }
        None
    }

    /// `error_rate difference ≤ 0.5 for 10m`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} {} ≤ {} for {}", self.metric, self.compare, num(self.max), fmt_d(self.hold))
    }

    /// Intervals that must hold to pass (at least one).
    fn needed(&self) -> i64 {
        let iv = self.interval.num_milliseconds().max(1);
        ((self.hold.num_milliseconds() + iv - 1) / iv).max(1)
    }
}

fn fmt_d(d: TimeDelta) -> String {
    if d.num_milliseconds() % 1000 != 0 && d < TimeDelta::seconds(1) {
        return format!("{}ms", d.num_milliseconds());
    }
    super::duration::format(d)
}

/// A number as shown: up to three decimals, no trailing zeros.
#[must_use]
pub fn num(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let text = format!("{x:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.to_owned() }
}

/// One metric sample as the analysis reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the agent measured it (ms since the epoch).
    pub at_ms: i64,
    /// From a target of the canary phase (else the baseline).
    pub canary: bool,
    /// Index of its metric in [`metrics`] of the rules.
    pub metric: usize,
    pub value: f64,
}

/// The distinct metrics the rules name, in first-named order: what [`Sample::metric`] indexes.
#[must_use]
pub fn metrics(rules: &[AnalysisRule]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rules {
        if !out.contains(&r.metric.as_str()) {
            out.push(&r.metric);
        }
    }
    out
}

/// Where an analysis (or one rule of it) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Not enough held time yet (or no complete interval yet): waiting.
    Inconclusive,
    /// A side has not reported the metric in any complete interval: never a pass.
    MissingMetric,
    Fail,
}

impl Verdict {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Inconclusive => "inconclusive",
            Self::MissingMetric => "missing metric",
            Self::Fail => "fail",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How one complete interval went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalState {
    Held,
    Breached,
    NoData,
}

/// One complete interval of a rule: each side's statistic (when it reported) and the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
    pub state: IntervalState,
}

/// One rule's result, with the numbers it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub rule: AnalysisRule,
    pub verdict: Verdict,
    /// Complete intervals, oldest first.
    pub intervals: Vec<Interval>,
    /// The newest complete interval both sides reported in: canary, baseline, and the score.
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
    pub score: Option<f64>,
    /// How long it held so far, and how long it must.
    #[serde(with = "super::duration::serde_text")]
    pub held: TimeDelta,
    #[serde(with = "super::duration::serde_text")]
    pub needed: TimeDelta,
    pub breaches: u32,
    /// Samples counted (complete intervals only).
    pub canary_samples: usize,
    pub baseline_samples: usize,
}

impl RuleResult {
    /// One line with the numbers: `error_rate difference: canary 0.7 vs baseline 0.3 = 0.4 > 0.25
    /// (breached 1 of 3 intervals, limit 0)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let r = &self.rule;
        let head = format!("{} {}", r.metric, r.compare);
        let values = match (self.canary, self.baseline, self.score) {
            (Some(c), Some(b), Some(s)) => {
                let op = if s <= r.max { "≤" } else { ">" };
                format!("canary {} vs baseline {} = {} {op} {}", num(c), num(b), num(s), num(r.max))
            }
            _ => format!("max {}", num(r.max)),
        };
        let tail = match self.verdict {
            Verdict::Pass => format!("held {} of {}", fmt_d(self.held), fmt_d(self.needed)),
            Verdict::Fail => {
                format!("breached in {} interval(s) of {}, limit {}", self.breaches, fmt_d(r.interval), r.failure_limit)
            }
            Verdict::MissingMetric => match (self.canary_samples, self.baseline_samples) {
                (0, 0) => format!("no sample of \"{}\" from the canary or the baseline", r.metric),
                (0, _) => format!("no sample of \"{}\" from the canary", r.metric),
                _ => format!("no sample of \"{}\" from the baseline", r.metric),
            },
            Verdict::Inconclusive if self.intervals.is_empty() => {
                format!("waiting for the first {} interval", fmt_d(r.interval))
            }
            Verdict::Inconclusive => format!("held {} of {}", fmt_d(self.held), fmt_d(self.needed)),
        };
        format!("{head}: {values} ({tail})")
    }

    /// The canary's statistic per complete interval (absent: no canary data then), for the
    /// sparkline.
    #[must_use]
    pub fn canary_series(&self) -> Vec<Option<f64>> {
        self.intervals.iter().map(|i| i.canary).collect()
    }
}

/// A canary analysis at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub verdict: Verdict,
    /// When it started: the canary phase succeeded.
    pub started: DateTime<Utc>,
    /// When it was computed.
    pub at: DateTime<Utc>,
    pub rules: Vec<RuleResult>,
}

impl Analysis {
    /// The whole analysis in one sentence: the verdict, then each rule's numbers.
    #[must_use]
    pub fn summary(&self) -> String {
        let rules: Vec<String> = self.rules.iter().map(RuleResult::describe).collect();
        format!("canary analysis {}: {}", self.verdict, rules.join("; "))
    }

    /// The rules whose metric no side has reported (the live view warns about them).
    #[must_use]
    pub fn missing(&self) -> Vec<&str> {
        self.rules.iter().filter(|r| r.verdict == Verdict::MissingMetric).map(|r| r.rule.metric.as_str()).collect()
    }
}

/// Analyses `samples` against `rules` from `started` (the canary phase succeeded) up to `now`.
///
/// Only complete intervals count; samples before `started` or in the interval still running
/// are left for later. The verdict is the worst of the rules' (fail, then missing metric, then
/// inconclusive, then pass).
#[must_use]
pub fn analyse(rules: &[AnalysisRule], started: DateTime<Utc>, now: DateTime<Utc>, samples: &[Sample]) -> Analysis {
    let names = metrics(rules);
    let start = started.timestamp_millis();
    let now_ms = now.timestamp_millis();
    let results: Vec<RuleResult> = rules
        .iter()
        .map(|rule| {
            let metric = names.iter().position(|m| *m == rule.metric).unwrap_or(usize::MAX);
            let iv = rule.interval.num_milliseconds().max(1);
            let complete = usize::try_from((now_ms - start).max(0) / iv).unwrap_or(0);
            // Each complete interval's values: (canary, baseline).
            let mut buckets: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); complete];
            for s in samples.iter().filter(|s| s.metric == metric && s.at_ms >= start) {
                let Ok(k) = usize::try_from((s.at_ms - start) / iv) else { continue };
                if let Some((c, b)) = buckets.get_mut(k) {
                    if s.canary { c.push(s.value) } else { b.push(s.value) }
                }
            }
            rule_result(rule, buckets)
        })
        .collect();
    let verdict = results.iter().map(|r| r.verdict).max().unwrap_or(Verdict::MissingMetric);
    Analysis { verdict, started, at: now, rules: results }
}

fn rule_result(rule: &AnalysisRule, buckets: Vec<(Vec<f64>, Vec<f64>)>) -> RuleResult {
    let mut intervals = Vec::with_capacity(buckets.len());
    let (mut held, mut breaches, mut canary_samples, mut baseline_samples) = (0_i64, 0_u32, 0, 0);
    let mut newest = None;
    // A value that is not a finite number (an infinity from an old log, say) fails the rule:
    // no statistic over it can be trusted to hold.
    let mut not_finite = false;
    for (mut c, mut b) in buckets {
        canary_samples += c.len();
        baseline_samples += b.len();
        let finite = c.iter().chain(&b).all(|v| v.is_finite());
        not_finite |= !finite;
        let canary = (!c.is_empty()).then(|| rule.compare.statistic(&mut c));
        let baseline = (!b.is_empty()).then(|| rule.compare.statistic(&mut b));
        let state = match (canary, baseline) {
            (Some(cv), Some(bv)) => {
                let score = rule.compare.score(cv, bv);
                newest = Some((cv, bv, score));
                if finite && score.is_finite() && score <= rule.max {
                    held += 1;
                    IntervalState::Held
                } else {
                    breaches += 1;
                    IntervalState::Breached
                }
            }
            _ => IntervalState::NoData,
        };
        intervals.push(Interval { canary, baseline, state });
    }
    let verdict = if not_finite || breaches > rule.failure_limit {
        Verdict::Fail
    } else if held >= rule.needed() {
        Verdict::Pass
    } else if !intervals.is_empty() && (canary_samples == 0 || baseline_samples == 0) {
        Verdict::MissingMetric
    } else {
        Verdict::Inconclusive
    };
    let held_time = rule.interval * i32::try_from(held).unwrap_or(i32::MAX);
    RuleResult {
        rule: rule.clone(),
        verdict,
        intervals,
        canary: newest.map(|n| n.0),
        baseline: newest.map(|n| n.1),
        score: newest.map(|n| n.2),
        held: held_time,
        needed: rule.interval * i32::try_from(rule.needed()).unwrap_or(i32::MAX),
        breaches,
        canary_samples,
        baseline_samples,
    }
}

#[cfg(test)]
mod tests;
