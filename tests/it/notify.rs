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
