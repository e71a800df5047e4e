//! Notifications that reach people: a real webhook receiver, a real SMTP server and a real
//! script as the command channel, the delivery worker killed mid-burst, and the preview.

use crate::support::sink::{Hit, Sink};
use crate::support::{Env, finish};
use hmac::Mac;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const SECRET: &str = "s3cr3t for the test";

/// A small team: sam plans, omar and five other managers approve; every manager hears about
/// plans and pending gates over `channels`.
fn config(channels: &str, rule_channels: &str, kinds: &str) -> String {
    let managers: String = (1..=5)
        .map(|i| {
            format!("[[people]]\nname = \"m{i}\"\nroles = [\"deployment_manager\"]\nemail = \"m{i}@example.com\"\n\n")
        })
        .collect();
    format!(
        r#"timezone = "UTC"

[[environments]]
name = "production"
production = true

[[people]]
name = "sam"
roles = ["release_engineer"]
email = "sam@example.com"

[[people]]
name = "omar"
roles = ["deployment_manager"]
email = "omar@example.com"

{managers}
[[stakeholders]]
name = "managers"
roles = ["deployment_manager"]
notify_on = [{kinds}]
channels = [{rule_channels}]

[notify]
lease = "3s"
poll = "50ms"
concurrency = 4

{channels}

[models.phased]
technique = "phased"
steps = ["install"]

[[models.phased.phases]]
name = "pilot"
targets = 1
failure_budget = 0
gate = {{ approvals = 1, roles = ["deployment_manager"] }}

[[models.phased.phases]]
name = "rest"
targets = "rest"
failure_budget = 0
"#
    )
}

fn hook(url: &str) -> String {
    format!(
        "[channels.hook]\ntype = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\ntimeout = \"2s\"\nmax_attempts = 5\nbackoff = \"100ms\"\nbackoff_max = \"400ms\"\n"
    )
}

struct Setup {
    env: Env,
    config: String,
}

impl Setup {
    fn new(config_text: &str) -> Self {
        let env = Env::new();
        let path = env.path("shipdeck.toml");
        std::fs::write(&path, config_text).expect("writes the config");
        let config = path.display().to_string();
        let s = Self { env, config };
        s.run("sam", &["config", "check"]).ok();
        s
    }

    fn run(&self, who: &str, args: &[&str]) -> crate::support::Run {
        self.env
            .run_env(&[("SHIPDECK_CONFIG", &self.config), ("SHIPDECK_OPERATOR", who), ("HOOK_SECRET", SECRET)], args)
    }

    fn plan(&self) -> String {
        let run = self.run(
            "sam",
            &[
                "plan",
                "--release",
                "payments-api@1.0.0",
                "--env",
                "production",
                "--model",
                "phased",
                "--targets",
                "h1,h2",
            ],
        );
        run.ok().lines().next().expect("key").to_owned()
    }

    fn worker(&self) -> std::process::Child {
        self.env.spawn(
            &[("SHIPDECK_CONFIG", &self.config), ("SHIPDECK_OPERATOR", "sam"), ("HOOK_SECRET", SECRET)],
            &["notify", "run"],
        )
    }

    fn deliveries(&self, failed: bool) -> Vec<serde_json::Value> {
        let args: &[&str] = if failed {
            &["notify", "list", "--json", "--limit", "0", "--failed"]
        } else {
            &["notify", "list", "--json", "--limit", "0"]
        };
        let run = self.run("sam", args);
        run.ok().lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
    }

