//! Agent events: what deployment agents and pipelines report, and how one NDJSON line of the
//! agent API becomes a validated [`AgentEvent`].
//!
//! Validation here is everything that can be checked without the log (fields, types, lengths,
//! statuses, timestamps). Whether the deployment, target and phase exist is the store's check.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest accepted event `id`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest accepted `message`, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest accepted name-like field (`deployment`, `target`, `phase`, `step`), in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Largest accepted `data` object, serialized, in bytes.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// How far an event's `at` may lie after its receipt or before its deployment was planned,
/// unless configured otherwise (`receiver.clock_skew`).
pub const DEFAULT_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// What happened to a lifecycle step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Started,
    Succeeded,
    Failed,
    Skipped,
    Info,
}

impl EventStatus {
    pub const ALL: [Self; 5] = [Self::Started, Self::Succeeded, Self::Failed, Self::Skipped, Self::Info];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Info => "info",
        }
    }

    /// Whether this status ends a step (succeeded, failed or skipped).
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped)
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for EventStatus {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            super::Invalid(format!(
                "field \"status\": unknown status \"{s}\" (expected started, succeeded, failed, skipped or info)"
            ))
        })
    }
}

/// A validated agent event, not yet matched against the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    /// The agent-chosen idempotency key.
    pub id: String,
    /// The deployment key as sent (`DEP-12`).
    pub deployment: String,
    /// The target, absent for phase-level events.
    pub target: Option<String>,
    /// The phase, optional: derived from the target when absent.
    pub phase: Option<String>,
    pub step: String,
    pub status: EventStatus,
    /// When it happened, as the agent says; the receive time when absent.
    pub at: DateTime<Utc>,
    pub message: Option<String>,
    /// Free-form JSON object, kept as the agent wrote it (numbers keep every digit).
    pub data: Option<String>,
}

/// The wire form of one event line. Unknown fields are ignored, so agents can add their own.
#[derive(Deserialize)]
struct WireEvent {
    id: String,
    deployment: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    phase: Option<String>,
    step: String,
    status: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}

/// Whether an event's `data` says it was reported on its target's behalf (`"reported_by"`
/// names who did, e.g. a pipeline that gave up on a silent host), not by the target's own
/// agent. Such an event is stored, shown and folded like any other, but it is not hearing from
/// the agent: it never counts for "heard from", silence or `recovery.lost_after`.
#[must_use]
pub fn reported_on_behalf(data: Option<&str>) -> bool {
    data.filter(|d| d.contains("\"reported_by\""))
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .is_some_and(|v| v.get("reported_by").is_some_and(|by| !by.is_null()))
}

impl AgentEvent {
    /// Whether it is a metric sample (an `info` event whose `data` names a `metric`, checked
    /// when parsed): an observation for the canary analysis, not work on the target.
    #[must_use]
    pub fn is_metric_sample(&self) -> bool {
        self.status == EventStatus::Info && self.data.as_deref().is_some_and(|d| d.contains("\"metric\""))
    }
}

