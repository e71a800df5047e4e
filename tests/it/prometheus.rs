//! `GET /metrics` on the real receiver, read by an independent parser: the Python
//! `prometheus-client` package's Prometheus text and OpenMetrics parsers (`.ci/run` installs it).

use crate::support::{Env, Server, event};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Parses exposition text with Python's prometheus-client; `openmetrics` picks its strict
/// OpenMetrics parser. Returns every sample as `name{labels}` -> value.
fn parse(text: &str, openmetrics: bool) -> BTreeMap<String, f64> {
    let module = if openmetrics { "prometheus_client.openmetrics.parser" } else { "prometheus_client.parser" };
    let script = format!(
        "import sys, json\n\
         from {module} import text_string_to_metric_families as parse\n\
         out = {{}}\n\
         for family in parse(sys.stdin.read()):\n\
         \x20   for s in family.samples:\n\
         \x20       labels = ','.join(f'{{k}}={{v}}' for k, v in sorted(s.labels.items()))\n\
         \x20       out[f'{{s.name}}{{{{{{labels}}}}}}'] = s.value\n\
         print(json.dumps(out))\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("writes");
    let out = child.wait_with_output().expect("parser ends");
    assert!(out.status.success(), "the parser refused the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON from the parser")
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples.get(key).unwrap_or_else(|| panic!("no sample {key} in {samples:#?}"))
}

fn scrape(server: &Server, headers: &[(&str, &str)]) -> crate::support::Reply {
    server.request("GET", "/metrics", headers, b"").expect("scrapes")
}

#[test]
fn metrics_count_what_the_receiver_did_and_parse_with_prometheus_client() {
    let env = Env::new();
    let ran = env.plan("phased", 10);
    let held = env.plan("phased", 10);
    let server = env.serve_with(&[("SHIPDECK_TOKEN", "s3cret")]);
    let auth = [("Authorization", "Bearer s3cret")];

    let refused = scrape(&server, &[]);
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(scrape(&server, &[("Authorization", "Bearer wrong")]).status, 401);

    let body = [
        event("a", &ran, "web-01", "download", "started"),
        event("b", &ran, "web-02", "download", "started"),
        event("a", &ran, "web-01", "download", "started"),
        event("c", &ran, "web-01", "download", "done"),
        r#"{"id":"d","deployment":"DEP-99","step":"download","status":"started"}"#.to_owned(),
        "not json".to_owned(),
    ]
    .join("\n");
    let posted = server.request("POST", "/v1/events", &auth, body.as_bytes()).expect("posts");
    assert_eq!(posted.status, 200, "{}", posted.body);
    let second = event("e", &ran, "web-03", "download", "started");
    assert_eq!(server.request("POST", "/v1/events", &auth, second.as_bytes()).expect("posts").status, 200);

    let reply = scrape(&server, &auth);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = parse(&reply.body, false);
    assert_eq!(value(&m, "shipdeck_events_total{result=accepted}"), 3.0);
    assert_eq!(value(&m, "shipdeck_events_total{result=duplicate}"), 1.0);
    assert_eq!(value(&m, "shipdeck_events_rejected_total{reason=status}"), 1.0);
    assert_eq!(value(&m, "shipdeck_events_rejected_total{reason=deployment}"), 1.0);
    assert_eq!(value(&m, "shipdeck_events_rejected_total{reason=json}"), 1.0);
    assert_eq!(value(&m, "shipdeck_request_events_count{}"), 2.0);
    assert_eq!(value(&m, "shipdeck_request_events_sum{}"), 7.0);
    assert!(value(&m, "shipdeck_commit_duration_seconds_count{}") >= 1.0);
    // Lines that parse go to the writer's commits (the unknown deployment is refused there).
    assert_eq!(value(&m, "shipdeck_commit_events_sum{}"), 5.0);
    let events_route = "shipdeck_http_request_duration_seconds_count{code=200,method=POST,route=/v1/events}";
    assert_eq!(value(&m, events_route), 2.0);
    assert_eq!(value(&m, "shipdeck_http_request_duration_seconds_count{code=401,method=GET,route=/metrics}"), 2.0);
    assert_eq!(value(&m, "shipdeck_writer_queue_depth{}"), 0.0);
    // `ran` is running (its agents ran past the pilot gate), `held` waits at it: both are held
    // by a gate nobody decided.
    assert_eq!(value(&m, "shipdeck_deployments{status=running}"), 1.0);
    assert_eq!(
        value(&m, "shipdeck_deployments{status=awaiting_approval}") + value(&m, "shipdeck_deployments{status=planned}"),
        1.0
    );
    assert_eq!(value(&m, "shipdeck_deployments{status=succeeded}"), 0.0);
    assert_eq!(value(&m, "shipdeck_pending_gates{}"), 2.0);
    let trail = env.run(&["audit", "head", "--json"]).json();
    let records = trail["records"].as_f64().or(trail["count"].as_f64()).expect("a record count");
    assert_eq!(value(&m, "shipdeck_audit_records{}"), records);
    assert!(records >= 1.0, "the receiver's team sync is audited");
    // Deliveries by state add up to the outbox `notify list` shows, state by state.
    let outbox = env.run(&["notify", "list", "--json", "--limit", "0"]);
    let listed: Vec<serde_json::Value> =
        outbox.ok().lines().map(|l| serde_json::from_str(l).expect("a JSON delivery")).collect();
    for state in ["queued", "sending", "retrying", "sent", "failed"] {
        let n = listed.iter().filter(|d| d["state"] == state).count();
        assert_eq!(value(&m, &format!("shipdeck_notification_deliveries{{state={state}}}")), n as f64, "{state}");
    }
    let _ = held;

    // Every series the example Grafana dashboard queries is one the receiver exports.
    let dashboard = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/grafana-dashboard.json"))
        .expect("assets/grafana-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("shipdeck_"))
            {
                let family = ["_bucket", "_count", "_sum", "_total"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name);
                assert!(
                    reply.body.contains(&format!("# TYPE {family} ")),
                    "the dashboard queries {name}, not exported"
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 10, "the dashboard queries the receiver's metrics");

    // What Prometheus itself asks for: OpenMetrics, read by the strict parser.
    let open = scrape(&server, &[auth[0], ("Accept", "application/openmetrics-text; version=1.0.0")]);
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    let om = parse(&open.body, true);
    assert_eq!(value(&om, "shipdeck_events_total{result=accepted}"), 3.0);
}

fn config_with_metrics(env: &Env, access: &str) -> String {
    let default = env.run(&["config", "default"]);
    let text = default.ok().replace("metrics = \"token\"", &format!("metrics = \"{access}\""));
    assert!(text.contains(&format!("metrics = \"{access}\"")), "the default config names receiver.metrics");
    let path = env.path(&format!("metrics-{access}.toml"));
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn receiver_metrics_open_serves_without_the_token_and_off_does_not_serve() {
    let env = Env::new();
    env.plan("phased", 4);
    let open = config_with_metrics(&env, "open");
    let server = env.serve_with(&[("SHIPDECK_TOKEN", "s3cret"), ("SHIPDECK_CONFIG", &open)]);
    let reply = scrape(&server, &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = parse(&reply.body, false);
    let waiting =
        value(&m, "shipdeck_deployments{status=planned}") + value(&m, "shipdeck_deployments{status=awaiting_approval}");
    assert_eq!(waiting, 1.0);
    // The rest of the API keeps its token.
    assert_eq!(server.get("/v1/deployments/DEP-1").status, 401);
    drop(server);

    let off = config_with_metrics(&env, "off");
    let server = env.serve_with(&[("SHIPDECK_CONFIG", &off)]);
    assert_eq!(scrape(&server, &[]).status, 404);
}
