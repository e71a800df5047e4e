//! Signed audit records: the server signs each record it appends with its Ed25519 key, and
//! `audit verify --key` proves it, so a record appended by anyone who can write the file, even
//! with a correct hash chain and an updated head, fails verification naming the record.

use crate::support::{self, Env, Server};
use sha2::{Digest, Sha256};

/// Makes a key with `audit key --generate`, returning its public key as printed.
fn generate(env: &Env, name: &str) -> String {
    let path = env.path(name);
    let public = env.run(&["audit", "key", "--generate", path.to_str().expect("utf-8")]).ok().trim().to_owned();
    assert_eq!(public.len(), 64, "{public}");
    public
}

/// `shipdeck serve` with the built-in config naming `key` as `receiver.signing_key`.
fn serve_signed(env: &Env, key: &str) -> Server {
    let config = support::built_in_config().replacen(
        "# signing_key = \"/etc/shipdeck/audit.key\"",
        &format!("signing_key = {:?}", env.path(key).to_str().expect("utf-8")),
        1,
    );
    assert!(config.contains("\nsigning_key = "), "the shipped config shows signing_key");
    let path = env.path("signed.toml");
    std::fs::write(&path, config).expect("writes");
    env.serve_with(&[("SHIPDECK_CONFIG", path.to_str().expect("utf-8"))])
}

fn decide(server: &Server, token: &str, key: &str, decision: &str) -> support::Reply {
    let path = format!("/v1/deployments/{key}/gates/pilot/decisions");
    let auth = format!("Bearer {token}");
    let body = format!("{{\"decision\":\"{decision}\",\"reason\":\"web-08 started early\"}}");
    server.request("POST", &path, &[("Authorization", &auth)], body.as_bytes()).expect("answers")
}

fn issue(env: &Env, person: &str) -> String {
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "issue", person, "--scope", "decide"])
        .ok()
        .trim()
        .to_owned()
}

/// A log whose first records were written on the file, the rest by a signing server: a
/// refused self-approval, a conformance flag, a refused unknown token and omar's approval. Returns the deployment.
fn signed_log(env: &Env) -> String {
    let key = env.plan("phased", 8);
    let (dana, omar) = (issue(env, "dana"), issue(env, "omar"));
    generate(env, "server.key");
    let server = serve_signed(env, "server.key");
    server.wait_said("signing audit records with key");
    assert_eq!(decide(&server, &dana, &key, "approve").status, 409, "no self-approval");
    // Work ahead of the gate: the writer's connection records the flag.
    let ahead = server.post("/v1/events", support::event("e1", &key, "web-08", "install", "started").as_bytes());
    assert_eq!(ahead.status, 200, "{}", ahead.body);
    assert_eq!(decide(&server, "tk_nobody.secret", &key, "approve").status, 401, "an unknown token");
    let approved = decide(&server, &omar, &key, "approve");
    assert_eq!(approved.status, 200, "{}", approved.body);
    drop(server);
    let trail = env.run(&["audit", "list", "--json"]).ok().to_owned();
    assert!(trail.contains("\"decision\":\"flag\""), "a flag was recorded: {trail}");
    key
}

/// The canonical fields of a record, in the order the chain hashes them.
#[derive(serde::Serialize)]
struct Canonical<'a> {
    id: i64,
    prev_hash: &'a str,
    deployment_id: i64,
    phase_id: i64,
    decision: &'a str,
    person: &'a str,
    role: Option<&'a str>,
    os_user: Option<&'a str>,
    comment: Option<&'a str>,
    reason: Option<&'a str>,
    policy_state: Option<&'a str>,
    decided_ms: i64,
}

