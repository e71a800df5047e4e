//! The dashboard in a real terminal: tmux runs `shipdeck demo`, keys go in with send-keys, and
//! what a person would see comes back with capture-pane.

use crate::support;

use support::tmux::Tmux;

#[test]
fn a_deployment_manager_walks_through_the_demo_and_the_terminal_is_sane_after_quit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    // After the dashboard quits, print the exit code and whether the tty is back in canonical
    // (cooked) mode, then keep the pane open for reading.
    let command = format!(
        "{bin} demo --speed 4 --history 60 --db {}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/TTY=/'; sleep 30",
        db.display()
    );
    let t = Tmux::start("tui-e2e", 160, 45, &command);

    let home = t.wait_for("Deployments");
    assert!(home.contains("1 Live") && home.contains("2 Approvals") && home.contains("6 Metrics"), "{home}");
    assert!(home.contains("receiver 127.0.0.1:"), "the header names the demo's receiver:\n{home}");
    t.wait_for("payments-api@2.5.0");
    // Live data arrives through the receiver: the rolling rollout (no gates) moves on to its
    // second batch on screen.
    t.wait_for("batch-2");

    // Views by number and Tab.
    t.keys(&["3"]);
    t.wait_for("weekday-evenings");
    t.keys(&["Tab"]);
    // The view's own title (the tab bar always says "Notifications").
    t.wait_for("Notifications for dana");
    t.keys(&["1"]);
    t.wait_for("Hosts");

    // Filter the list by release.
    t.keys(&["/", "c", "h", "e", "c", "k", "o", "u", "t", "Enter"]);
    let filtered = t.wait_for("checkout-web@7.12.1");
    let list: String = filtered.lines().take_while(|l| !l.starts_with('└')).collect::<Vec<_>>().join("\n");
    assert!(!list.contains("payments-api"), "the filter hides other releases:\n{filtered}");

    // Open the deployment's hosts, then one host.
    t.keys(&["Enter", "Enter"]);
    let target = t.wait_for("web-prd-001");
    assert!(target.contains("Events") || target.contains("events"), "{target}");
    t.keys(&["Escape", "Escape", "Escape"]);

    // Help is generated from the keymap.
    t.keys(&["?"]);
    let help = t.wait_for("Keys");
    assert!(help.contains("pause / resume live updates"), "{help}");
    t.keys(&["Escape"]);

    // Pause.
    t.keys(&["Space"]);
    t.wait_for("PAUSED");
    t.keys(&["Space"]);

    // Resizing never breaks the screen; too small says so.
    t.resize(30, 8);
    t.wait_for("too small");
    t.resize(100, 30);
    t.wait_for("Deployments");
    // At 60x15 nothing runs into anything: the header ends with the clock on its own, every tab
    // number is there, and the list's column titles stand apart.
    t.resize(60, 15);
    t.wait_for("6 Metr");
    let narrow = t.wait_for("PROGRESS");
    let lines: Vec<&str> = narrow.lines().collect();
    let clock: Vec<char> = lines[0].trim_end().chars().rev().take(9).collect();
    let is_time = |c: &[char]| {
        c.len() == 9
            && c[8] == ' '
            && c[2] == ':'
            && c[5] == ':'
            && c.iter().enumerate().all(|(i, ch)| matches!(i, 2 | 5 | 8) || ch.is_ascii_digit())
    };
    assert!(is_time(&clock), "the header's clock stands alone:\n{narrow}");
    assert!(lines[1].contains("1 Live") && lines[1].contains("6 Metr"), "{narrow}");
    let titles = lines.iter().find(|l| l.contains("KEY")).expect("the list's column titles");
    assert!(titles.contains(" PHASE ") && titles.contains(" PROGRESS ") && titles.contains(" FAIL "), "{narrow}");
    t.resize(100, 30);
    t.wait_for("2 Approvals");

    t.keys(&["q"]);
    let after = t.wait_for("EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(after.contains("the log is kept at"), "{after}");
    let tty = t.wait_for("TTY=");
    assert!(tty.contains("TTY=icanon") && !tty.contains("TTY=-icanon"), "raw mode was left on:\n{tty}");
    assert_eq!(
        t.tmux(&["display-message", "-p", "-t", "0", "#{alternate_on}"]).trim(),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(t.tmux(&["display-message", "-p", "-t", "0", "#{cursor_flag}"]).trim(), "1", "the cursor is hidden");
}

#[test]
fn sigterm_restores_the_terminal() {
    let env = support::Env::new();
    env.plan("phased", 4);
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!(
        "{bin} --db {}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/TTY=/'; sleep 30",
        env.db.display()
    );
    let t = Tmux::start("sigterm", 100, 30, &command);
    t.wait_for("Deployments");
    let pid = t.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"]);
    // The pane runs a shell; the dashboard is its child.
    let pid = pid.trim();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).expect("the shell's children");
    let child = children.split_whitespace().next().expect("the dashboard's pid").to_owned();
    let killed = std::process::Command::new("kill").args(["-TERM", &child]).status().expect("kill runs");
    assert!(killed.success());
    let after = t.wait_for("TTY=");
    assert!(after.contains("EXIT=0"), "SIGTERM is a clean stop:\n{after}");
    assert!(after.contains("TTY=icanon") && !after.contains("TTY=-icanon"), "raw mode was left on:\n{after}");
    assert_eq!(t.tmux(&["display-message", "-p", "-t", "0", "#{alternate_on}"]).trim(), "0");
}

