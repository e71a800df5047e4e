//! `shipdeck demo --headless`: the whole path (history, receiver, agents over HTTP, gates
//! decided by simulated colleagues) runs to the end on a fresh log.

use crate::support;

use support::Env;

#[test]
fn the_headless_demo_runs_every_live_rollout_to_the_end_through_the_real_receiver() {
    let env = Env::new();
    let run = env.run(&["demo", "--headless", "--speed", "100", "--history", "40", "--seed", "3"]);
    let out = run.ok();
    assert!(out.contains("history: 40 past deployments"), "{out}");
    assert!(out.contains(", 0 rejected, 0 posts failed"), "{out}");
    let accepted: u64 = out
        .split("events accepted")
        .next()
        .and_then(|s| s.rsplit(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no accepted count in {out}"));
    assert!(accepted > 500, "{out}");
    // The ETA check compares every started phase of the two running rollouts with what it took
    // (its figures are a measurement, reported, not asserted here).
    assert!(out.lines().any(|l| l.starts_with("eta DEP-")), "{out}");
    assert!(out.contains("eta median absolute error: "), "{out}");
    // Deliveries went out to the demo's loopback webhook sink; its flaky channel failed and was retried.
    let line = out.lines().find(|l| l.starts_with("notifications: ")).unwrap_or_else(|| panic!("{out}"));
    let number = |after: &str| -> usize {
        line.split(after).next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    assert!(number(" sent") > 0 && number(" answered 500") > 0, "{line}");
    let rows = env.run(&["notify", "list", "--json", "--limit", "0"]);
    let sent_flaky =
        rows.ok().lines().any(|l| l.contains("\"channel\":\"demo-flaky\"") && l.contains("\"state\":\"sent\""));
    assert!(sent_flaky, "a flaky delivery got through on a retry: {}", rows.stdout);

    let list = env.run(&["list", "--json", "--limit", "0"]).json();
    let deployments = list.as_array().expect("a list");
    assert_eq!(deployments.len(), 52, "40 past, 7 live, 5 scheduled in the coming days");
    let live = |release: &str| deployments.iter().find(|d| d["release"] == release && d["version"] != "1.0.0").cloned();
    let phased = deployments
        .iter()
        .find(|d| d["release"] == "payments-api" && d["version"] == "2.5.0")
        .expect("the phased rollout");
    assert_eq!(phased["status"], "succeeded", "{phased}");
    assert_eq!(phased["targets"], 100);
    let rolling = deployments
        .iter()
        .find(|d| d["release"] == "checkout-web" && d["version"] == "7.12.1")
        .expect("the rolling one");
    assert_eq!(rolling["status"], "succeeded", "{rolling}");
    let scheduled = deployments
        .iter()
        .find(|d| d["release"] == "search-svc" && d["version"] == "3.4.0")
        .expect("the scheduled one");
    assert_eq!(scheduled["status"], "planned", "it starts in tonight's window: {scheduled}");
    assert!(live("payments-api").is_some());
    // A pilot by site (the Berlin office first) and a blue/green switch-over, both new models
    // in this log, so supervised; colleagues took every decision, the switch included.
    let key_of = |release: &str| {
        deployments.iter().find(|d| d["release"] == release).and_then(|d| d["key"].as_str()).expect(release).to_owned()
    };
    let pilot = env.run(&["status", &key_of("crm-portal"), "--json"]).json();
    assert_eq!(pilot["status"], "succeeded", "{pilot}");
    assert_eq!(pilot["supervised"]["run"], 1);
    let first: Vec<&serde_json::Value> =
        pilot["target_list"].as_array().expect("targets").iter().filter(|t| t["phase"] == "pilot").collect();
    assert!(!first.is_empty() && first.iter().all(|t| t["labels"]["site"] == "berlin"), "{first:?}");
    let bluegreen = env.run(&["status", &key_of("storefront"), "--json"]).json();
    assert_eq!(bluegreen["status"], "succeeded", "{bluegreen}");
    assert_eq!((bluegreen["switch"]["live"].as_str(), bluegreen["targets"].as_u64()), (Some("new"), Some(6)));
    // The calendar: an emergency freeze in the history, one ahead, and a scheduled deployment
    // that the one ahead conflicts with.
    let freezes = env.run(&["freeze", "list", "--json"]).json();
    let names: Vec<&str> = freezes.as_array().expect("freezes").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["payment-provider-incident", "dc-maintenance"]);
    let calendar = env.run(&["schedule", "list", "--json"]).json();
    let ledger = calendar["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["name"] == "ledger@3.1.0")
        .cloned()
        .expect("ledger is scheduled");
    assert_eq!(ledger["status"], "scheduled");
    assert!(ledger["conflicts"].to_string().contains("dc-maintenance"), "{ledger}");

    // Every gate of the phased rollout was approved by people allowed to, and the trail holds.
    let audit: Vec<serde_json::Value> = env
        .run(&["audit", "list", "--json"])
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record a line"))
        .collect();
    let of_phased = |r: &&serde_json::Value| r["deployment"] == phased["key"];
    let approvals: Vec<&serde_json::Value> =
        audit.iter().filter(of_phased).filter(|r| r["decision"] == "approve" && r["outcome"].is_null()).collect();
    assert_eq!(approvals.len(), 4, "pilot 1 + wave-1 2 + wave-2 1: {approvals:?}");
    // Its checklist was ticked through the same decision path: `pre` before the pilot (the gate
    // requires it), `post` after the last phase (smoke by the agents, the service owner by hand).
    let ticks: Vec<(&str, &str)> = audit
        .iter()
        .filter(of_phased)
        .filter(|r| r["decision"] == "check")
        .filter_map(|r| Some((r["subject"].as_str()?, r["person"].as_str()?)))
        .collect();
    assert!(ticks.contains(&("artifacts", "dana")) && ticks.contains(&("smoke", "agents")), "{ticks:?}");
    assert!(ticks.iter().any(|t| t.0 == "service-healthy"), "{ticks:?}");
    // Nothing the simulated agents did went beyond what was authorised.
    assert_eq!(env.run(&["conformance"]).ok().trim(), "no conformance flags");
    assert!(approvals.iter().all(|r| r["person"] != "sam"), "the requester never approves their own: {audit:?}");
    assert_eq!(env.run(&["audit", "verify"]).code, 0);

    // The two live canaries went through their analysis on the metrics their agents posted:
    // the healthy one was approved by shipdeck (analysis), the degrading one halted by it (and
    // rolled back by the colleague on call).
    let canary = |release: &str| {
        let d = live(release).unwrap_or_else(|| panic!("{release} is live"));
        let key = d["key"].as_str().expect("key").to_owned();
        let records: Vec<(String, String)> = audit
            .iter()
            .filter(|r| r["deployment"] == key.as_str() && r["person"] == "shipdeck (analysis)")
            .map(|r| (r["decision"].as_str().unwrap_or("").to_owned(), r["comment"].as_str().unwrap_or("").to_owned()))
            .collect();
        (d["status"].as_str().unwrap_or("").to_owned(), records)
    };
    let (status, records) = canary("catalog-api");
    assert_eq!(status, "succeeded");
    assert!(
        records.len() == 1 && records[0].0 == "approve" && records[0].1.starts_with("canary analysis pass: error_rate"),
        "{records:?}"
    );
    let (status, records) = canary("images-svc");
    assert_eq!(status, "rolled_back");
    assert!(
        records.len() == 1 && records[0].0 == "halt" && records[0].1.starts_with("canary analysis fail: error_rate"),
        "{records:?}"
    );
}

#[test]
fn the_demo_refuses_to_write_over_an_existing_file_with_exit_2() {
    let env = Env::new();
    std::fs::write(&env.db, b"precious").expect("writes");
    let run = env.run(&["demo", "--headless", "--history", "1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("\"{}\" already exists", env.db.display())), "{}", run.stderr);
    assert_eq!(std::fs::read(&env.db).expect("reads"), b"precious");
}

#[test]
fn a_demo_refusing_the_log_shipdeck_db_names_says_so_not_pass_another_db() {
    let env = Env::new();
    std::fs::write(&env.db, b"precious").expect("writes");
    let out = support::bin()
        .env("SHIPDECK_DB", &env.db)
        .args(["demo", "--headless", "--history", "1"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("\"{}\" (from SHIPDECK_DB) already exists", env.db.display())), "{stderr}");
    assert!(!stderr.contains("pass another --db"), "no --db was passed: {stderr}");
    assert_eq!(std::fs::read(&env.db).expect("reads"), b"precious");
}

/// The demo's 90 days show two trends in `shipdeck kpi --by week`: checkout-web's change
/// failure rate drops after the improvement action done 40 days ago, and the approvals at
/// phased's gate before wave-2 take longer and longer.
#[test]
fn the_demo_history_shows_a_failure_rate_dropping_after_an_action_and_an_approval_wait_growing() {
    use chrono::{NaiveDate, TimeDelta, Utc};
    let env = Env::new();
    env.run(&["demo", "--headless", "--speed", "1000"]).ok();
    let weeks = |args: &[&str]| -> Vec<(NaiveDate, serde_json::Value)> {
        let mut all = vec!["kpi", "--since", "90d", "--by", "week", "--json"];
        all.extend_from_slice(args);
        let k = env.run(&all).json();
        k["groups"]
            .as_array()
            .expect("weeks")
            .iter()
            .map(|g| {
                let start = NaiveDate::parse_from_str(g["group"].as_str().expect("label"), "%Y-%m-%d").expect("a date");
                (start, g.clone())
            })
            .collect()
    };
    // The fix was done 40 days before the demo's now: the real clock's, which the seeded history
    // is relative to (within seconds of the test's).
    #[allow(clippy::disallowed_methods)]
    let fixed = (Utc::now() - TimeDelta::days(40)).date_naive();
    let (mut before, mut after) = ((0, 0), (0, 0));
    for (start, g) in weeks(&["--service", "checkout-web"]) {
        let counts = (g["production_failed"].as_u64().unwrap_or(0), g["production_started"].as_u64().unwrap_or(0));
        if start + TimeDelta::days(7) <= fixed {
            before = (before.0 + counts.0, before.1 + counts.1);
        } else if start > fixed {
            after = (after.0 + counts.0, after.1 + counts.1);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = |(failed, started): (u64, u64)| failed as f64 / started.max(1) as f64;
    assert!(before.1 >= 5 && after.1 >= 5, "enough production runs on both sides: {before:?} {after:?}");
    assert!(rate(before) >= 0.3, "checkout-web failed often before the fix: {before:?}");
    assert!(rate(after) < rate(before) / 2.0, "and far less after it: {before:?} then {after:?}");

    // The approval wait (p50) at phased/wave-2, week by week: the last weeks far above the first.
    let waits: Vec<i64> = weeks(&["--model", "phased"])
        .iter()
        .filter_map(|(_, g)| {
            g["approval_wait_by_gate"]
                .as_array()?
                .iter()
                .find(|w| w["name"] == "phased/wave-2")
                .and_then(|w| w["median_s"].as_i64())
        })
        .collect();
    assert!(waits.len() >= 8, "{waits:?}");
    let mean = |v: &[i64]| v.iter().sum::<i64>() / i64::try_from(v.len()).unwrap_or(1);
    let (first, last) = (mean(&waits[..4]), mean(&waits[waits.len() - 4..]));
    assert!(last > 2 * first, "approval waits grow: first weeks {first}s, last weeks {last}s ({waits:?})");
}