/// Appends with SQLite a copy of the newest approval as sam's, with a correct hash after the
/// head and the head moved to it, as anyone able to write the file could. Returns its number.
fn forge_approval(env: &Env) -> i64 {
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    let (deployment_id, phase_id, role, policy_state, decided_ms): (i64, i64, Option<String>, String, i64) = conn
        .query_row(
            "SELECT deployment_id, phase_id, role, policy_state, decided_ms FROM gate_decisions
             WHERE decision = 'approve' AND outcome IS NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("an approval");
    let (count, prev): (i64, String) =
        conn.query_row("SELECT count, hash FROM audit_head", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("head");
    let id = count + 1;
    let c = Canonical {
        id,
        prev_hash: &prev,
        deployment_id,
        phase_id,
        decision: "approve",
        person: "sam",
        role: role.as_deref(),
        os_user: Some("sam"),
        comment: Some("looks fine"),
        reason: None,
        policy_state: Some(&policy_state),
        decided_ms: decided_ms + 1,
    };
    let hash: String =
        Sha256::digest(serde_json::to_vec(&c).expect("json")).iter().map(|b| format!("{b:02x}")).collect();
    conn.execute(
        "INSERT INTO gate_decisions (id, deployment_id, phase_id, decision, person, role, os_user, comment, reason,
                                     policy_state, decided_ms, prev_hash, hash)
         VALUES (?1, ?2, ?3, 'approve', 'sam', ?4, 'sam', 'looks fine', NULL, ?5, ?6, ?7, ?8)",
        rusqlite::params![id, deployment_id, phase_id, role, policy_state, decided_ms + 1, prev, hash],
    )
    .expect("appends");
    conn.execute("UPDATE audit_head SET count = ?1, hash = ?2", rusqlite::params![id, hash]).expect("moves the head");
    id
}

fn first_signed(env: &Env) -> i64 {
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.query_row("SELECT min(id) FROM gate_decisions WHERE signature IS NOT NULL", [], |r| r.get(0)).expect("one")
}

#[test]
fn a_forged_approval_with_a_correct_chain_passes_the_chain_and_fails_the_server_s_key() {
    let env = Env::new();
    signed_log(&env);
    let public = env.run(&["audit", "key", env.path("server.key").to_str().expect("utf-8")]).ok().trim().to_owned();
    let first = first_signed(&env);
    let verified = env.run(&["audit", "verify", "--key", &public]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(verified.stdout.contains(&format!("records 1-{} predate signing", first - 1)), "{}", verified.stdout);
    let forged = forge_approval(&env);
    let chain = env.run(&["audit", "verify"]);
    assert_eq!(chain.code, 0, "the forgery is consistent with the chain: {}", chain.stderr);
    let (head, _) = env
        .run(&["audit", "head"])
        .ok()
        .trim()
        .split_once(' ')
        .map(|(c, h)| (c.to_owned(), h.to_owned()))
        .expect("head");
    assert_eq!(head, forged.to_string(), "the head moved to the forgery");
    let signed = env.run(&["audit", "verify", "--key", &public]);
    assert_eq!(signed.code, 1, "{}", signed.stdout);
    assert!(
        signed.stderr.contains(&format!("audit record {forged} is not signed by the server's key")),
        "{}",
        signed.stderr
    );
}

#[test]
fn a_signed_log_verifies_with_the_server_s_key_from_a_file_and_fails_with_another() {
    let env = Env::new();
    signed_log(&env);
    let public = env.run(&["audit", "key", env.path("server.key").to_str().expect("utf-8")]).ok().to_owned();
    let file = env.path("server.pub");
    std::fs::write(&file, public).expect("writes");
    let ok = env.run(&["audit", "verify", "--key", file.to_str().expect("utf-8")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let other = generate(&env, "other.key");
    let wrong = env.run(&["audit", "verify", "--key", &other]);
    assert_eq!(wrong.code, 1);
    let first = first_signed(&env);
    assert!(
        wrong.stderr.contains(&format!("audit record {first} is not signed by the server's key")),
        "{}",
        wrong.stderr
    );
    let unsigned = Env::new();
    unsigned.plan("phased", 4);
    let none = unsigned.run(&["audit", "verify", "--key", &other]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("no audit record is signed by the server's key"), "{}", none.stderr);
    let bad = env.run(&["audit", "verify", "--key", "abc"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--key \"abc\" is neither a public key"), "{}", bad.stderr);
}

#[test]
fn audit_key_generate_writes_an_owner_only_key_and_never_overwrites_one() {
    let env = Env::new();
    let public = generate(&env, "k");
    let path = env.path("k");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(env.run(&["audit", "key", path.to_str().expect("utf-8")]).ok().trim(), public, "the same key");
    let again = env.run(&["audit", "key", "--generate", path.to_str().expect("utf-8")]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("cannot write the signing key"), "{}", again.stderr);
    assert_eq!(env.run(&["audit", "key", path.to_str().expect("utf-8")]).ok().trim(), public, "left as it was");
}

#[test]
fn serve_with_a_signing_key_it_cannot_read_stops_naming_it_and_never_serves_unsigned() {
    let env = Env::new();
    env.plan("phased", 4);
    let missing = env.path("missing.key");
    let run = env.run(&["serve", "--listen", "127.0.0.1:0", "--signing-key", missing.to_str().expect("utf-8")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot read the signing key") && run.stderr.contains("missing.key"), "{}", run.stderr);
    let not_a_key = env.path("not.key");
    std::fs::write(&not_a_key, "hello").expect("writes");
    let run = env.run(&["serve", "--listen", "127.0.0.1:0", "--signing-key", not_a_key.to_str().expect("utf-8")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is not an Ed25519 private key"), "{}", run.stderr);
}

#[test]
fn audit_key_without_a_file_prints_the_public_key_of_the_configured_signing_key() {
    let env = crate::support::Env::new();
    let key = env.path("server.key");
    let key_text = key.to_str().expect("utf-8");
    let made = env.run(&["audit", "key", "--generate", key_text]).ok().trim().to_owned();
    let config = env.path("server.toml");
    let shipped = crate::support::built_in_config();
    assert!(shipped.contains("\n[receiver]\n"), "the shipped config has a [receiver] table");
    let with_key = shipped.replacen("\n[receiver]\n", &format!("\n[receiver]\nsigning_key = \"{key_text}\"\n"), 1);
    std::fs::write(&config, with_key).expect("writes");
    let shown = env.run(&["--config", config.to_str().expect("utf-8"), "audit", "key"]);
    assert_eq!(shown.ok().trim(), made, "{}", shown.stderr);
    let none = env.run(&["audit", "key"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
}
