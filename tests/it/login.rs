//! `shipdeck login URL` keeps a person's token per server (mode 0600) once the server said
//! whose it is (`GET /v1/whoami`); `--server URL` then needs no `--token`; `logout` forgets it.

use crate::support::{self, Env};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

fn issue(env: &Env, person: &str) -> String {
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "issue", person, "--scope", "decide"])
        .ok()
        .trim()
        .to_owned()
}

/// `shipdeck ARGS` with its config folder in `home` and `stdin` on its input.
fn run(env: &Env, home: &std::path::Path, args: &[&str], stdin: &str) -> support::Run {
    let mut child = support::bin()
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writes");
    let out = child.wait_with_output().expect("waits");
    support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn whoami_names_a_token_s_person_and_refuses_a_bad_token_or_none() {
    let env = Env::new();
    env.plan("phased", 2);
    let omar = issue(&env, "omar");
    let server = env.serve();
    let auth = format!("Bearer {omar}");
    let me = server.request("GET", "/v1/whoami", &[("Authorization", &auth)], b"").expect("answers");
    assert_eq!(me.status, 200, "{}", me.body);
    let json = me.json();
    assert_eq!((json["person"].as_str(), json["scope"].as_str()), (Some("omar"), Some("decide")));
    assert!(json["token"].as_str().expect("id").starts_with("tk_"), "{json}");
    let bad = server.request("GET", "/v1/whoami", &[("Authorization", "Bearer shipdeck_nope")], b"").expect("answers");
    assert_eq!(bad.status, 401, "{}", bad.body);
    assert_eq!(server.get("/v1/whoami").status, 401);
}

#[test]
fn login_keeps_the_token_per_server_in_a_0600_file_and_server_uses_it_until_logout() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    let (omar, dana) = (issue(&env, "omar"), issue(&env, "dana"));
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let home = env.path("config");
    let file = home.join("shipdeck").join("servers.toml");
    // A token the server does not know is never kept.
    let bad = run(&env, &home, &["login", &url, "--token-stdin"], "shipdeck_not-a-token\n");
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("refused the token"), "{}", bad.stderr);
    assert!(!file.exists());
    // dana logs in, then omar on the same folder: the server's entry is replaced.
    run(&env, &home, &["login", &url, "--token-stdin"], &format!("{dana}\n")).ok();
    let login = run(&env, &home, &["login", &format!("{url}/"), "--token-stdin"], &format!("{omar}\n"));
    assert!(login.ok().contains("as omar (scope decide)"), "{}", login.stdout);
    assert_eq!(std::fs::metadata(&file).expect("kept").permissions().mode() & 0o777, 0o600);
    let kept = std::fs::read_to_string(&file).expect("reads");
    assert_eq!(kept.matches("[[server]]").count(), 1, "{kept}");
    assert!(kept.contains(&omar) && !kept.contains(&dana), "{kept}");
    // --server without --token decides with the kept token, as its person.
    let approved = run(&env, &home, &["approve", &key, "pilot", "--server", &url], "");
    assert!(approved.ok().contains("approve by omar"), "{}", approved.stdout);
    // After logout the server needs a token again.
    run(&env, &home, &["logout", &url], "").ok();
    assert!(!std::fs::read_to_string(&file).expect("reads").contains(&omar));
    let again = run(&env, &home, &["reject", &key, "pilot", "--server", &url, "--reason", "r"], "");
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("needs your token"), "{}", again.stderr);
    let twice = run(&env, &home, &["logout", &url], "");
    assert_eq!(twice.code, 2, "{}", twice.stderr);
}
