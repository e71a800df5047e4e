//! A checklist ticked from the dashboard in a real terminal, and read back from the CLI.

use crate::support::{self, Env};

#[test]
fn a_checklist_item_is_ticked_from_the_dashboard_with_its_evidence() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let command = format!(
        "SHIPDECK_OPERATOR=dana {} --db {} tui; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/TTY=/'; sleep 30",
        env!("CARGO_BIN_EXE_shipdeck"),
        env.db.display()
    );
    let t = support::tmux::Tmux::start("checklist-e2e", 120, 32, &command);
    t.wait_for("Deployments");
    t.keys(&["c"]);
    let panel = t.wait_for(&format!("Checklist {key}"));
    assert!(panel.contains("[ ] environment") && panel.contains("backup"), "{panel}");
    // The environment's backup (the second item) needs evidence.
    t.keys(&["Down", "Space"]);
    t.wait_for("evidence (required)");
    t.text("restore of db-2 tested");
    t.keys(&["Enter"]);
    let ticked = t.wait_for("done by dana");
    assert!(ticked.contains("[x] environment"), "{ticked}");
    // Esc closes the panel; `q` only once it has (read together they would be Alt-q).
    t.keys(&["Escape"]);
    t.wait_gone(&format!("Checklist {key}"));
    t.keys(&["q"]);
    let end = t.wait_for("TTY=");
    assert!(end.contains("EXIT=0") && end.contains("TTY=icanon"), "{end}");
    // The tick is in the log, with who and the evidence, as `status` shows it.
    let status = env.run(&["status", &key]);
    let line = status.ok().lines().find(|l| l.contains("backup")).unwrap_or_default().to_owned();
    assert!(line.contains("[x]") && line.contains("by dana") && line.contains("restore of db-2 tested"), "{line}");
}