    fn wait_deliveries(&self, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        for _ in 0..600 {
            let d = self.deliveries(false);
            if done(&d) {
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never: {what}: {:#?}", self.deliveries(false));
    }
}

fn signature_of(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn stop(mut child: std::process::Child) -> crate::support::Run {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let start = std::time::Instant::now();
    while child.try_wait().expect("waits").is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "the worker did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(child)
}

#[test]
fn a_webhook_that_fails_twice_gets_the_same_signed_delivery_a_third_time() {
    let sink = Sink::start(2, Duration::ZERO);
    let s = Setup::new(&config(&hook(&sink.url("/hook")), "\"hook\"", "\"gate_pending\""));
    let key = s.plan();
    let worker = s.worker();
    // The pilot's gate is pending at plan: the six managers may approve it.
    let hits = sink
        .wait_until("three attempts for each of six managers", |h| h.iter().filter(|h| h.status == 200).count() == 6);
    let by_key: HashMap<String, Vec<&Hit>> = hits.iter().fold(HashMap::new(), |mut m, h| {
        m.entry(h.header("idempotency-key").to_owned()).or_default().push(h);
        m
    });
    assert_eq!(by_key.len(), 6, "one idempotency key per delivery");
    for (k, tries) in &by_key {
        assert_eq!(tries.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 500, 200], "key {k}");
        for h in tries {
            assert_eq!(h.path, "/hook");
            assert_eq!(h.header("x-shipdeck-signature-256"), signature_of(&h.body), "signed over the body");
            let body = h.json();
            assert_eq!(body["id"], k.as_str(), "the body carries the idempotency key too");
            assert_eq!(body["kind"], "gate_pending");
            assert_eq!(body["deployment"], key.as_str());
            assert!(body["subject"].as_str().expect("subject").contains("approval needed"), "{body}");
        }
        let ids: HashSet<String> = tries.iter().map(|h| h.json()["delivery"].to_string()).collect();
        assert_eq!(ids.len(), 1, "every attempt is of one delivery");
        assert_eq!(tries.iter().map(|h| h.json()["attempt"].as_i64().unwrap_or(0)).collect::<Vec<_>>(), [1, 2, 3]);
    }
    let rows = s.wait_deliveries("all sent", |d| d.len() == 6 && d.iter().all(|d| d["state"] == "sent"));
    assert!(rows.iter().all(|d| d["attempts"] == 3 && d["channel"] == "hook"), "{rows:#?}");
    let listed = s.run("sam", &["notify", "list"]);
    assert!(listed.ok().contains("sent"), "{}", listed.stdout);
    stop(worker);
}

#[test]
fn a_command_gets_the_notification_on_stdin_and_one_that_exits_1_fails_with_its_error_until_retried() {
    let env_dir = tempfile::tempdir().expect("tempdir");
    let out = env_dir.path().join("paged");
    std::fs::create_dir(&out).expect("mkdir");
    let good = env_dir.path().join("page.sh");
    // One file per delivery, named by the idempotency key the command gets in its environment.
    std::fs::write(&good, format!("#!/bin/sh\ncat > '{}/'\"$SHIPDECK_IDEMPOTENCY_KEY\"\n", out.display()))
        .expect("script");
    let bad = env_dir.path().join("broken.sh");
    std::fs::write(&bad, "#!/bin/sh\ncat > /dev/null\necho 'pager says: no route to team' >&2\nexit 1\n")
        .expect("script");
    for f in [&good, &bad] {
        std::process::Command::new("chmod").arg("+x").arg(f).status().expect("chmod");
    }
    let channels = format!(
        "[channels.pager]\ntype = \"command\"\ncommand = [\"{}\"]\ntimeout = \"2s\"\n\n[channels.broken]\ntype = \"command\"\ncommand = [\"{}\"]\ntimeout = \"2s\"\nmax_attempts = 2\nbackoff = \"100ms\"\nbackoff_max = \"100ms\"\n",
        good.display(),
        bad.display()
    );
    let s = Setup::new(&config(&channels, "\"pager\", \"broken\"", "\"deployment_planned\""));
    let key = s.plan();
    let worker = s.worker();
    let rows = s.wait_deliveries("pager sent and broken failed", |d| {
        d.len() == 12
            && d.iter().all(|d| {
                (d["channel"] == "pager" && d["state"] == "sent")
                    || (d["channel"] == "broken" && d["state"] == "failed")
            })
    });
    let paged: Vec<serde_json::Value> = std::fs::read_dir(&out)
        .expect("the script ran")
        .map(|f| {
            let f = f.expect("entry");
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f.path()).expect("reads")).expect("JSON on stdin");
            assert_eq!(doc["id"].as_str(), f.file_name().to_str(), "SHIPDECK_IDEMPOTENCY_KEY is the document's id");
            doc
        })
        .collect();
    assert_eq!(paged.len(), 6, "one run per manager: {paged:#?}");
    let people: HashSet<&str> = paged.iter().map(|p| p["recipient"].as_str().expect("recipient")).collect();
    assert_eq!(people, HashSet::from(["omar", "m1", "m2", "m3", "m4", "m5"]));
    assert!(paged.iter().all(|p| p["kind"] == "deployment_planned" && p["deployment"] == key.as_str()));
    let failed = s.deliveries(true);
    assert_eq!(failed.len(), 6);
    for f in &failed {
        assert_eq!(f["attempts"], 2);
        assert_eq!(f["last_error"].as_str().expect("error").rsplit(": ").next(), Some("no route to team"), "{f}");
    }
    assert!(rows.iter().any(|r| r["channel"] == "broken"));
    let listed = s.run("sam", &["notify", "list", "--failed"]);
    assert!(listed.ok().contains("failed 2/2"), "{}", listed.stdout);
    // Retried by hand: it runs again (and fails again, with the same key).
    let id = failed[0]["id"].as_i64().expect("id");
    let retried = s.run("sam", &["notify", "retry", &id.to_string()]);
    assert!(retried.ok().contains(failed[0]["idempotency_key"].as_str().expect("key")), "{}", retried.stdout);
    s.wait_deliveries("the retried delivery failed again", |d| {
        d.iter().any(|r| r["id"] == id && r["state"] == "failed" && r["attempts"] == 2)
    });
    let sent_id = rows.iter().find(|r| r["state"] == "sent").expect("a sent one")["id"].as_i64().expect("id");
    let not_failed = s.run("sam", &["notify", "retry", &sent_id.to_string()]);
    assert_eq!(not_failed.code, 1, "{}", not_failed.stderr);
    assert!(not_failed.stderr.contains("is sent, not failed"), "{}", not_failed.stderr);
    let unknown = s.run("sam", &["notify", "retry", "999999"]);
    assert_eq!((unknown.code, unknown.stderr.contains("no delivery 999999")), (2, true), "{}", unknown.stderr);
    stop(worker);
}

#[test]
fn an_e_mail_reaches_a_real_smtp_server_with_the_recipient_and_subject() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("addr").port();
    let mut smtp = std::process::Command::new("python3")
        .args(["-u", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging", "-l", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run does) runs");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "the SMTP server did not start (is aiosmtpd installed?)");
    let channels = format!(
        "[channels.mail]\ntype = \"email\"\nserver = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"2s\"\nfrom = \"shipdeck@example.com\"\nsubject = \"[shipdeck] {{{{ subject }}}}\"\n"
    );
    let s = Setup::new(&config(&channels, "\"mail\"", "\"deployment_planned\""));
    // `notify test` first: one message to omar, now.
    let tested = s.run("sam", &["notify", "test", "mail", "--to", "omar"]);
    assert!(tested.ok().starts_with("sent: test message to omar via mail"), "{}", tested.stdout);
    let key = s.plan();
    let worker = s.worker();
    s.wait_deliveries("six mails sent", |d| d.len() == 6 && d.iter().all(|d| d["state"] == "sent"));
    stop(worker);
    let _ = smtp.kill();
    let out = smtp.wait_with_output().expect("smtp output");
    let text = String::from_utf8_lossy(&out.stdout);
    let rcpts: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("To: ")).collect();
    let mut want: Vec<String> =
        ["omar", "omar", "m1", "m2", "m3", "m4", "m5"].iter().map(|p| format!("{p}@example.com")).collect();
    want.sort();
    let mut got: Vec<String> = rcpts.iter().map(|r| r.trim().to_owned()).collect();
    got.sort();
    assert_eq!(got, want, "{text}");
    let subjects: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("Subject: ")).collect();
    assert!(subjects.contains(&"[shipdeck] shipdeck test message for omar via mail"), "{subjects:?}");
    let planned = format!("[shipdeck] {key} planned: payments-api@1.0.0 to production");
    assert_eq!(subjects.iter().filter(|s| **s == planned).count(), 6, "{subjects:?}");
}

