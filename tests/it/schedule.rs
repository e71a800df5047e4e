//! Schedules end to end: planned starts that hold, conflicts at plan and reschedule time, the
//! next free slot, emergency freezes across processes, the calendar as JSON and iCalendar (parsed
//! back by Python's `icalendar`), and the receiver's `/v1/calendar.ics`.
//!
//! Times are in 2031, inside one-off windows of the test config, so the answers do not depend on
//! today's date.

use crate::support::{self, Env};

/// production: one one-off window (March 2031) and a freeze inside it, at most two deployments
/// at once; staging: no window, and a weekly Sunday window in Berlin for the calendar file.
const CONFIG: &str = r#"
timezone = "Europe/Berlin"
[[environments]]
name = "production"
production = true
max_concurrent = 2
[[environments]]
name = "staging"
[[people]]
name = "dana"
roles = ["deployment_manager"]
[[people]]
name = "omar"
roles = ["deployment_manager", "change_manager"]
[[people]]
name = "sam"
roles = ["release_engineer"]
[models.big-bang]
technique = "big-bang"
steps = ["install"]
[[models.big-bang.phases]]
name = "all"
targets = "rest"
gate = { approvals = 1, roles = ["deployment_manager"] }
[[windows]]
name = "march"
environments = ["production"]
from = "2031-03-01T00:00"
until = "2031-04-01T00:00"
[[windows]]
name = "sunday-nights"
environments = ["staging"]
days = ["sun"]
start = "01:30"
end = "04:00"
[[freezes]]
name = "audit"
environments = ["production"]
from = "2031-03-10T00:00"
until = "2031-03-12T00:00"
reason = "External audit."
[[freezes]]
name = "christmas"
environments = ["production"]
yearly_from = "12-24"
yearly_until = "12-27"
reason = "Christmas."
"#;

fn setup() -> (Env, String) {
    let env = Env::new();
    let path = env.path("cal.toml");
    std::fs::write(&path, CONFIG).expect("writes");
    (env, path.to_str().expect("utf-8").to_owned())
}

/// `shipdeck --config C ARGS` as `who`.
fn run(env: &Env, config: &str, who: &str, args: &[&str]) -> support::Run {
    let mut all = vec!["--config", config];
    all.extend_from_slice(args);
    env.run_env(&[("SHIPDECK_OPERATOR", who)], &all)
}

fn plan(env: &Env, config: &str, who: &str, release: &str, targets: &str, start: &str) -> support::Run {
    let args = ["plan", "--release", release, "--env", "production", "--model", "big-bang", "--targets", targets];
    let mut all = args.to_vec();
    all.extend_from_slice(&["--start", start]);
    run(env, config, who, &all)
}

