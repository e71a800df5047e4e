//! Test harness: the real `shipdeck` binary, a real log file in a temp folder, and a real
//! receiver on a loopback port, behind a few fluent helpers.
#![allow(dead_code)] // each test file uses a different part

pub mod sink;
pub mod tmux;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A scratch folder with a deployment log.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

/// What a command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "exit {}\nstdout: {}\nstderr: {}", self.code, self.stdout, self.stderr);
        &self.stdout
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    for var in ["SHIPDECK_DB", "SHIPDECK_CONFIG", "SHIPDECK_TOKEN", "SHIPDECK_OPERATOR", "NO_COLOR"] {
        c.env_remove(var);
    }
    // Never read the developer's own config.
    c.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test");
    c
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("log.db");
        Self { dir, db }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `shipdeck --db <log> ARGS`.
    ///
    /// `plan` runs as dana (a person of the built-in team, who may plan): nothing is planned in
    /// the name of an operator the log's team does not know. Use [`Env::run_env`] to plan as
    /// someone else.
    pub fn run(&self, args: &[&str]) -> Run {
        if args.contains(&"plan") {
            return self.run_env(&[("SHIPDECK_OPERATOR", "dana")], args);
        }
        Run::from(bin().arg("--db").arg(&self.db).args(args).stdin(Stdio::null()).output().expect("runs"))
    }

    /// Runs `shipdeck --db <log> ARGS` with extra environment (e.g. `SHIPDECK_OPERATOR`).
    pub fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        Run::from(self.command(env, args).output().expect("runs"))
    }

    /// Starts `shipdeck --db <log> ARGS` with extra environment; wait on it with [`finish`].
    pub fn spawn(&self, env: &[(&str, &str)], args: &[&str]) -> Child {
        self.command(env, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawns")
    }

    fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut c = bin();
        c.arg("--db").arg(&self.db).args(args).stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Runs with stdin.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = bin()
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writes");
        Run::from(child.wait_with_output().expect("waits"))
    }

    /// Plans `payments-api@2.4.1` to production with `model` over `hosts` hosts web-01... (with
    /// the `phased` model's `pre` checklist ticked)
    pub fn plan(&self, model: &str, hosts: usize) -> String {
        let targets: Vec<String> = (1..=hosts).map(|i| format!("web-{i:02}")).collect();
        let run = self.run(&[
            "plan",
            "--release",
            "payments-api@2.4.1",
            "--env",
            "production",
            "--model",
            model,
            "--targets",
            &targets.join(","),
            "--requested-by",
            "dana",
        ]);
        let key = run.ok().lines().next().expect("a key").to_owned();
        // The shipped pilot gate requires the `pre` checklist: the release engineer ticks it.
        if model == "phased" {
            let evidence = ["check", &key, "artifacts", "--evidence", "checksums match"];
            self.run_env(&[("SHIPDECK_OPERATOR", "sam")], &evidence).ok();
        }
        key
    }

    /// Starts `shipdeck serve` on a free loopback port.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    pub fn serve_with(&self, env: &[(&str, &str)]) -> Server {
        let mut cmd = bin();
        cmd.arg("--db")
            .arg(&self.db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        lines.read_line(&mut first).expect("reads the banner");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in: {first}"))
            .to_owned();
        // Keep draining stderr so the receiver never blocks on a full pipe; what it says is kept.
        let said = std::sync::Arc::new(std::sync::Mutex::new(first));
        let kept = said.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Ok(mut s) = kept.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Server { child, addr, said }
    }

    /// The ids of a deployment's stored events.
    pub fn event_ids(&self, key: &str) -> Vec<String> {
        let run = self.run(&["events", key, "--json", "--limit", "10000000"]);
        run.ok()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

/// A running receiver; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// What it said on stderr so far.
    pub said: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Waits (at most 10 s) until the receiver has said a line containing `text`; returns all
    /// it said.
    pub fn wait_said(&self, text: &str) -> String {
        for _ in 0..200 {
            let said = self.said.lock().map(|s| s.clone()).unwrap_or_default();
            if said.contains(text) {
                return said;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "the receiver never said {text:?}; it said: {}",
            self.said.lock().map(|s| s.clone()).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Server {
    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.request("POST", path, &[], body).expect("request")
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"").expect("request")
    }

    /// A raw HTTP/1.1 request, so tests can send what a real client would refuse to.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Reply> {
        http(&self.addr, method, path, headers, body)
    }
}

pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // A refused body may be answered before it is all sent; the answer is what counts.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad reply: {text}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok(Reply { status, body: dechunk(&body) })
}

/// Undoes chunked transfer encoding when the server used it.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return body.to_owned() };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return body.to_owned() };
        if n == 0 {
            return out;
        }
        if after.len() < n {
            return body.to_owned();
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
}

/// Waits for a spawned command and collects what it did.
pub fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().expect("waits"))
}

/// Reads the child's first line on stderr (piped): the sign that it is ready, e.g. `gate wait`
/// says where the gate stands before it starts waiting. Reads byte by byte, so nothing after
/// the line is lost for [`finish`].
pub fn first_stderr_line(child: &mut Child) -> String {
    let stderr = child.stderr.as_mut().expect("stderr is piped");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stderr.read(&mut byte).expect("reads stderr") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// One NDJSON event line.
pub fn event(id: &str, key: &str, target: &str, step: &str, status: &str) -> String {
    format!(r#"{{"id":"{id}","deployment":"{key}","target":"{target}","step":"{step}","status":"{status}"}}"#)
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The built-in config file's text (to write variations of it).
pub fn built_in_config() -> String {
    let out = bin().args(["config", "default"]).output().expect("runs");
    String::from_utf8(out.stdout).expect("utf-8")
}
