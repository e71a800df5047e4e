//! Approvals from the dashboard, end to end: a pipeline blocks in `shipdeck gate wait` while a
//! deployment manager approves the gate in the real dashboard under tmux (keys in with
//! send-keys, the screen back with capture-pane); the pipeline goes on with exit 0. A rejection
//! typed in the same dashboard makes the next pipeline stop with exit 1.

use crate::support;

use support::tmux::Tmux;
use support::{Env, finish};

#[test]
fn a_pipeline_waiting_on_a_gate_goes_on_when_the_dashboard_approves_and_stops_when_it_rejects() {
    let env = Env::new();
    // The phased model's pilot gate needs one deployment or change manager; dana requested it.
    let first = env.plan("phased", 10);
    let pipeline = env.spawn(&[], &["gate", "wait", &first, "pilot", "--timeout", "60s"]);

    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!(
        "env -u SHIPDECK_DB -u SHIPDECK_CONFIG XDG_CONFIG_HOME=/nonexistent-shipdeck-test SHIPDECK_OPERATOR=omar \
         {bin} --db {}",
        env.db.display()
    );
    let t = Tmux::start("gates-e2e", 120, 40, &command);
    let home = t.wait_for("Deployments");
    assert!(home.contains("as omar"), "the header names the operator:\n{home}");

    t.keys(&["2"]);
    t.wait_for("omar can decide now");
    t.keys(&["a"]);
    t.wait_for(&format!("Approve {first} pilot?"));
    t.text("pilot hosts look healthy");
    t.keys(&["Enter"]);
    let done = t.wait_for("recorded:");
    assert!(done.contains("gate approved (1 of 1)"), "{done}");

    let waited = finish(pipeline);
    assert_eq!(waited.code, 0, "the pipeline goes on: {}{}", waited.stdout, waited.stderr);

    // A second deployment; this time the dashboard rejects, and only with a reason.
    let second = env.plan("phased", 10);
    let pipeline = env.spawn(&[], &["gate", "wait", &second, "pilot", "--timeout", "60s"]);
    t.wait_for(&second);
    t.keys(&["Home", "r"]);
    t.wait_for(&format!("Reject {second} pilot?"));
    t.keys(&["Enter"]);
    t.wait_for("needs a reason");
    t.text("change window moved to Saturday");
    t.keys(&["Enter"]);
    let done = t.wait_for("recorded:");
    assert!(done.contains("deployment aborted"), "{done}");

    let waited = finish(pipeline);
    assert_eq!(waited.code, 1, "a rejection stops the pipeline: {}{}", waited.stdout, waited.stderr);
    let audit = env.run(&["audit", "list"]);
    assert!(audit.ok().contains("change window moved to Saturday"), "{}", audit.stdout);
    t.keys(&["q"]);
}