/// Parses and validates one NDJSON line. `received` stands in for a missing `at`.
///
/// The error is one sentence naming the field and the bad value, as the agent API returns it.
pub fn parse_line(line: &str, received: DateTime<Utc>) -> Result<AgentEvent, super::Invalid> {
    // serde would take an array as a struct written positionally: an event is an object.
    if line.trim_start().starts_with('[') {
        return Err(super::Invalid("the line is a JSON array, not an event: send one JSON object per line".to_owned()));
    }
    let wire: WireEvent = match serde_json::from_str(line) {
        Ok(w) => w,
        // Parse again, slowly, only to say which field was wrong.
        Err(_) => {
            let de = &mut serde_json::Deserializer::from_str(line);
            return Err(super::Invalid(match serde_path_to_error::deserialize::<_, WireEvent>(de) {
                Err(e) => describe_json_error(&e),
                Ok(_) => "not a JSON object".to_owned(),
            }));
        }
    };
    check_len("id", &wire.id, MAX_ID_BYTES)?;
    check_len("deployment", &wire.deployment, MAX_NAME_BYTES)?;
    // The contract is `DEP-<n>` exactly: `dep-1` or `1` would otherwise be stored under DEP-1.
    if let Err(e) = wire.deployment.parse::<super::DeploymentKey>() {
        return Err(super::Invalid(format!("field \"deployment\": {e}")));
    }
    check_len("step", &wire.step, MAX_NAME_BYTES)?;
    for (field, value) in [("target", &wire.target), ("phase", &wire.phase)] {
        if let Some(v) = value {
            check_len(field, v, MAX_NAME_BYTES)?;
        }
    }
    if let Some(m) = &wire.message {
        check_len("message", m, MAX_MESSAGE_BYTES)?;
    }
    let status = wire.status.parse::<EventStatus>()?;
    let at = match &wire.at {
        None => received,
        Some(text) => DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| {
            super::Invalid(format!("field \"at\": \"{}\" is not an RFC 3339 timestamp ({e})", clip(text)))
        })?,
    };
    let data = match wire.data.as_deref().map(serde_json::value::RawValue::get) {
        None | Some("null") => None,
        Some(text) if text.starts_with('{') => {
            if text.len() > MAX_DATA_BYTES {
                return Err(super::Invalid(format!(
                    "field \"data\": {} bytes is over the limit of {MAX_DATA_BYTES}",
                    text.len()
                )));
            }
            if status == EventStatus::Info && text.contains("\"metric\"") {
                check_metric_sample(text)?;
            }
            Some(text.to_owned())
        }
        Some(other) => {
            return Err(super::Invalid(format!("field \"data\": expected a JSON object, got {}", clip(other))));
        }
    };
    Ok(AgentEvent {
        id: wire.id,
        deployment: wire.deployment,
        target: wire.target.filter(|t| !t.is_empty()),
        phase: wire.phase.filter(|p| !p.is_empty()),
        step: wire.step,
        status,
        at,
        message: wire.message,
        data,
    })
}

/// A metric sample (an `info` event whose `data` has `metric`, e.g. `{"metric": "error_rate",
/// "value": 0.7}`, what canary analysis compares) must name its metric and carry a finite
/// number: a sample that is not a number is rejected, never read as 0.
fn check_metric_sample(data: &str) -> Result<(), super::Invalid> {
    #[derive(Deserialize)]
    struct Sample {
        metric: Option<serde_json::Value>,
        value: Option<serde_json::Value>,
    }
    // A sample that does not parse as one (a value that overflows, a duplicate `metric` or
    // `value` key) is refused: stored, it would be read back as an infinity.
    let sample = serde_json::from_str::<Sample>(data)
        .map_err(|e| super::Invalid(format!("field \"data\": not a metric sample with one finite \"value\" ({e})")))?;
    let Some(metric) = sample.metric else { return Ok(()) };
    let name = match metric.as_str() {
        Some(name) if !name.trim().is_empty() && name.len() <= 128 => name.to_owned(),
        _ => {
            return Err(super::Invalid(format!(
                "field \"data\": \"metric\" must name a metric (a string of 1 to 128 bytes), not {}",
                clip(&metric.to_string())
            )));
        }
    };
    match sample.value {
        Some(v) if v.as_f64().is_some_and(f64::is_finite) => Ok(()),
        Some(v) => Err(super::Invalid(format!(
            "field \"data\": the value of metric sample \"{}\" is {}, not a number",
            clip(&name),
            clip(&v.to_string())
        ))),
        None => Err(super::Invalid(format!(
            "field \"data\": metric sample \"{}\" has no \"value\" (a number)",
            clip(&name)
        ))),
    }
}

/// Items with their 1-based line numbers.
pub type Numbered<T> = Vec<(usize, T)>;

/// Parses an NDJSON body: the valid events with their 1-based line numbers, and the errors of
/// the others. Blank lines are skipped (they still count for numbering).
pub fn parse_ndjson(body: &str, received: DateTime<Utc>) -> (Numbered<AgentEvent>, Numbered<String>) {
    // A byte order mark some editors and Windows tools write is not part of the first line.
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line, received) {
            Ok(e) => events.push((i + 1, e)),
            Err(e) => errors.push((i + 1, e.0)),
        }
    }
    (events, errors)
}

