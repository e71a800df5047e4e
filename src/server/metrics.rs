//! `GET /metrics`: the receiver's counters, histograms and the log's gauges for Prometheus.
//!
//! The text is written by `prometheus-client` (never formatted by hand): the Prometheus text
//! format 0.0.4 by default, OpenMetrics 1.0 when the scraper asks for it in `Accept` (as
//! Prometheus does). Counters and histograms are updated where things happen (a request
//! answered, a group committed); what the log holds (deployments by status, pending gates,
//! audit records) is read from the log when scraped, so it is right whichever process wrote it.

use crate::store::OperationalCounts;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of the OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request durations: 1 ms to about 9 minutes (gate long-polls are held up to 300 s).
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// The fields of a rejection reason: what `rejection_reason` may return.
const FIELDS: [&str; 9] = ["id", "deployment", "target", "phase", "step", "status", "at", "message", "data"];

/// Every metric of one receiver.
pub struct Metrics {
    registry: Registry,
    events: Family<ResultLabel, Counter>,
    rejected: Family<ReasonLabel, Counter>,
    requests: Histograms<RequestLabels>,
    commit_seconds: Histogram,
    commit_failures: Counter,
    request_events: Histogram,
    commit_events: Histogram,
    queue_depth: Gauge,
    deployments: Family<StatusLabel, Gauge>,
    pending_gates: Gauge,
    audit_records: Gauge,
    deliveries: Family<StateLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("shipdeck");
        let events = Family::<ResultLabel, Counter>::default();
        // Both series exist from the start, so a scraper sees 0 (and `rate()` works) before the
        // first event arrives.
        for result in ["accepted", "duplicate"] {
            let _ = events.get_or_create(&ResultLabel { result });
        }
        registry.register("events", "Event lines stored (accepted) or already stored (duplicate)", events.clone());
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "events_rejected",
            "Event lines rejected, by the field that was wrong (json: not a JSON object)",
            rejected.clone(),
        );
        let requests: Histograms<RequestLabels> = Family::new_with_constructor(request_buckets);
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", requests.clone());
        let commit_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "commit_duration_seconds",
            "Time of one group commit of the log writer (sync included)",
            commit_seconds.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "commit_failures",
            "Group commits that failed (nothing of them stored)",
            commit_failures.clone(),
        );
        let request_events = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        registry.register("request_events", "Event lines per POST /v1/events request", request_events.clone());
        let commit_events = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        registry.register("commit_events", "Events per group commit", commit_events.clone());
        let queue_depth = Gauge::default();
        registry.register("writer_queue_depth", "Requests waiting for the log writer", queue_depth.clone());
        let deployments = Family::<StatusLabel, Gauge>::default();
        registry.register("deployments", "Deployments in the log, by status", deployments.clone());
        let pending_gates = Gauge::default();
        registry.register("pending_gates", "Gates that hold a deployment until someone decides", pending_gates.clone());
        let audit_records = Gauge::default();
        registry.register("audit_records", "Records in the audit trail of decisions", audit_records.clone());
        let deliveries = Family::<StateLabel, Gauge>::default();
        registry.register(
            "notification_deliveries",
            "Notification deliveries in the log's outbox, by state",
            deliveries.clone(),
        );
        Self {
            registry,
            events,
            rejected,
            requests,
            commit_seconds,
            commit_failures,
            request_events,
            commit_events,
            queue_depth,
            deployments,
            pending_gates,
            audit_records,
            deliveries,
        }
    }

    /// Counts one request's lines: `accepted`, `duplicates` and the errors of the rejected ones.
    pub fn events(&self, accepted: usize, duplicates: usize, rejected: &[&str]) {
        self.request_events.observe((accepted + duplicates + rejected.len()) as f64);
        self.events.get_or_create(&ResultLabel { result: "accepted" }).inc_by(accepted as u64);
        self.events.get_or_create(&ResultLabel { result: "duplicate" }).inc_by(duplicates as u64);
        for error in rejected {
            self.rejected.get_or_create(&ReasonLabel { reason: rejection_reason(error) }).inc();
        }
    }

    /// One answered request.
    pub fn request(&self, route: &'static str, method: &'static str, code: u16, took: Duration) {
        self.requests.get_or_create(&RequestLabels { route, method, code }).observe(took.as_secs_f64());
    }

    /// One group commit of `events` events.
    pub fn commit(&self, events: usize, took: Duration, ok: bool) {
        if ok {
            self.commit_seconds.observe(took.as_secs_f64());
            self.commit_events.observe(events as f64);
        } else {
            self.commit_failures.inc();
        }
    }

    /// Renders every metric; `counts` is what the log holds now, `queued` the writer's queue.
    #[must_use]
    pub fn render(&self, counts: &OperationalCounts, queued: usize, openmetrics: bool) -> String {
        self.queue_depth.set(i64::try_from(queued).unwrap_or(i64::MAX));
        for (status, n) in &counts.deployments {
            self.deployments.get_or_create(&StatusLabel { status: status.as_str() }).set(*n);
        }
        self.pending_gates.set(counts.pending_gates);
        self.audit_records.set(counts.audit_records);
        for (state, n) in &counts.deliveries {
            self.deliveries.get_or_create(&StateLabel { state: state.clone() }).set(*n);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        if !openmetrics {
            // The one line by which the OpenMetrics text differs from the Prometheus format here.
            if let Some(body) = text.strip_suffix("# EOF\n") {
                text.truncate(body.len());
            }
        }
        text
    }
}

/// The reason label of a rejected line: the field its error names, else `json` (a line that is
/// not a JSON object of events at all). The set is closed, so labels cannot grow without bound.
#[must_use]
pub fn rejection_reason(error: &str) -> &'static str {
    error
        .strip_prefix("field \"")
        .and_then(|rest| rest.split('"').next())
        .and_then(|field| FIELDS.into_iter().find(|f| *f == field))
        .unwrap_or("json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_labelled_by_the_field_they_name() {
        assert_eq!(rejection_reason("field \"status\": unknown status \"done\""), "status");
        assert_eq!(rejection_reason("field \"deployment\": unknown deployment \"DEP-9\""), "deployment");
        assert_eq!(rejection_reason("field \"colour\": whatever"), "json");
        assert_eq!(rejection_reason("the line is a JSON array, not an event"), "json");
    }

    #[test]
    fn event_counters_are_exported_at_zero_before_any_event() {
        let text = Metrics::new().render(&OperationalCounts::default(), 0, false);
        assert!(text.contains("shipdeck_events_total{result=\"accepted\"} 0"), "{text}");
        assert!(text.contains("shipdeck_events_total{result=\"duplicate\"} 0"), "{text}");
    }

    #[test]
    fn the_prometheus_text_has_no_openmetrics_eof_and_openmetrics_has_it() {
        let m = Metrics::new();
        m.events(3, 1, &["field \"at\": too late"]);
        let counts = OperationalCounts::default();
        let plain = m.render(&counts, 2, false);
        assert!(!plain.contains("# EOF"), "{plain}");
        assert!(plain.contains("shipdeck_events_total{result=\"accepted\"} 3"), "{plain}");
        assert!(plain.contains("shipdeck_events_rejected_total{reason=\"at\"} 1"), "{plain}");
        assert!(plain.contains("shipdeck_writer_queue_depth 2"), "{plain}");
        assert!(m.render(&counts, 0, true).ends_with("# EOF\n"));
    }
}
