use super::*;

#[test]
fn the_shipped_file_is_valid_and_is_the_built_in_default() {
    let c = Config::built_in();
    let phased = &c.models["phased"].recovery;
    assert_eq!(
        (phased.roles.as_slice(), phased.lost_after),
        (["deployment_manager".to_owned()].as_slice(), Some(chrono::TimeDelta::minutes(30)))
    );
    assert_eq!(c.models["canary"].recovery.roles, ["deployment_manager", "sre"]);
    assert_eq!(c.source, "built-in");
    assert!(c.models.contains_key("phased") && c.models.contains_key("rolling"));
    assert!(c.people.len() >= 4);
    assert_eq!(c.windows.len(), 2);
}

#[test]
fn shipped_settings_match_the_code_defaults() {
    // An empty file falls back to the serde defaults; the shipped file writes them out. If one
    // changes without the other, the documentation in the file lies.
    let empty = Config::parse("", "empty").expect("an empty file is valid");
    let shipped = Config::built_in();
    assert_eq!(empty.receiver, shipped.receiver);
    assert_eq!(empty.dashboard, shipped.dashboard);
    assert_eq!(empty.operator, shipped.operator);
    assert_eq!(empty.reviews, shipped.reviews);
    assert_eq!(empty.identity, shipped.identity);
    assert_eq!(empty.team, shipped.team);
    assert_eq!(empty.schedule, shipped.schedule);
    assert_eq!(empty.notify, shipped.notify);
    assert_eq!(empty.channels, shipped.channels);
}

fn error_of(text: &str) -> String {
    Config::parse(text, "team.toml").expect_err("invalid").to_string()
}

#[test]
fn a_type_error_names_file_line_and_key() {
    let err = error_of("timezone = \"UTC\"\n\n[receiver]\nlisten = 7480\n");
    assert!(err.starts_with("team.toml:4: key \"receiver.listen\""), "{err}");
}

#[test]
fn an_unknown_key_is_named() {
    let err = error_of("[dashboard]\nsilent_afterr = \"2m\"\n");
    assert!(err.starts_with("team.toml:2:") && err.contains("silent_afterr"), "{err}");
}

#[test]
fn a_bad_share_names_the_phase_and_value() {
    let text = "[models.m]\ntechnique = \"phased\"\nsteps = [\"install\"]\n[[models.m.phases]]\nname = \"a\"\ntargets = 1\n[[models.m.phases]]\nname = \"b\"\ntargets = \"12x\"\n";
    let err = error_of(text);
    assert!(err.starts_with("team.toml:9: key \"models.m.phases[1].targets\""), "{err}");
    assert!(err.contains("\"12x\""), "{err}");
}

#[test]
fn semantic_errors_point_at_their_key() {
    let text = "timezone = \"Mars/Olympus\"\n";
    assert_eq!(
        error_of(text),
        "team.toml:1: key \"timezone\": unknown time zone \"Mars/Olympus\" (use an IANA name such as Europe/Berlin or UTC)"
    );
    let text = "[[people]]\nname = \"a\"\nroles = [\"dm\"]\n\n[models.m]\ntechnique = \"phased\"\nsteps = [\"install\"]\n\n[[models.m.phases]]\nname = \"p\"\ntargets = \"rest\"\ngate = { approvals = 1, windows = [\"never\"] }\n";
    let err = error_of(text);
    assert!(err.starts_with("team.toml:12: key \"models.m.phases[0].gate.windows\""), "{err}");
    assert!(err.contains("unknown change window \"never\""), "{err}");
    let text = "[[windows]]\nname = \"w\"\ndays = [\"mon\"]\nstart = \"25:00\"\nend = \"02:00\"\n";
    let err = error_of(text);
    assert!(err.starts_with("team.toml:4: key \"windows[0].start\"") && err.contains("\"25:00\""), "{err}");
}

#[test]
fn a_syntax_error_names_its_line() {
    let err = error_of("operator = \"dana\"\n[receiver\n");
    assert!(err.starts_with("team.toml:2:"), "{err}");
}

