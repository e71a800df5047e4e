//! People authenticate to the server with tokens the log issued: a token's person is the
//! operator of a decision through the API, four eyes hold by that identity, a token of the
//! wrong scope or an agent's never decides, and every refused use is in the audit trail.

use crate::support::{self, Env, Server};

/// Issues a token for `person` as dana (a deployment manager, who may), returning its secret.
fn issue(env: &Env, person: &str, scope: &str) -> String {
    let run = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "issue", person, "--scope", scope]);
    run.ok().trim().to_owned()
}

fn decide(server: &Server, token: &str, key: &str, phase: &str, decision: &str) -> support::Reply {
    let path = format!("/v1/deployments/{key}/gates/{phase}/decisions");
    let auth = format!("Bearer {token}");
    let body = format!("{{\"decision\":\"{decision}\",\"comment\":\"through the server\"}}");
    server.request("POST", &path, &[("Authorization", &auth)], body.as_bytes()).expect("answers")
}

/// The id of `person`'s token, from `token list --json`.
fn token_id(env: &Env, person: &str) -> String {
    let list = env.run(&["token", "list", "--json"]);
    let tokens: Vec<serde_json::Value> =
        list.ok().lines().map(|l| serde_json::from_str(l).expect("one JSON token a line")).collect();
    let token = tokens.into_iter().find(|t| t["person"] == person).unwrap_or_else(|| panic!("{person}'s token"));
    token["id"].as_str().expect("id").to_owned()
}

fn audit(env: &Env) -> Vec<serde_json::Value> {
    env.run(&["audit", "list", "--json"]).ok().lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

#[test]
fn a_decision_through_the_server_is_the_token_s_person_s_and_four_eyes_hold_by_it() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    let dana = issue(&env, "dana", "decide");
    let omar = issue(&env, "omar", "decide");
    let server = env.serve();
    // dana requested the deployment: her own token may not approve it (no self-approval).
    let own = decide(&server, &dana, &key, "pilot", "approve");
    assert_eq!(own.status, 409, "{}", own.body);
    assert!(own.json()["error"].to_string().contains("by dana refused"), "{}", own.body);
    // omar's token approves as omar, whatever anyone claims by name.
    let approved = decide(&server, &omar, &key, "pilot", "approve");
    assert_eq!(approved.status, 200, "{}", approved.body);
    let json = approved.json();
    assert_eq!(json["person"], "omar");
    assert!(json["recorded"].to_string().contains("gate approved (1 of 1)"), "{json}");
    assert_eq!(json["flags"], serde_json::json!([]), "a token's person acted as themselves");
    let trail = audit(&env);
    let last = trail.last().expect("records");
    assert_eq!((last["decision"].as_str(), last["person"].as_str()), (Some("approve"), Some("omar")));
    assert!(last["os_user"].as_str().expect("account").starts_with("token tk_"), "{last}");
    let refused: Vec<&str> =
        trail.iter().filter(|r| r["outcome"] == "refused").map(|r| r["person"].as_str().expect("p")).collect();
    assert_eq!(refused, ["dana"]);
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn an_agent_s_or_a_reader_s_token_never_decides_and_a_bad_token_is_refused_and_audited() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    let agent = issue(&env, "agent-berlin", "events");
    let reader = issue(&env, "priya", "read");
    let omar = issue(&env, "omar", "decide");
    let server = env.serve();
    // The agent's token posts events and reads gates, and never decides.
    let event = support::event("e1", &key, "web-01", "install", "started");
    let auth = format!("Bearer {agent}");
    let posted = server.request("POST", "/v1/events", &[("Authorization", &auth)], event.as_bytes()).expect("posts");
    assert_eq!(posted.status, 200, "{}", posted.body);
    for token in [&agent, &reader] {
        let refused = decide(&server, token, &key, "pilot", "approve");
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("this needs scope decide"), "{}", refused.body);
    }
    // No token, an unknown one, a revoked one: 401, nothing decided; the refused uses audited.
    let path = format!("/v1/deployments/{key}/gates/pilot/decisions");
    let anonymous = server.post(&path, br#"{"decision":"approve"}"#);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(decide(&server, "shipdeck_not-a-token", &key, "pilot", "approve").status, 401);
    let id = token_id(&env, "omar");
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "revoke", &id]).ok();
    let revoked = decide(&server, &omar, &key, "pilot", "approve");
    assert_eq!(revoked.status, 401, "{}", revoked.body);
    assert!(revoked.body.contains("was revoked"), "{}", revoked.body);
    assert!(env.run(&["gate", "show", &key, "pilot", "--json"]).json()["approvals"].as_array().expect("a").is_empty());
    let uses: Vec<String> = audit(&env)
        .iter()
        .filter(|r| r["decision"] == "token_use")
        .map(|r| format!("{} {}", r["person"].as_str().expect("p"), r["outcome"].as_str().expect("o")))
        .collect();
    assert_eq!(uses, ["unknown refused", "omar refused"]);
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn only_an_admin_on_the_log_s_own_account_issues_tokens_and_the_secret_is_kept_only_as_a_hash() {
    let env = Env::new();
    env.plan("phased", 4);
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["token", "issue", "omar"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("sam holds none of the roles allowed to manage tokens"), "{}", refused.stderr);
    let nobody = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "issue", "mallory"]);
    assert_eq!(nobody.code, 2, "{}", nobody.stderr);
    let secret = issue(&env, "omar", "decide");
    assert!(secret.starts_with("shipdeck_") && secret.len() > 60, "{secret}");
    let bytes = std::fs::read(&env.db).expect("reads");
    let wal = std::fs::read(env.db.with_extension("db-wal")).unwrap_or_default();
    let needle = secret.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle),
        "the secret is not stored"
    );
    let list = env.run(&["token", "list"]).ok().to_owned();
    assert!(list.contains("omar") && list.contains("decide") && list.contains("issued by dana"), "{list}");
    // A token changed by hand is found by the audit.
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.execute("UPDATE api_tokens SET scope = 'admin'", []).expect("tampers");
    drop(conn);
    let verify = env.run(&["audit", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(verify.stderr.contains("the API tokens changed"), "{}", verify.stderr);
}

#[test]
fn approve_with_server_decides_as_the_token_s_person_whatever_the_name_claimed() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    let omar = issue(&env, "omar", "decide");
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    // Claiming to be dana changes nothing: the token is omar's.
    let claim = [("SHIPDECK_OPERATOR", "dana"), ("SHIPDECK_TOKEN", omar.as_str())];
    let approved = env.run_env(&claim, &["approve", &key, "pilot", "--server", &url, "--comment", "from my laptop"]);
    assert!(
        approved.ok().starts_with(&format!("recorded: {key} pilot approve by omar as deployment_manager")),
        "{}",
        approved.stdout
    );
    let again = env.run_env(&claim, &["approve", &key, "pilot", "--server", &url]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("the gate is already approved"), "{}", again.stderr);
    let unknown = env.run_env(&[("SHIPDECK_TOKEN", "shipdeck_nope")], &["approve", &key, "wave-1", "--server", &url]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("unknown token"), "{}", unknown.stderr);
    let phase = env.run_env(&claim, &["approve", &key, "no-such-phase", "--server", &url]);
    assert_eq!(phase.code, 2, "{}", phase.stderr);
    drop(server);
    let down = env.run_env(&claim, &["approve", &key, "wave-1", "--server", &url]);
    assert_eq!(down.code, 1, "{}", down.stderr);
    assert!(down.stderr.contains(&url), "the client names the server it could not reach: {}", down.stderr);
}