#[test]
fn a_worker_killed_mid_burst_loses_nothing_and_resends_with_the_same_key() {
    // A slow receiver: each answer takes 150 ms, four at a time.
    let sink = Sink::start(0, Duration::from_millis(150));
    let s = Setup::new(&config(&hook(&sink.url("/hook")), "\"hook\"", "\"deployment_planned\""));
    for _ in 0..8 {
        s.plan();
    }
    let total = 8 * 6;
    assert_eq!(s.deliveries(false).len(), total);
    let mut worker = s.worker();
    sink.wait_until("a dozen requests", |h| h.len() >= 12);
    worker.kill().expect("SIGKILL");
    let _ = worker.wait();
    let at_kill = sink.hits().len();
    assert!(at_kill < total, "killed mid-burst ({at_kill} of {total} seen)");
    let worker = s.worker();
    let rows = s.wait_deliveries("every delivery sent", |d| d.iter().all(|d| d["state"] == "sent"));
    stop(worker);
    let hits = sink.hits();
    let keys: HashSet<&str> = rows.iter().map(|r| r["idempotency_key"].as_str().expect("key")).collect();
    let seen: HashSet<&str> = hits.iter().map(|h| h.header("idempotency-key")).collect();
    assert_eq!(seen, keys, "every delivery reached the receiver, under its own key");
    // Those in flight at the kill were sent again, with the key and delivery id they had.
    let mut by_delivery: HashMap<i64, HashSet<String>> = HashMap::new();
    for h in &hits {
        by_delivery
            .entry(h.json()["delivery"].as_i64().expect("id"))
            .or_default()
            .insert(h.header("idempotency-key").to_owned());
    }
    assert!(by_delivery.values().all(|k| k.len() == 1), "one key per delivery, resends included");
    assert!(
        hits.len() > total,
        "the deliveries in flight at the kill were resent ({} requests for {total})",
        hits.len()
    );
}