#[test]
fn checklist_items_naming_unknown_roles_or_steps_are_refused() {
    let base = "[[people]]\nname = \"a\"\nroles = [\"dm\"]\n\n[models.m]\ntechnique = \"phased\"\nsteps = [\"install\", \"verify\"]\n\n[[models.m.phases]]\nname = \"p\"\ntargets = \"rest\"\n\n";
    let err = error_of(&format!("{base}[[models.m.checklists.pre]]\nid = \"x\"\ntext = \"t\"\nroles = [\"dba\"]\n"));
    assert!(err.contains("key \"models.m.checklists.pre[0].roles\"") && err.contains("\"dba\""), "{err}");
    let err = error_of(&format!("{base}[[models.m.checklists.post]]\nid = \"x\"\ntext = \"t\"\nauto = \"smoke\"\n"));
    assert!(err.contains("key \"models.m.checklists.post[0].auto\"") && err.contains("\"smoke\""), "{err}");
    let gate = base.replace("targets = \"rest\"\n", "targets = \"rest\"\ngate = { require = [\"post\"] }\n");
    let err = error_of(&gate);
    assert!(err.contains("gate.require") && err.contains("\"post\""), "{err}");
    let shipped = Config::built_in();
    let phased = shipped.model("phased").expect("shipped");
    assert!(!phased.checklists.pre.is_empty() && !phased.checklists.environment.is_empty());
    assert!(!phased.checklists.post.is_empty());
    assert_eq!(phased.phases[0].gate.as_ref().map(|g| g.require.clone()), Some(vec!["pre".to_owned()]));
}

#[test]
fn nothing_may_name_an_undeclared_environment() {
    let envs = "[[environments]]\nname = \"production\"\nproduction = true\n[[environments]]\nname = \"staging\"\n";
    let cases = [
        (
            "[[windows]]\nname = \"w\"\nenvironments = [\"prod\"]\ndays = [\"mon\"]\nstart = \"18:00\"\nend = \"20:00\"\n",
            "windows[0].environments",
        ),
        (
            "[[freezes]]\nname = \"f\"\nenvironments = [\"prod\"]\nfrom = \"2026-12-20T00:00\"\nuntil = \"2026-12-21T00:00\"\n",
            "freezes[0].environments",
        ),
        ("[[stakeholders]]\nname = \"s\"\nenvironments = [\"prod\"]\n", "stakeholders[0].environments"),
        (
            "[models.m]\ntechnique = \"phased\"\nenvironments = [\"prod\"]\nsteps = [\"install\"]\n[[models.m.phases]]\nname = \"a\"\ntargets = \"rest\"\n",
            "models.m.environments",
        ),
    ];
    for (section, key) in cases {
        let err = error_of(&format!("{envs}{section}"));
        assert!(err.contains(&format!("key \"{key}\"")), "{err}");
        assert!(err.contains("unknown environment \"prod\" (declared: production, staging)"), "{err}");
    }
    let err = error_of("[[environments]]\nname = \"production\"\n[[environments]]\nname = \"production\"\n");
    assert!(err.contains("environment \"production\" is declared twice"), "{err}");
}

#[test]
fn a_model_for_some_environments_is_refused_elsewhere() {
    let c = Config::built_in();
    assert!(c.environment("production").expect("declared").production);
    assert!(!c.environment("staging").expect("declared").production);
    assert_eq!(
        c.model_for("phased", "prod").expect_err("undeclared").to_string(),
        "unknown environment \"prod\" (declared: production, dr-site, staging)"
    );
    let text = "[[environments]]\nname = \"production\"\n[[environments]]\nname = \"staging\"\n[models.m]\ntechnique = \"big-bang\"\nenvironments = [\"staging\"]\nsteps = [\"install\"]\n[[models.m.phases]]\nname = \"a\"\ntargets = \"rest\"\n";
    let c = Config::parse(text, "t.toml").expect("valid");
    assert!(c.model_for("m", "staging").is_ok());
    assert_eq!(
        c.model_for("m", "production").expect_err("not for it").to_string(),
        "model \"m\" is for staging only, not \"production\""
    );
    let none = Config::parse("", "empty").expect("valid");
    assert!(none.model_for("m", "production").expect_err("fails closed").to_string().contains("none is declared"));
}