#[test]
fn metrics_changes_period_and_enter_on_a_top_failing_service_lands_in_history_filtered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!("{bin} demo --speed 4 --history 90 --db {}; sleep 30", db.display());
    let t = Tmux::start("metrics-e2e", 120, 40, &command);
    t.wait_for("Deployments");
    t.keys(&["6"]);
    let metrics = t.wait_for("Change failure rate");
    assert!(metrics.contains("Metrics · 30d") && metrics.contains("Top failing"), "{metrics}");
    t.keys(&["t"]);
    let metrics = t.wait_for("Metrics · 90d");
    // The first service under "services" is the selected entry (its count first, then its name).
    let lines: Vec<&str> = metrics.lines().collect();
    let header = lines.iter().position(|l| l.contains("services") && l.contains("models")).expect("top failing");
    let service = lines[header + 1].trim_start_matches('│').split_whitespace().nth(1).expect("a service").to_owned();
    t.keys(&["Enter"]);
    t.wait_for(&format!("service={service}"));
    let history = t.wait_for(" finished · 90d");
    assert!(history.contains("History ·") && history.contains("90d"), "{history}");
    let rows: Vec<&str> = history.lines().filter(|l| l.contains("DEP-")).collect();
    assert!(!rows.is_empty(), "the service's failures are listed:\n{history}");
    // The release column may cut the name (never the version): what is left of it begins the
    // service's name.
    for row in rows {
        let release = row.split_whitespace().find(|w| w.contains('@')).unwrap_or_default();
        let name = release.split('@').next().unwrap_or_default();
        let whole = name == service || (name.ends_with('…') && service.starts_with(name.trim_end_matches('…')));
        assert!(whole && name.len() > 3, "only {service}:\n{history}");
        assert!(!row.contains("✓ succeeded"), "only failures:\n{history}");
    }
}

#[test]
fn m_in_metrics_shows_the_model_review_and_i_records_a_suggestion_in_a_dialog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!("SHIPDECK_OPERATOR=dana {bin} demo --speed 4 --history 120 --db {}; sleep 30", db.display());
    let t = Tmux::start("review-e2e", 120, 40, &command);
    t.wait_for("Deployments");
    t.keys(&["6"]);
    t.wait_for("Change failure rate");
    t.keys(&["t", "m"]);
    let review = t.wait_for("Suggestions (");
    assert!(review.contains("Model review (90d)") && review.contains("why: "), "{review}");
    t.keys(&["i"]);
    t.wait_for("Record an improvement action");
    // Owner "dana" is prefilled; a name the team does not know is refused in the dialog.
    t.keys(&["BSpace", "BSpace", "BSpace", "BSpace"]);
    t.text("ghost");
    t.keys(&["Enter"]);
    t.wait_for("owner \"ghost\" is not a person");
    t.keys(&["BSpace", "BSpace", "BSpace", "BSpace", "BSpace"]);
    t.text("priya");
    t.keys(&["Enter"]);
    let done = t.wait_for("recorded: ");
    assert!(!done.contains("Record an improvement action"), "the dialog closed:\n{done}");
    t.keys(&["q"]);
    let actions = std::process::Command::new(bin)
        .args(["--db", &db.display().to_string(), "models", "actions", "--json"])
        .env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test")
        .output()
        .expect("runs");
    let listed: serde_json::Value = serde_json::from_slice(&actions.stdout).expect("json");
    assert_eq!(listed[0]["owner"], "priya", "{listed}");
    assert_eq!(listed[0]["n"], 1);
}