#[test]
fn a_planned_start_holds_the_first_gate_and_flags_early_events() {
    let (env, config) = setup();
    let key =
        plan(&env, &config, "sam", "pay@1", "a,b", "2031-03-02T10:00").ok().lines().next().expect("key").to_owned();
    let status = run(&env, &config, "sam", &["status", &key]);
    assert!(status.ok().starts_with(&format!("{key}  pay@1 -> production  [scheduled]")), "{}", status.stdout);
    assert!(run(&env, &config, "sam", &["list"]).ok().contains("scheduled"));
    // Approving the first gate before the start is refused, naming the time rule and the time.
    let early = run(&env, &config, "dana", &["approve", &key, "all"]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(early.stderr.contains("planned to start at 2031-03-02 10:00 CET"), "{}", early.stderr);
    // A pipeline waiting on the first phase is still waiting.
    let wait = run(&env, &config, "sam", &["gate", "wait", &key, "all", "--timeout", "1s"]);
    assert_eq!(wait.code, 3, "timed out, not approved: {}", wait.stderr);
    // An agent working before the start is stored, and flagged.
    let line = format!(r#"{{"id":"e1","deployment":"{key}","target":"a","step":"install","status":"started"}}"#);
    env.run_with_stdin(&["--config", config.as_str(), "ingest", "-"], &line).ok();
    let flags = run(&env, &config, "sam", &["conformance", &key, "--json"]);
    assert!(flags.ok().contains("before_planned_start"), "{}", flags.stdout);
}

#[test]
fn each_conflict_is_refused_alone_and_all_are_named_together() {
    let (env, config) = setup();
    plan(&env, &config, "sam", "pay@1", "a,b", "2031-03-02T10:00").ok();
    let refused = |start: &str, release: &str, targets: &str, expect: &[&str]| {
        let r = plan(&env, &config, "sam", release, targets, start);
        assert_eq!(r.code, 1, "{release} at {start}: {}{}", r.stdout, r.stderr);
        let conflicts: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("conflict: ")).collect();
        assert_eq!(conflicts.len(), expect.len(), "{}", r.stderr);
        for (line, want) in conflicts.iter().zip(expect) {
            assert!(line.contains(want), "{line} should say {want}");
        }
        assert!(r.stderr.contains(&format!("plan refused: {} conflict(s)", expect.len())), "{}", r.stderr);
    };
    refused("2031-02-20T10:00", "web@1", "x", &["starts outside every change window of the environment (march)"]);
    refused("2031-03-31T23:50", "web@1", "x", &["runs past the end of window \"march\""]);
    refused("2031-03-10T12:00", "web@1", "x", &["overlaps freeze \"audit\""]);
    refused("2031-03-02T10:15", "pay@2", "z", &["overlaps DEP-1 (pay@1, same service and environment"]);
    refused("2031-03-02T10:15", "web@1", "b,y", &["shares 1 target(s) with DEP-1 (pay@1) at the same time: b"]);
    // Two at once are allowed in production; a third is not.
    plan(&env, &config, "sam", "db@1", "d", "2031-03-02T10:05").ok();
    refused("2031-03-02T10:10", "web@1", "x", &["production allows 2 deployment(s) at once"]);
    // Everything at once, in a fixed order.
    refused(
        "2031-03-02T10:10",
        "pay@3",
        "a",
        &["same service and environment", "shares 1 target(s)", "production allows 2 deployment(s) at once"],
    );
    // Nothing was planned by any refusal.
    assert_eq!(run(&env, &config, "sam", &["list"]).ok().lines().count(), 3, "header and two deployments");
}

#[test]
fn a_conflict_is_overridden_only_by_an_allowed_role_with_a_reason_and_audited() {
    let (env, config) = setup();
    let args = |who: &str, extra: &[&str]| {
        let mut a = vec!["plan", "--release", "web@1", "--env", "production", "--model", "big-bang", "--targets", "x"];
        a.extend_from_slice(&["--start", "2031-03-10T12:00", "--requested-by", who]);
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    fn as_refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let no_reason = run(&env, &config, "dana", &as_refs(&args("dana", &["--force"])));
    assert_eq!(no_reason.code, 2, "{}", no_reason.stderr);
    let dana = run(&env, &config, "dana", &as_refs(&args("dana", &["--force", "--reason", "hotfix"])));
    assert_eq!(dana.code, 1, "{}", dana.stderr);
    assert!(
        dana.stderr.contains("dana holds none of the roles allowed to override schedule conflicts (change_manager)")
    );
    let omar = run(&env, &config, "omar", &as_refs(&args("omar", &["--force", "--reason", "regulator deadline"])));
    assert!(omar.ok().starts_with("DEP-1"), "{}", omar.stderr);
    let audit = run(&env, &config, "omar", &["audit", "list", "--json"]);
    let text = audit.ok();
    assert!(
        text.contains("schedule_override") && text.contains("regulator deadline") && text.contains("audit"),
        "{text}"
    );
    run(&env, &config, "omar", &["audit", "verify"]).ok();
}

#[test]
fn reschedule_moves_a_start_checked_like_a_plan_and_cancel_ends_it_audited() {
    let (env, config) = setup();
    plan(&env, &config, "sam", "pay@1", "a", "2031-03-02T10:00").ok();
    let into_freeze = run(&env, &config, "sam", &["reschedule", "DEP-1", "--start", "2031-03-11T10:00"]);
    assert_eq!(into_freeze.code, 1, "{}", into_freeze.stderr);
    assert!(into_freeze.stderr.contains("overlaps freeze \"audit\""), "{}", into_freeze.stderr);
    let moved = run(&env, &config, "sam", &["reschedule", "DEP-1", "--start", "2031-03-05T09:00", "--reason", "CAB"]);
    assert!(moved.ok().contains("rescheduled DEP-1: starts 2031-03-05 09:00 CET"), "{}", moved.stdout);
    let status = run(&env, &config, "sam", &["status", "DEP-1"]);
    assert!(status.ok().contains("planned 2031-03-05 09:00 CET"), "{}", status.stdout);
    // Someone who neither asked for it nor may plan for others may not move it (audited).
    let staging = ["plan", "--release", "db@1", "--env", "staging", "--model", "big-bang", "--targets", "d"];
    let mut dana_plan = staging.to_vec();
    dana_plan.extend_from_slice(&["--start", "2031-03-09T02:00"]);
    run(&env, &config, "dana", &dana_plan).ok();
    let theirs = run(&env, &config, "sam", &["reschedule", "DEP-2", "--start", "2031-03-16T02:00"]);
    assert_eq!(theirs.code, 1, "{}", theirs.stderr);
    assert!(
        theirs.stderr.contains("only the requester (dana) or someone allowed to plan for others"),
        "{}",
        theirs.stderr
    );
    let garbled = run(&env, &config, "sam", &["reschedule", "DEP-1", "--start", "past"]);
    assert_eq!(garbled.code, 2, "a time that does not parse: {}", garbled.stderr);
    assert!(garbled.stderr.contains("--start \"past\" is not a time"), "{}", garbled.stderr);
    let in_past = run(&env, &config, "sam", &["reschedule", "DEP-1", "--start", "2020-01-01T00:00"]);
    assert_eq!(in_past.code, 2);
    assert!(in_past.stderr.contains("is in the past"), "{}", in_past.stderr);
    assert_eq!(run(&env, &config, "sam", &["cancel", "DEP-1", "--reason", " "]).code, 2);
    let cancel = run(&env, &config, "sam", &["cancel", "DEP-1", "--reason", "superseded by 1.1"]);
    assert!(cancel.ok().contains("cancelled DEP-1"), "{}", cancel.stdout);
    assert!(run(&env, &config, "sam", &["status", "DEP-1"]).ok().contains("[aborted]"));
    let again = run(&env, &config, "sam", &["reschedule", "DEP-1", "--start", "2031-03-06T09:00"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("only a deployment that has not started can be rescheduled"), "{}", again.stderr);
    let audit = run(&env, &config, "sam", &["audit", "list", "--json"]).ok().to_owned();
    assert!(audit.contains("\"reschedule\"") && audit.contains("\"cancel\"") && audit.contains("superseded by 1.1"));
}

#[test]
fn schedule_next_finds_the_known_answer_and_explains_the_skipped_starts() {
    let (env, config) = setup();
    // DEP-1 holds pay in production on 2031-03-09 from 22:00 to 22:30 Berlin; the audit freeze
    // runs from midnight, 10 March, to midnight, 12 March. A 30-minute pay run asked for from
    // 22:00 fits from 22:30 (it ends at 23:00, before the freeze).
    plan(&env, &config, "sam", "pay@1", "a", "2031-03-09T22:00").ok();
    let next = run(
        &env,
        &config,
        "sam",
        &[
            "schedule",
            "next",
            "--service",
            "pay",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "a",
            "--after",
            "2031-03-09T22:00",
            "--explain",
        ],
    );
    assert_eq!(next.ok().trim(), "2031-03-09T21:30:00Z", "{}", next.stderr);
    assert!(next.stderr.contains("skipped Sun 2031-03-09 22:00 CET: overlaps DEP-1"), "{}", next.stderr);
    // Asked for from 23:45, a 30-minute run would end in the freeze: the answer is after it.
    let after_freeze = run(
        &env,
        &config,
        "sam",
        &[
            "schedule",
            "next",
            "--service",
            "pay",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "a",
            "--after",
            "2031-03-09T23:45",
            "--explain",
        ],
    );
    assert_eq!(after_freeze.ok().trim(), "2031-03-11T23:00:00Z", "{}", after_freeze.stderr);
    assert!(after_freeze.stderr.contains("overlaps freeze \"audit\""), "{}", after_freeze.stderr);
    // plan --start next uses the same answer.
    let planned = run(
        &env,
        &config,
        "sam",
        &[
            "plan",
            "--release",
            "web@1",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "w",
            "--start",
            "next",
        ],
    );
    assert_eq!(planned.code, 1, "no window before March 2031 within the 60-day horizon: {}", planned.stderr);
    assert!(planned.stderr.contains("no free slot for web in production within 60d"), "{}", planned.stderr);
    let unknown = run(&env, &config, "sam", &["schedule", "next", "--service", "pay", "--env", "prod"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("\"prod\""), "{}", unknown.stderr);
}

#[test]
fn an_emergency_freeze_holds_for_decisions_at_once_and_only_allowed_roles_declare_it() {
    let (env, config) = setup();
    let args = ["plan", "--release", "api@1", "--env", "staging", "--model", "big-bang", "--targets", "s1"];
    run(&env, &config, "sam", &args).ok();
    let by_sam = run(
        &env,
        &config,
        "sam",
        &["freeze", "add", "--env", "staging", "--until", "2031-01-01T00:00", "--reason", "x"],
    );
    assert_eq!(by_sam.code, 1, "{}", by_sam.stderr);
    assert!(by_sam.stderr.contains("holds none of the roles allowed to (deployment_manager, change_manager)"));
    let bad_env =
        run(&env, &config, "dana", &["freeze", "add", "--env", "prod", "--until", "2031-01-01T00:00", "--reason", "x"]);
    assert_eq!(bad_env.code, 2);
    assert!(bad_env.stderr.contains("\"prod\""), "{}", bad_env.stderr);
    let past = run(
        &env,
        &config,
        "dana",
        &["freeze", "add", "--env", "staging", "--until", "2020-01-01T00:00", "--reason", "x"],
    );
    assert_eq!(past.code, 2, "{}", past.stderr);
    let declared = run(
        &env,
        &config,
        "dana",
        &[
            "freeze",
            "add",
            "--env",
            "staging",
            "--until",
            "2031-01-01T00:00",
            "--reason",
            "payment outage",
            "--name",
            "outage",
        ],
    );
    assert!(declared.ok().contains("emergency freeze \"outage\" on staging"), "{}", declared.stdout);
    let refused = run(&env, &config, "omar", &["approve", "DEP-1", "all"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("frozen by \"outage\""), "{}", refused.stderr);
    assert!(run(&env, &config, "omar", &["freeze", "list"]).ok().contains("outage"));
    let listed = run(&env, &config, "omar", &["schedule", "list"]);
    assert!(listed.ok().contains("FREEZE!   outage"), "{}", listed.stdout);
    assert_eq!(run(&env, &config, "dana", &["freeze", "end", "nope"]).code, 2);
    run(&env, &config, "dana", &["freeze", "end", "outage", "--reason", "fixed"]).ok();
    run(&env, &config, "omar", &["approve", "DEP-1", "all"]).ok();
    let audit = run(&env, &config, "omar", &["audit", "list", "--json"]).ok().to_owned();
    assert!(audit.contains("freeze_add") && audit.contains("freeze_end"), "{audit}");
}

#[test]
fn a_refusal_by_an_emergency_freeze_names_its_reason() {
    let (env, config) = setup();
    let args = ["plan", "--release", "api@1", "--env", "staging", "--model", "big-bang", "--targets", "s1"];
    run(&env, &config, "sam", &args).ok();
    let freeze = ["freeze", "add", "--env", "staging", "--until", "2031-01-01T00:00", "--reason", "payment outage"];
    run(&env, &config, "dana", &[&freeze[..], &["--name", "outage"]].concat()).ok();
    let refused = run(&env, &config, "omar", &["approve", "DEP-1", "all"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "frozen by \"outage\" until 2031-01-01 00:00 CET (reason: payment outage (emergency freeze declared by dana))"
        ),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_audit_words_a_refusal_in_the_configured_zone() {
    let (env, config) = setup();
    let args = ["plan", "--release", "api@1", "--env", "staging", "--model", "big-bang", "--targets", "s1"];
    run(&env, &config, "sam", &args).ok();
    let freeze = ["freeze", "add", "--env", "staging", "--until", "2031-01-01T00:00", "--reason", "payment outage"];
    run(&env, &config, "dana", &[&freeze[..], &["--name", "outage"]].concat()).ok();
    assert_eq!(run(&env, &config, "omar", &["approve", "DEP-1", "all"]).code, 1);
    let audit = run(&env, &config, "omar", &["audit", "list"]);
    let line = audit.ok().lines().find(|l| l.contains("approve (refused)")).expect("the refused attempt").to_owned();
    assert!(line.contains("frozen by \"outage\" until 2031-01-01 00:00 CET"), "{line}");
    assert!(!line.contains("UTC"), "{line}");
    // The JSON keeps what was checked, in UTC.
    let json = run(&env, &config, "omar", &["audit", "list", "--json"]).ok().to_owned();
    assert!(json.contains("2030-12-31T23:00:00Z"), "{json}");
}

#[test]
fn bad_freezes_and_windows_in_the_config_are_named() {
    let (env, _) = setup();
    let check = |extra: &str, want: &str| {
        let path = env.path("bad.toml");
        std::fs::write(&path, format!("{CONFIG}{extra}")).expect("writes");
        let r = support::bin().args(["config", "check"]).arg(&path).output().expect("runs");
        let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(want), "{stderr} should say {want}");
    };
    check(
        "[[freezes]]\nname = \"late\"\nfrom = \"2031-03-10T00:00\"\nuntil = \"2031-03-09T00:00\"\n",
        "freeze \"late\" ends before it starts",
    );
    check(
        "[[freezes]]\nname = \"x\"\nyearly_from = \"02-30\"\nyearly_until = \"03-01\"\n",
        "\"02-30\" is not a day of the year",
    );
    check(
        "[[freezes]]\nname = \"audit\"\nfrom = \"2031-05-10T00:00\"\nuntil = \"2031-05-11T00:00\"\n",
        "freeze \"audit\" is defined twice",
    );
    check(
        "[[windows]]\nname = \"w\"\ndays = [\"mon\", \"mon\"]\nstart = \"01:00\"\nend = \"02:00\"\n",
        "\"mon\" is listed twice",
    );
    check("[[freezes]]\nname = \"y\"\nfrom = \"soon\"\nuntil = \"later\"\n", "\"soon\" is not a date and time");
}

#[test]
fn the_calendar_lists_as_json_and_exports_icalendar_that_an_independent_parser_reads_back() {
    let (env, config) = setup();
    plan(&env, &config, "sam", "pay@1", "a", "2031-03-02T10:00").ok();
    run(
        &env,
        &config,
        "omar",
        &[
            "plan",
            "--release",
            "web@1",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "w",
            "--start",
            "2031-03-10T12:00",
            "--force",
            "--reason",
            "regulator",
        ],
    )
    .ok();
    let list = run(
        &env,
        &config,
        "sam",
        &["schedule", "list", "--from", "2031-03-01T00:00", "--until", "2031-03-15T00:00", "--json"],
    );
    let doc = list.json();
    let entries = doc["entries"].as_array().expect("entries");
    let find = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} in {doc}"));
    assert_eq!(find("pay@1")["status"], "scheduled");
    assert_eq!(find("pay@1")["start"], "2031-03-02T09:00:00Z");
    assert_eq!(find("web@1")["conflicts"][0]["kind"], "freeze", "the forced one shows its conflict");
    assert_eq!(find("audit")["kind"], "freeze");
    assert_eq!(find("march")["kind"], "window");
    let backwards =
        run(&env, &config, "sam", &["schedule", "list", "--from", "2031-03-15T00:00", "--until", "2031-03-01T00:00"]);
    assert_eq!(backwards.code, 2);
    assert!(backwards.stderr.contains("--until \"2031-03-01T00:00\" is not after --from"), "{}", backwards.stderr);
    // Sunday 01:30-04:00 in Berlin; on 2031-03-30 summer time starts at 02:00.
    let ics_path = env.path("cal.ics");
    let ics = run(
        &env,
        &config,
        "sam",
        &["schedule", "export", "--ics", "--from", "2031-03-01T00:00", "--until", "2031-04-01T00:00"],
    );
    std::fs::write(&ics_path, ics.ok()).expect("writes");
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for e in cal.walk('VEVENT'):
    print(str(e.get('summary')), e.decoded('dtstart').isoformat(), e.decoded('dtend').isoformat())
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(&ics_path).output().expect("python3 runs");
    let parsed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let has = |line: &str| assert!(parsed.lines().any(|l| l == line), "{line} not in:\n{parsed}");
    has("DEP-1 pay@1 → production 2031-03-02T09:00:00+00:00 2031-03-02T09:30:00+00:00");
    has("freeze audit (production) 2031-03-09T23:00:00+00:00 2031-03-11T23:00:00+00:00");
    has("Change window sunday-nights (staging) 2031-03-23T00:30:00+00:00 2031-03-23T03:00:00+00:00");
    // The DST day: 01:30 CET is 00:30 UTC; 04:00 CEST is 02:00 UTC.
    has("Change window sunday-nights (staging) 2031-03-30T00:30:00+00:00 2031-03-30T02:00:00+00:00");
}

#[test]
fn the_receiver_serves_the_calendar_under_the_api_token() {
    let (env, config) = setup();
    let server = env.serve_with(&[("SHIPDECK_CONFIG", &config), ("SHIPDECK_TOKEN", "s3cret")]);
    assert_eq!(server.get("/v1/calendar.ics").status, 401);
    let ok = server.request("GET", "/v1/calendar.ics", &[("Authorization", "Bearer s3cret")], b"").expect("request");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.starts_with("BEGIN:VCALENDAR") && ok.body.contains("sunday-nights"), "{}", ok.body);
}

#[test]
fn an_emergency_freeze_declared_from_the_cli_refuses_an_approval_in_a_dashboard_already_open() {
    let (env, config) = setup();
    let args = ["plan", "--release", "api@1", "--env", "staging", "--model", "big-bang", "--targets", "s1"];
    let key = run(&env, &config, "sam", &args).ok().lines().next().expect("key").to_owned();
    let command = format!(
        "SHIPDECK_OPERATOR=omar {} --db {} --config {config} tui; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_shipdeck"),
        env.db.display()
    );
    let t = support::tmux::Tmux::start("freeze-e2e", 120, 32, &command);
    t.wait_for("Deployments");
    t.keys(&["2"]);
    t.wait_for("omar can decide now");
    // The dashboard is open; a deployment manager freezes staging from another terminal.
    run(
        &env,
        &config,
        "dana",
        &[
            "freeze",
            "add",
            "--env",
            "staging",
            "--until",
            "2031-01-01T00:00",
            "--reason",
            "payment outage",
            "--name",
            "outage",
        ],
    )
    .ok();
    t.keys(&["a"]);
    t.wait_for(&format!("Approve {key} all?"));
    t.keys(&["Enter"]);
    let refused = t.wait_for("frozen by");
    assert!(refused.contains("\"outage\""), "{refused}");
    // Esc closes the dialog; `q` only once it has (read together they would be Alt-q).
    t.keys(&["Escape"]);
    t.wait_gone(&format!("Approve {key} all?"));
    t.keys(&["q"]);
    t.wait_for("EXIT=0");
    // Nothing was approved; the refusal is in the audit trail.
    let audit = run(&env, &config, "omar", &["audit", "list", "--json"]).ok().to_owned();
    assert!(audit.contains("\"refused\"") && audit.contains("outage"), "{audit}");
}