/// Whether an event's `at` is believable: at most `skew` after it was received, and at most
/// `skew` before its deployment was planned. A far-future failure would otherwise leave a target
/// failed for good; a far-past one would rewrite history.
pub fn check_at(
    at: DateTime<Utc>,
    received: DateTime<Utc>,
    deployment: &str,
    planned: DateTime<Utc>,
    skew: TimeDelta,
) -> Result<(), super::Invalid> {
    let text = || at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let allowed = super::duration::format(skew);
    if received.checked_add_signed(skew).is_some_and(|latest| at > latest) {
        return Err(super::Invalid(format!(
            "field \"at\": \"{}\" is {} after the receiver's time (more than the allowed clock skew of {allowed}; check the agent's clock)",
            text(),
            super::duration::format(at - received)
        )));
    }
    if planned.checked_sub_signed(skew).is_some_and(|earliest| at < earliest) {
        return Err(super::Invalid(format!(
            "field \"at\": \"{}\" is before {deployment} was planned ({}; more than the allowed clock skew of {allowed} earlier)",
            text(),
            planned.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(())
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), super::Invalid> {
    if value.len() > max {
        return Err(super::Invalid(format!(
            "field \"{field}\": \"{}\" is {} bytes, over the limit of {max}",
            clip(value),
            value.len()
        )));
    }
    if value.is_empty() && matches!(field, "id" | "deployment" | "step") {
        return Err(super::Invalid(format!("field \"{field}\": must not be empty")));
    }
    Ok(())
}

/// The first 40 characters of a value, for error messages that must stay readable.
fn clip(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &value[..cut]),
        None => value.to_owned(),
    }
}

fn describe_json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    let inner = e.inner();
    let msg = inner.to_string();
    // serde_json appends " at line L column C"; the line is the agent's own, so drop it.
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    if let Some(field) = msg.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        return format!("field \"{field}\": missing (required: id, deployment, step, status)");
    }
    if inner.is_syntax() || inner.is_eof() || path == "." {
        return format!("not a JSON object: {msg}");
    }
    format!("field \"{path}\": {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("valid")
    }

    fn parse(line: &str) -> Result<AgentEvent, crate::domain::Invalid> {
        parse_line(line, now())
    }

    #[test]
    fn a_full_line_parses_and_extra_fields_are_ignored() {
        let e = parse(
            r#"{"id":"a1","deployment":"DEP-1","target":"web-01","step":"install","status":"failed","at":"2026-11-26T10:00:00+01:00","message":"disk full","data":{"code":28},"agent_version":"3"}"#,
        )
        .expect("valid");
        assert_eq!(e.status, EventStatus::Failed);
        assert_eq!(e.target.as_deref(), Some("web-01"));
        assert_eq!(e.at.to_rfc3339(), "2026-11-26T09:00:00+00:00");
        assert_eq!(e.data.as_deref(), Some(r#"{"code":28}"#));
    }

    #[test]
    fn a_missing_timestamp_means_received_now() {
        let e = parse(r#"{"id":"a","deployment":"DEP-1","step":"s","status":"info"}"#).expect("valid");
        assert_eq!(e.at, now());
        assert_eq!(e.target, None);
    }

    #[test]
    fn each_bad_field_is_named_with_its_value() {
        let cases = [
            (r#"{"deployment":"DEP-1","step":"s","status":"info"}"#, "field \"id\": missing"),
            (r#"{"id":"a","deployment":"DEP-1","step":"s","status":"done"}"#, "unknown status \"done\""),
            (
                r#"{"id":"a","deployment":"DEP-1","step":"s","status":"info","at":"yesterday"}"#,
                "field \"at\": \"yesterday\"",
            ),
            (r#"{"id":7,"deployment":"DEP-1","step":"s","status":"info"}"#, "field \"id\": invalid type: integer `7`"),
            (
                r#"{"id":"a","deployment":"DEP-1","step":"s","status":"info","data":[1]}"#,
                "field \"data\": expected a JSON object",
            ),
            (r#"{"id":"a","deployment":"DEP-1","step":"","status":"info"}"#, "field \"step\": must not be empty"),
            ("[1,2]", "the line is a JSON array, not an event"),
            (r#"["a","DEP-1",null,null,"s","info"]"#, "the line is a JSON array, not an event"),
            ("{nope", "not a JSON object"),
            (
                r#"{"id":"a","deployment":"DEP-1","step":"canary","status":"info","data":{"metric":"error_rate","value":"high"}}"#,
                "field \"data\": the value of metric sample \"error_rate\" is \"high\", not a number",
            ),
            (
                r#"{"id":"a","deployment":"DEP-1","step":"canary","status":"info","data":{"metric":"latency_p95"}}"#,
                "metric sample \"latency_p95\" has no \"value\"",
            ),
            (
                r#"{"id":"a","deployment":"DEP-1","step":"canary","status":"info","data":{"metric":7,"value":1}}"#,
                "\"metric\" must name a metric (a string of 1 to 128 bytes), not 7",
            ),
        ];
        for (line, expected) in cases {
            let err = parse(line).expect_err(line);
            assert!(err.0.contains(expected), "{line}\n  got: {err}\n  want: {expected}");
        }
    }

    #[test]
    fn metric_samples_with_numbers_are_accepted_as_written() {
        let line = r#"{"id":"a","deployment":"DEP-1","target":"web-01","step":"canary","status":"info","data":{"metric":"error_rate","value":0.7}}"#;
        assert_eq!(parse(line).expect("valid").data.as_deref(), Some(r#"{"metric":"error_rate","value":0.7}"#));
        // Only info events are samples; other events keep whatever data they carry.
        let step = r#"{"id":"b","deployment":"DEP-1","target":"web-01","step":"verify","status":"succeeded","data":{"metric":"x"}}"#;
        assert!(parse(step).is_ok());
    }

    #[test]
    fn an_overflowing_or_doubled_metric_value_is_rejected_not_read_as_infinity() {
        let line = |data: &str| {
            format!(
                r#"{{"id":"a","deployment":"DEP-1","target":"web-01","step":"canary","status":"info","data":{data}}}"#
            )
        };
        let huge = "9".repeat(400);
        for data in [
            r#"{"metric":"error_rate","value":-1e400}"#.to_owned(),
            r#"{"metric":"error_rate","value":1e400}"#.to_owned(),
            format!(r#"{{"metric":"error_rate","value":{huge}}}"#),
            format!(r#"{{"metric":"error_rate","value":-{huge}}}"#),
            r#"{"metric":"error_rate","value":0.9,"value":-1e400}"#.to_owned(),
            r#"{"metric":"error_rate","value":0.9,"value":0.01}"#.to_owned(),
            r#"{"metric":"error_rate","metric":"latency","value":0.9}"#.to_owned(),
        ] {
            let err = parse(&line(&data)).expect_err(&data);
            assert!(err.0.contains("field \"data\""), "{data}: {err}");
        }
        // An unrelated huge number beside a sound sample is the agent's own data.
        assert!(parse(&line(&format!(r#"{{"metric":"error_rate","value":0.5,"note":{huge}}}"#))).is_ok());
    }

    #[test]
    fn ndjson_keeps_line_numbers_across_blank_and_bad_lines() {
        let body = "{\"id\":\"a\",\"deployment\":\"DEP-1\",\"step\":\"s\",\"status\":\"info\"}\n\n{oops\r\n{\"id\":\"b\",\"deployment\":\"DEP-1\",\"step\":\"s\",\"status\":\"info\"}";
        let (ok, bad) = parse_ndjson(body, now());
        assert_eq!(ok.iter().map(|(l, e)| (*l, e.id.as_str())).collect::<Vec<_>>(), vec![(1, "a"), (4, "b")]);
        assert_eq!(bad.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn over_long_fields_are_rejected_with_their_size() {
        let id = "x".repeat(MAX_ID_BYTES + 1);
        let err =
            parse(&format!(r#"{{"id":"{id}","deployment":"DEP-1","step":"s","status":"info"}}"#)).expect_err("long id");
        assert!(err.0.contains("field \"id\"") && err.0.contains("129 bytes"), "{err}");
        let msg = "m".repeat(MAX_MESSAGE_BYTES + 1);
        let err = parse(&format!(r#"{{"id":"a","deployment":"DEP-1","step":"s","status":"info","message":"{msg}"}}"#))
            .expect_err("long message");
        assert!(err.0.contains("field \"message\"") && err.0.contains("65537 bytes"), "{err}");
        let ok = "x".repeat(MAX_ID_BYTES);
        assert!(parse(&format!(r#"{{"id":"{ok}","deployment":"DEP-1","step":"s","status":"info"}}"#)).is_ok());
    }

    #[test]
    fn a_deployment_key_not_spelled_dep_n_is_refused_naming_it() {
        for key in ["dep-1", "1", "DEP-01", "Dep-1"] {
            let line = format!(r#"{{"id":"a","deployment":"{key}","step":"s","status":"info"}}"#);
            let err = parse(&line).expect_err(key);
            assert!(err.0.starts_with(&format!("field \"deployment\": \"{key}\" is not a deployment key")), "{err}");
            assert!(err.0.contains("e.g. DEP-1"), "{err}");
        }
    }
}