#[test]
fn an_admin_token_issues_lists_and_revokes_tokens_through_the_server_and_a_decide_token_cannot() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    let admin = issue(&env, "dana", "admin");
    let omar = issue(&env, "omar", "decide");
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let as_admin = [("SHIPDECK_TOKEN", admin.as_str())];
    let made = env.run_env(&as_admin, &["token", "issue", "priya", "--scope", "read", "--server", &url]);
    let secret = made.ok().trim().to_owned();
    assert!(
        made.stderr.contains("issued token tk_") && made.stderr.contains("for priya (scope read"),
        "{}",
        made.stderr
    );
    let listed = env.run_env(&as_admin, &["token", "list", "--json", "--server", &url]);
    let people: Vec<String> = listed
        .ok()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["person"].as_str().expect("p").to_owned())
        .collect();
    assert!(people.contains(&"priya".to_owned()) && people.contains(&"omar".to_owned()), "{people:?}");
    // omar's token decides but does not manage tokens.
    let refused = env.run_env(&[("SHIPDECK_TOKEN", omar.as_str())], &["token", "issue", "lee", "--server", &url]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("this needs scope admin"), "{}", refused.stderr);
    // priya's new token reads; revoked through the server, it is refused.
    let path = format!("/v1/deployments/{key}");
    let read = |token: &str| {
        server.request("GET", &path, &[("Authorization", &format!("Bearer {token}"))], b"").expect("answers")
    };
    assert_eq!(read(&secret).status, 200);
    let priya_id = token_id(&env, "priya");
    let revoked = env.run_env(&as_admin, &["token", "revoke", &priya_id, "--server", &url]);
    assert!(revoked.ok().contains("revoked token"), "{}", revoked.stderr);
    assert_eq!(read(&secret).status, 401);
    let issuers: Vec<String> = audit(&env)
        .iter()
        .filter(|r| r["decision"] == "token_issue" && r["outcome"].is_null())
        .map(|r| format!("{} {}", r["person"].as_str().expect("p"), r["os_user"].as_str().expect("o")))
        .collect();
    assert!(issuers.last().expect("issued").starts_with("dana token tk_"), "{issuers:?}");
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn a_person_s_token_exported_in_the_shell_cannot_become_the_receiver_s_shared_token() {
    let env = Env::new();
    env.plan("phased", 4);
    let omar = issue(&env, "omar", "decide");
    let run = env.run_env(&[("SHIPDECK_TOKEN", omar.as_str())], &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is omar's API token tk_"), "{}", run.stderr);
}