#[test]
fn dry_run_prints_who_would_be_told_over_which_channels_and_writes_nothing() {
    let sink = Sink::start(0, Duration::ZERO);
    let s = Setup::new(&config(&hook(&sink.url("/hook")), "\"hook\"", "\"gate_decided\", \"deployment_finished\""));
    let key = s.plan();
    let before = s.deliveries(false).len();
    let audit_before = s.run("sam", &["audit", "list", "--json"]).stdout.lines().count();
    let dry = s.run("omar", &["reject", &key, "pilot", "--reason", "wrong build", "--dry-run"]);
    let text = dry.ok();
    assert!(text.starts_with("dry run, nothing written: would record:"), "{text}");
    let mut preview: Vec<String> =
        text.lines().filter_map(|l| l.trim().strip_prefix("would notify ")).map(str::to_owned).collect();
    assert_eq!(s.deliveries(false).len(), before, "nothing queued");
    assert_eq!(s.run("sam", &["audit", "list", "--json"]).stdout.lines().count(), audit_before, "nothing audited");
    s.run("omar", &["reject", &key, "pilot", "--reason", "wrong build"]).ok();
    // What followed: every new notification with its channels (in-app, then the deliveries).
    let rows = s.deliveries(false);
    let mut after: Vec<String> = Vec::new();
    let mut notes: Vec<(i64, String, String, String)> = rows[..rows.len() - before]
        .iter()
        .map(|r| {
            let n = r["notification"].as_i64().expect("n");
            (
                n,
                r["recipient"].as_str().expect("r").to_owned(),
                r["kind"].as_str().expect("k").to_owned(),
                r["subject"].as_str().expect("s").to_owned(),
            )
        })
        .collect();
    notes.sort();
    notes.dedup();
    for (n, person, kind, subject) in &notes {
        let channels: Vec<&str> =
            rows.iter().filter(|r| r["notification"] == *n).rev().map(|r| r["channel"].as_str().expect("c")).collect();
        after.push(format!("{person} ({kind}) via in_app, {}: {subject}", channels.join(", ")));
    }
    // sam (the requester) is told in-app only; the managers over the hook too.
    let in_app_only: Vec<String> = preview.iter().filter(|l| l.contains("via in_app:")).cloned().collect();
    assert!(in_app_only.iter().any(|l| l.starts_with("sam (deployment_aborted)")), "{preview:?}");
    preview.retain(|l| !l.contains("via in_app:"));
    preview.sort();
    after.sort();
    assert_eq!(preview, after, "the preview is what followed");
    assert!(after.iter().any(|l| l.starts_with("m1 (gate_decided) via in_app, hook")), "{after:?}");
}

