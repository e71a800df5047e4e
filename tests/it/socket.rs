//! `serve --socket`: on the server's Unix socket the caller is the OS account the kernel
//! reports, mapped to the team's person of that login. Tested with real OS accounts the test
//! makes (it runs as root, as CI does): nothing the client sets changes who it is.

use crate::support::{self, Env};
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

/// OS accounts (and their group) made for one test, removed when dropped.
struct Accounts {
    group: String,
    users: Vec<String>,
}

impl Accounts {
    /// Makes group `sdk-g-<pid>` and one account `sdk-<tag>-<pid>` per tag, each in the group.
    fn make(tags: &[&str]) -> Self {
        let pid = std::process::id();
        let group = format!("sdk-g-{pid}");
        must(Command::new("groupadd").arg(&group), "groupadd");
        let mut made = Self { group, users: Vec::new() };
        for tag in tags {
            let user = format!("sdk-{tag}-{pid}");
            must(
                Command::new("useradd").args(["--no-create-home", "--user-group", "--groups", &made.group, &user]),
                "useradd",
            );
            made.users.push(user);
        }
        made
    }

    fn user(&self, i: usize) -> &str {
        &self.users[i]
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}

/// Runs `cmd`, failing the test (never skipping it) when the tool is missing or fails.
fn must(cmd: &mut Command, tool: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{tool} is needed to make OS accounts for this test: {e}"));
    assert!(status.success(), "{tool} failed: {status}");
}

/// A running `serve --socket`, killed when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `shipdeck ARGS` as OS account `user` (its own uid, gid and groups), with `env` set.
fn as_user(user: &str, env: &[(&str, &str)], args: &[&str]) -> support::Run {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", user, "--regid", user, "--init-groups", "--", env!("CARGO_BIN_EXE_shipdeck")]);
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("SHIPDECK_OPERATOR")
        .env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("setpriv runs (util-linux)");
    support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn account() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn audit(env: &Env) -> Vec<serde_json::Value> {
    env.run(&["audit", "list", "--json"]).ok().lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

#[test]
fn on_the_socket_the_caller_is_the_kernel_s_uid_and_four_eyes_hold_by_its_person() {
    let accounts = Accounts::make(&["a", "b", "c"]);
    let (rita, omar, stranger) = (accounts.user(0), accounts.user(1), accounts.user(2));
    let env = Env::new();
    // The accounts reach the socket's folder and read the config, never the log's folder.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let config = env.path("team.toml");
    std::fs::write(
        &config,
        format!(
            "identity = \"os-login\"\n\
             [[environments]]\nname = \"production\"\nproduction = true\n\
             [[people]]\nname = \"dana\"\nlogin = \"{me}\"\nroles = [\"deployment_manager\"]\n\
             [[people]]\nname = \"rita\"\nlogin = \"{rita}\"\nroles = [\"deployment_manager\"]\n\
             [[people]]\nname = \"omar\"\nlogin = \"{omar}\"\nroles = [\"deployment_manager\"]\n\
             [models.m]\ntechnique = \"big-bang\"\nsteps = [\"install\"]\n\
             [[models.m.phases]]\nname = \"all\"\ntargets = \"rest\"\n\
             gate = {{ approvals = 1, roles = [\"deployment_manager\"] }}\n",
            me = account()
        ),
    )
    .expect("writes");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config = config.to_str().expect("utf-8");
    let plan = [
        "--config",
        config,
        "plan",
        "--release",
        "a@1",
        "--env",
        "production",
        "--model",
        "m",
        "--targets",
        "h1",
        "--requested-by",
        "rita",
    ];
    assert_eq!(env.run_env(&[], &plan).ok().lines().next(), Some("DEP-1"));
    let folder = env.path("run");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = folder.join("shipdeck.sock");
    let socket_arg = socket.to_str().expect("utf-8");
    let args = ["--config", config, "serve", "--listen", "127.0.0.1:0", "--socket", socket_arg, "--socket-group"];
    let mut child = env.spawn(&[], &[&args[..], &[accounts.group.as_str()]].concat());
    let mut said = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let serving = Serving(child);
    let mut line = String::new();
    while !line.contains("on unix:") {
        line.clear();
        assert!(said.read_line(&mut line).expect("reads") > 0, "serve stopped before serving the socket");
    }
    std::thread::spawn(move || for _ in said.lines() {});
    let meta = std::fs::metadata(&socket).expect("the socket exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "the socket is its group's only");

    let server = format!("unix:{socket_arg}");
    let approve = ["--config", config, "approve", "DEP-1", "all", "--server", &server];
    // rita requested it: from her account, no self-approval, whatever she claims by name.
    let own = as_user(rita, &[("SHIPDECK_OPERATOR", "omar")], &approve);
    assert_eq!(own.code, 1, "{}", own.stderr);
    assert!(own.stderr.contains("by rita refused"), "{}", own.stderr);
    // An account that is nobody's login is refused, naming it.
    let nobody = as_user(stranger, &[], &approve);
    assert_eq!(nobody.code, 1, "{}", nobody.stderr);
    assert!(nobody.stderr.contains(&format!("OS account \"{stranger}\"")), "{}", nobody.stderr);
    // omar's account approves as omar, recorded with his login.
    let approved = as_user(omar, &[("SHIPDECK_OPERATOR", "rita")], &approve);
    assert!(approved.ok().contains("gate approved (1 of 1)"), "{}", approved.stdout);
    // The socket says who the kernel says is calling.
    let whoami = Command::new("setpriv")
        .args(["--reuid", omar, "--regid", omar, "--init-groups", "--", "curl", "-sS", "--unix-socket", socket_arg])
        .arg("http://localhost/v1/whoami")
        .output()
        .expect("curl runs");
    let me: serde_json::Value = serde_json::from_slice(&whoami.stdout).expect("json");
    assert_eq!((me["person"].as_str(), me["login"].as_str()), (Some("omar"), Some(omar)), "{me}");
    drop(serving);

    let trail = audit(&env);
    let last = trail.last().expect("records");
    assert_eq!(
        (last["decision"].as_str(), last["person"].as_str(), last["os_user"].as_str()),
        (Some("approve"), Some("omar"), Some(omar))
    );
    let refused: Vec<(&str, &str)> = trail
        .iter()
        .filter(|r| r["outcome"] == "refused")
        .map(|r| (r["decision"].as_str().expect("d"), r["person"].as_str().expect("p")))
        .collect();
    assert_eq!(refused, [("approve", "rita"), ("peer_use", stranger)]);
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn a_socket_path_that_is_another_file_or_an_unknown_group_stops_serve_naming_it() {
    let env = Env::new();
    env.plan("big-bang", 1);
    let file = env.path("not-a-socket");
    std::fs::write(&file, "keep me").expect("writes");
    let path = file.to_str().expect("utf-8");
    let other = env.run(&["serve", "--listen", "127.0.0.1:0", "--socket", path]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains(&format!("--socket \"{path}\" exists and is not a socket")), "{}", other.stderr);
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "keep me");
    let socket = env.path("s.sock");
    let socket = socket.to_str().expect("utf-8");
    let group = env.run(&["serve", "--listen", "127.0.0.1:0", "--socket", socket, "--socket-group", "no-such-group-x"]);
    assert_eq!(group.code, 2, "{}", group.stderr);
    assert!(group.stderr.contains("--socket-group \"no-such-group-x\" is not a group"), "{}", group.stderr);
}