#[test]
fn key_bindings_that_clash_or_name_no_action_are_config_errors() {
    // The dashboard builds its keymap with the same function: what passes here runs there.
    let err = error_of("[dashboard.keys]\nfilter = \"q\"\n");
    assert_eq!(
        err,
        "team.toml:2: key \"dashboard.keys.filter\": key \"q\" is bound to both filter and quit; rebind one of them"
    );
    let err = error_of("[dashboard.keys]\nquit = \"ctrl-q\"\napprove_all = \"A\"\n");
    assert!(
        err.starts_with("team.toml:3: key \"dashboard.keys.approve_all\": unknown action \"approve_all\""),
        "{err}"
    );
    assert!(err.contains("view_notifications"), "the error lists the actions: {err}");
    let err = error_of("[dashboard.keys]\nhelp = \"ctrl-\"\n");
    assert!(err.contains("key \"dashboard.keys.help\": \"ctrl-\" is not a key"), "{err}");
    assert!(Config::parse("[dashboard.keys]\nfilter = \"f\"\n", "ok.toml").is_ok());
}

#[test]
fn configs_that_would_leave_a_deployment_stuck_are_errors_naming_the_line() {
    let people =
        "[[people]]\nname = \"ann\"\nlogin = \"ann\"\nroles = [\"dm\"]\n[[people]]\nname = \"bo\"\nroles = [\"dm\"]\n";
    let model = |steps: &str, gate: &str| {
        format!(
            "[models.m]\ntechnique = \"phased\"\nsteps = [{steps}]\n[[models.m.phases]]\nname = \"p\"\ntargets = \"rest\"\n{gate}"
        )
    };
    // Lines: people take 1-7, the model starts at 8 (steps on 10, the gate on 14).
    let cases = [
        (
            format!("{people}{}", model("\"install\", \"verify\", \"install\"", "")),
            "team.toml:10: key \"models.m.steps[2]\": step \"install\" appears twice in model \"m\"",
        ),
        (
            format!("{people}{}", model("\"install\"", "gate = { approvals = 3, roles = [\"dm\"] }\n")),
            "team.toml:14: key \"models.m.phases[0].gate.approvals\": the gate of phase \"p\" needs 3 approvals but only 2 of people holding dm exist",
        ),
        (
            model("\"install\"", "gate = { approvals = 1 }\n"),
            "team.toml:7: key \"models.m.phases[0].gate\": the gate of phase \"p\" is open to anyone configured, but [[people]] lists nobody",
        ),
        (
            format!("{people}[[windows]]\nname = \"w\"\ndays = [\"mon\"]\nstart = \"18:00\"\nend = \"18:00\"\n"),
            "team.toml:12: key \"windows[0].end\": window \"w\" starts and ends at 18:00",
        ),
        (
            format!("{people}[[people]]\nname = \"cy\"\nlogin = \"ann\"\n"),
            "team.toml:10: key \"people[2].login\": login \"ann\" is given to both \"ann\" and \"cy\"",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(&text);
        assert!(err.starts_with(expected), "{text}\n  got: {err}\n  want: {expected}");
    }
    // The same model with distinct steps and a satisfiable gate is fine.
    let ok = format!("{people}{}", model("\"install\", \"verify\"", "gate = { approvals = 2, roles = [\"dm\"] }\n"));
    assert!(Config::parse(&ok, "ok.toml").is_ok());
}

#[test]
fn reviews_are_owed_in_production_environments_unless_named() {
    let c = Config::built_in();
    let rule = c.review_rule();
    assert_eq!(rule.environments, ["production", "dr-site"]);
    assert_eq!(c.review_owers("sam"), ["sam", "priya", "lee"]);
    let named = Config::parse(
        "[[environments]]\nname = \"production\"\nproduction = true\n[[environments]]\nname = \"staging\"\n\n[reviews]\nenvironments = [\"staging\"]\n",
        "t.toml",
    )
    .expect("valid");
    assert_eq!(named.review_rule().environments, ["staging"]);
}

#[test]
fn a_bad_reviews_section_is_named() {
    let err = error_of("[reviews]\nowed_for = [\"running\"]\n");
    assert!(err.contains("reviews.owed_for[0]") && err.contains("\"running\" is not a result"), "{err}");
    let err = error_of("[reviews]\nenvironments = [\"prod\"]\n");
    assert!(err.contains("reviews.environments[0]") && err.contains("\"prod\""), "{err}");
    let err = error_of("[reviews]\ncause_categories = [\"code\", \"code\"]\n");
    assert!(err.contains("named twice"), "{err}");
}

#[test]
fn stakeholder_rules_are_checked_naming_the_line_of_the_bad_value() {
    let people = "[[people]]\nname = \"ann\"\nroles = [\"ops\"]\n\n";
    let rule = |extra: &str| format!("{people}[[stakeholders]]\nname = \"r\"\nroles = [\"ops\"]\n{extra}");
    let cases = [
        ("notify_on = [\"gate_pendng\"]\n", 8, "stakeholders[0].notify_on", "unknown happening \"gate_pendng\""),
        ("people = [\"bob\"]\n", 8, "stakeholders[0].people", "unknown person \"bob\""),
        ("channels = [\"pagr\"]\n", 8, "stakeholders[0].channels", "unknown channel \"pagr\""),
        ("quiet_hours = \"22:00-7\"\n", 8, "stakeholders[0].quiet_hours", "\"22:00-7\" is not a quiet period"),
        ("quiet_hours = \"07:00-07:00\"\n", 8, "stakeholders[0].quiet_hours", "not a quiet period"),
        ("digest = \"15 minutes\"\n", 8, "stakeholders[0].digest", "\"15 minutes\" is not a duration"),
        ("digest = \"10s\"\n", 8, "stakeholders[0].digest", "must be from 1m to 1d"),
    ];
    for (extra, line, key, message) in cases {
        let err = error_of(&rule(extra));
        assert!(err.starts_with(&format!("team.toml:{line}: key \"{key}\"")), "{extra}: {err}");
        assert!(err.contains(message), "{extra}: {err}");
    }
    let role = error_of(&format!("{people}[[stakeholders]]\nname = \"r\"\nroles = [\"opz\"]\n"));
    assert!(role.starts_with("team.toml:7: key \"stakeholders[0].roles\"") && role.contains("unknown role \"opz\""));
    let zone = error_of("[[people]]\nname = \"ann\"\nzone = \"Europe/Berln\"\n");
    assert!(zone.starts_with("team.toml:3: key \"people[0].zone\"") && zone.contains("\"Europe/Berln\""), "{zone}");
    let share = error_of("[notify]\nbudget_warning = 1.5\n");
    assert!(share.starts_with("team.toml:2: key \"notify.budget_warning\"") && share.contains("1.5"), "{share}");
}

#[test]
fn quiet_hours_are_read_in_the_person_s_zone_or_the_config_s() {
    let text = "timezone = \"Europe/Berlin\"\n[[people]]\nname = \"ann\"\nroles = [\"ops\"]\nzone = \"America/New_York\"\n\
                [[people]]\nname = \"bo\"\nroles = [\"ops\"]\n\
                [[stakeholders]]\nname = \"r\"\nroles = [\"ops\"]\nnotify_on = [\"gate_pending\"]\nquiet_hours = \"22:00-07:00\"\ndigest = \"15m\"\n";
    let c = Config::parse(text, "t.toml").expect("valid");
    let subs = c.subscriptions();
    let of = |p: &str| subs.iter().find(|s| s.person == p).expect("subscribed").timing.clone();
    assert_eq!(of("ann").zone.as_deref(), Some("America/New_York"));
    assert_eq!(of("bo").zone.as_deref(), Some("Europe/Berlin"), "no zone of their own: the config's");
    assert_eq!((of("bo").quiet_hours.as_deref(), of("bo").digest_ms), (Some("22:00-07:00"), Some(900_000)));
}