#[test]
fn config_check_names_an_unknown_channel_a_bad_template_and_a_person_without_email() {
    let env = Env::new();
    let check = |name: &str, text: &str| {
        let path = env.path(name);
        std::fs::write(&path, text).expect("writes");
        env.run(&["config", "check", &path.display().to_string()])
    };
    let unknown = check("a.toml", &config("", "\"pagr\"", "\"gate_pending\""));
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("stakeholders[0].channels") && unknown.stderr.contains("unknown channel \"pagr\""),
        "{}",
        unknown.stderr
    );
    let bad_template = format!("{}subject = \"{{{{ deploymnet }}}}\"\n", hook("http://127.0.0.1:9/x"));
    let template = check("b.toml", &config(&bad_template, "\"hook\"", "\"gate_pending\""));
    assert_eq!(template.code, 2);
    assert!(
        template.stderr.contains("channels.hook.subject") && template.stderr.contains("undefined"),
        "{}",
        template.stderr
    );
    let kind = check("c.toml", &config("", "", "\"gate_pendng\""));
    assert!(kind.stderr.contains("unknown happening \"gate_pendng\""), "{}", kind.stderr);
    let quiet =
        config("", "", "\"gate_pending\"").replace("channels = []\n", "channels = []\nquiet_hours = \"22:00-7\"\n");
    let line = quiet.lines().position(|l| l.starts_with("quiet_hours")).expect("the line") + 1;
    let quiet = check("q.toml", &quiet);
    assert_eq!(quiet.code, 2);
    assert!(
        quiet.stderr.contains(&format!("q.toml:{line}: key \"stakeholders[0].quiet_hours\""))
            && quiet.stderr.contains("\"22:00-7\" is not a quiet period"),
        "{}",
        quiet.stderr
    );
    let digest = config("", "", "\"gate_pending\"").replace("channels = []\n", "channels = []\ndigest = \"soon\"\n");
    let digest = check("g.toml", &digest);
    assert!(
        digest.stderr.contains("stakeholders[0].digest") && digest.stderr.contains("\"soon\""),
        "{}",
        digest.stderr
    );
    let no_mail = config(
        "[channels.mail]\ntype = \"email\"\nserver = \"smtp.example.com\"\ntimeout = \"2s\"\nfrom = \"shipdeck@example.com\"\n",
        "\"mail\"",
        "\"gate_pending\"",
    )
    .replace("email = \"omar@example.com\"\n", "");
    let mail = check("d.toml", &no_mail);
    assert!(mail.stderr.contains("person \"omar\" has no valid email"), "{}", mail.stderr);
    let lease = config(
        &hook("http://127.0.0.1:9/x").replace("timeout = \"2s\"", "timeout = \"5s\""),
        "\"hook\"",
        "\"gate_pending\"",
    );
    let lease = check("e.toml", &lease);
    assert!(
        lease.stderr.contains("channels.hook.timeout") && lease.stderr.contains("notify.lease"),
        "{}",
        lease.stderr
    );
}

/// `HH:MM-HH:MM` from an hour before now to two hours after, in UTC: quiet now, whenever the
/// test runs.
fn quiet_around_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let now = chrono::DateTime::from_timestamp(i64::try_from(secs).expect("fits"), 0).expect("valid");
    let hm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    format!("{}-{}", hm(now - chrono::TimeDelta::hours(1)), hm(now + chrono::TimeDelta::hours(2)))
}

#[test]
fn quiet_hours_hold_a_plan_s_news_but_not_the_gate_waiting_for_the_managers_and_a_digest_collects_plans() {
    let sink = Sink::start(0, Duration::ZERO);
    let rule = format!("channels = [\"hook\"]\nquiet_hours = \"{}\"\n", quiet_around_now());
    let text = config(&hook(&sink.url("/hook")), "\"hook\"", "\"gate_pending\", \"deployment_planned\"")
        .replace("channels = [\"hook\"]\n", &rule);
    let s = Setup::new(&text);
    s.plan();
    let rows = s.deliveries(false);
    assert_eq!(rows.len(), 12, "six managers, two happenings: {rows:#?}");
    let due_later = |r: &serde_json::Value| r["due_at"].as_str() > r["created_at"].as_str();
    for r in &rows {
        match r["kind"].as_str() {
            Some("gate_pending") => assert!(!due_later(r), "urgent for those who may approve: {r}"),
            Some("deployment_planned") => assert!(due_later(r), "held until the quiet period ends: {r}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let listed = s.run("sam", &["notify", "list"]);
    assert!(listed.ok().contains("queued until"), "{}", listed.stdout);
    let worker = s.worker();
    sink.wait_until("the six gate_pending", |h| h.len() == 6);
    std::thread::sleep(Duration::from_millis(500));
    assert!(sink.hits().iter().all(|h| h.json()["kind"] == "gate_pending"), "nothing else went out");
    stop(worker);

    // A digest: three plans within the period are one delivery per manager, listing all three.
    let text = config(&hook(&sink.url("/hook")), "\"hook\"", "\"deployment_planned\"")
        .replace("channels = [\"hook\"]\n", "channels = [\"hook\"]\ndigest = \"1h\"\n");
    let s = Setup::new(&text);
    let keys: Vec<String> = (0..3).map(|_| s.plan()).collect();
    let rows = s.deliveries(false);
    assert_eq!(rows.len(), 6, "one per manager: {rows:#?}");
    for r in &rows {
        assert_eq!(r["kind"], "digest");
        let items = r["items"].as_array().expect("items");
        assert_eq!(items.len(), 3, "{r}");
        for (item, key) in items.iter().zip(&keys) {
            assert_eq!(
                (&item["kind"], item["deployment"].as_str()),
                (&"deployment_planned".into(), Some(key.as_str()))
            );
        }
    }
    let check = s.run("sam", &["config", "check"]);
    check.ok();
}
