//! The README's walk-through ("Walk-through: the whole loop"), run as it is written: every
//! command line of its code block goes to one `sh`, and what each printed is compared, line by
//! line, with the `# ` lines the README shows under it. The README cannot drift from the
//! commands any more.
//!
//! How the block is read:
//! - A line that is not a comment starts a command; a trailing `\` or a here-document
//!   (`<<'WORD'` ... `WORD`) continues it. A command ending in `&` runs in the background.
//! - The `# ` lines right under a command (no blank line between) are what it prints, stdout
//!   and stderr together (`#` alone is an empty line). A line `# (pipeline) TEXT` is printed
//!   by the last command started in the background, by the time the command above it has run:
//!   the test waits for it before going on, so the order is the README's, not a race's.
//! - Comment lines after a blank line are the story. One of them says "A minute later": there
//!   the log is aged by a minute (the pilot's phase finished a minute earlier), as waiting out
//!   the bake time would do, since a test does not wait.
//!
//! What cannot be the same on every run is replaced, in the README's text and in the output
//! alike (by hand-written matchers below), and nothing else:
//! - dates and times (`2026-11-27`, `08:36`, `08:36:17`);
//! - hashes (12 or 64 lowercase hex digits);
//! - the receiver's port (the README's 7480; the test takes a free one, in the commands and in
//!   a copy of `assets/walkthrough.toml` with `[receiver] listen`);
//! - the log's path (the README's `/tmp/shipdeck-walk.db`; the test's is in a temp folder);
//! - the OS account that runs the commands (shown as `ops` in the README).
//!
//! The first line (`cargo build --release && export PATH=...`) is replaced by putting the
//! binary under test first on `PATH`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const README_DB: &str = "/tmp/shipdeck-walk.db";
const README_PORT: &str = "7480";
const README_ACCOUNT: &str = "ops";
/// How long a command may take before the test gives up on it (a failure, never a pass).
const PATIENCE: Duration = Duration::from_secs(120);

/// One command of the walk-through and what the README shows it printing.
#[derive(Debug, Default)]
struct Step {
    command: String,
    background: bool,
    /// Printed by the command (for a background one: its first lines).
    prints: Vec<String>,
    /// Printed by the last background command by the time this one has run.
    pipeline: Vec<String>,
    /// The story said "A minute later" before this command.
    a_minute_later: bool,
}

fn walk_through_block(readme: &str) -> &str {
    let section = readme.split("## Walk-through: the whole loop").nth(1).expect("the README has the walk-through");
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = section[start..].find("\n```").expect("the block ends") + start;
    &section[start..end]
}

fn parse(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = block.lines();
    let mut under_command = false;
    let mut a_minute_later = false;
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            under_command = false;
            continue;
        }
        if line.starts_with('#') {
            let text = if line == "#" { "" } else { line.strip_prefix("# ").unwrap_or(line) };
            match steps.last_mut() {
                Some(step) if under_command => match text.strip_prefix("(pipeline) ") {
                    Some(job) => step.pipeline.push(job.to_owned()),
                    None => step.prints.push(text.to_owned()),
                },
                _ => a_minute_later |= text.contains("A minute later"),
            }
            continue;
        }
        let mut command = line.to_owned();
        let mut last = line.to_owned();
        while last.ends_with('\\') {
            last = lines.next().expect("a continued line").to_owned();
            command.push('\n');
            command.push_str(&last);
        }
        if let Some(word) = command.split("<<'").nth(1).and_then(|w| w.split('\'').next()).map(str::to_owned) {
            for body in lines.by_ref() {
                command.push('\n');
                command.push_str(body);
                if body == word {
                    break;
                }
            }
        }
        let background = command.trim_end().ends_with('&');
        if background {
            command = command.trim_end().trim_end_matches('&').trim_end().to_owned();
        }
        steps.push(Step { command, background, a_minute_later, ..Step::default() });
        a_minute_later = false;
        under_command = true;
    }
    steps
}

/// The masks of the module docs, applied to a README line and an output line alike.
struct Masks {
    db: String,
    /// The OS account running the test, when it is not the README's.
    account: Option<String>,
}

/// Whether `pattern` (`d` a digit, anything else itself) matches `chars` at `at`, with no digit
/// right before or after.
fn matches_at(chars: &[char], at: usize, pattern: &str) -> bool {
    let n = pattern.chars().count();
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    if at + n > chars.len() || (at > 0 && digit_at(at - 1)) || digit_at(at + n) {
        return false;
    }
    pattern.chars().zip(&chars[at..]).all(|(p, c)| if p == 'd' { c.is_ascii_digit() } else { p == *c })
}

/// `line` with every whole word `word` (letters, digits, `_`, `-` around it are not) replaced.
fn replace_word(line: &str, word: &str, by: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if before.is_some_and(is_word) || after.is_some_and(is_word) { word } else { by });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

impl Masks {
    fn new(db: &Path) -> Self {
        let login = Command::new("id").arg("-un").output().expect("id runs");
        let login = String::from_utf8_lossy(&login.stdout).trim().to_owned();
        Self { db: db.display().to_string(), account: (!login.is_empty() && login != README_ACCOUNT).then_some(login) }
    }

    /// An output line, with this run's log path and account written as the README writes them.
    fn output(&self, line: &str) -> String {
        let line = line.replace(&self.db, README_DB);
        let line = match &self.account {
            Some(account) => replace_word(&line, account, README_ACCOUNT),
            None => line,
        };
        Self::mask(&line)
    }

    /// Dates, times, hashes and the port, each replaced by its name.
    fn mask(line: &str) -> String {
        let chars: Vec<char> = line.trim_end().chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            if let Some((pattern, name)) = [("dddd-dd-dd", "DATE"), ("dd:dd:dd", "TIME"), ("dd:dd", "TIME")]
                .into_iter()
                .find(|(p, _)| matches_at(&chars, i, p))
            {
                out.push_str(name);
                i += pattern.len();
                continue;
            }
            let word: String = chars[i..].iter().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
            if starts_word && matches!(word.len(), 12 | 64) && word.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
            {
                out.push_str("HASH");
                i += word.len();
                continue;
            }
            out.push(chars[i]);
            i += 1;
            if out.ends_with("127.0.0.1:") {
                out.push_str("PORT");
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        out
    }
}

/// A free loopback port (taken by the receiver right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("addr").port()
}

/// Waits until `path` holds at least `lines` lines; fails naming `what` after [`PATIENCE`].
fn wait_for_lines(path: &Path, lines: usize, what: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let got: Vec<String> = text.lines().map(str::to_owned).collect();
        if got.len() >= lines {
            return got;
        }
        assert!(start.elapsed() < PATIENCE, "{what}: {lines} line(s) expected, got {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shell the walk-through runs in, and the background commands it started (stopped when
/// the test ends, passed or failed).
struct Shell {
    sh: Child,
    dir: PathBuf,
}

impl Shell {
    fn send(&mut self, text: &str) {
        let stdin = self.sh.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("writes to sh");
        stdin.flush().expect("flushes");
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let pids = std::fs::read_to_string(self.dir.join("pids")).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").arg(pid).stderr(Stdio::null()).status();
        }
        let _ = self.sh.kill();
        let _ = self.sh.wait();
    }
}

#[test]
fn the_readme_walk_through_prints_what_the_readme_shows() {
    let readme = include_str!("../../README.md");
    let steps = parse(walk_through_block(readme));
    assert!(steps.len() > 15 && steps[0].command.starts_with("cargo build"), "{steps:#?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shipdeck-walk.db");
    let port = free_port().to_string();
    std::fs::create_dir(dir.path().join("assets")).expect("mkdir");
    let config =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/walkthrough.toml")).expect("reads");
    std::fs::write(
        dir.path().join("assets/walkthrough.toml"),
        format!("{config}\n[receiver]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .expect("writes the config");
    let bin = Path::new(env!("CARGO_BIN_EXE_shipdeck")).parent().expect("the binary's folder");
    let mut sh = Command::new("sh");
    sh.arg("-s").current_dir(dir.path()).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    for var in ["SHIPDECK_DB", "SHIPDECK_CONFIG", "SHIPDECK_TOKEN", "SHIPDECK_OPERATOR", "NO_COLOR"] {
        sh.env_remove(var);
    }
    sh.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test");
    let mut shell = Shell { sh: sh.spawn().expect("sh starts"), dir: dir.path().to_path_buf() };
    let masks = Masks::new(&db);

    // Background commands: the command, its output file, the lines the README shows for it.
    let mut jobs: Vec<(String, PathBuf, Vec<String>)> = Vec::new();
    let mut outputs: Vec<PathBuf> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if step.a_minute_later {
            let conn = rusqlite::Connection::open(&db).expect("opens the log");
            conn.execute("UPDATE phases SET finished_ms = finished_ms - 60000 WHERE finished_ms IS NOT NULL", [])
                .expect("ages the log by a minute");
        }
        let command = if i == 0 {
            format!("export PATH=\"{}:$PATH\"", bin.display())
        } else {
            step.command
                .replace(README_DB, &db.display().to_string())
                .replace(&format!("127.0.0.1:{README_PORT}"), &format!("127.0.0.1:{port}"))
        };
        let out = dir.path().join(format!("out-{i}"));
        if step.background {
            shell.send(&format!("{{ {command}\n}} > {} 2>&1 < /dev/null &\necho $! >> pids\n", out.display()));
            wait_for_lines(&out, step.prints.len(), &step.command);
            jobs.push((step.command.clone(), out.clone(), step.prints.clone()));
        } else {
            let done = dir.path().join(format!("done-{i}"));
            shell.send(&format!("{{ {command}\n}} > {} 2>&1 < /dev/null\ntouch {}\n", out.display(), done.display()));
            let start = Instant::now();
            while !done.exists() {
                assert!(start.elapsed() < PATIENCE, "{} did not finish", step.command);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if !step.pipeline.is_empty() {
            let (_, path, lines) = jobs.last_mut().expect("a (pipeline) line with nothing in the background");
            lines.extend(step.pipeline.iter().cloned());
            wait_for_lines(path, lines.len(), "the command in the background");
        }
        outputs.push(out);
    }

    let mut wrong = Vec::new();
    let mut compare = |what: &str, shown: &[String], printed: &[String]| {
        let shown: Vec<String> = shown.iter().map(|l| Masks::mask(l)).collect();
        let printed: Vec<String> = printed.iter().map(|l| masks.output(l)).collect();
        if shown != printed {
            wrong.push(format!(
                "{what}\n  README shows:\n    {}\n  it printed:\n    {}",
                shown.join("\n    "),
                printed.join("\n    ")
            ));
        }
    };
    for (step, out) in steps.iter().zip(&outputs).filter(|(s, _)| !s.background) {
        let printed: Vec<String> =
            std::fs::read_to_string(out).unwrap_or_default().lines().map(str::to_owned).collect();
        compare(&step.command, &step.prints, &printed);
    }
    for (command, out, shown) in &jobs {
        // A background command keeps running (the receiver logs its commits): what the README
        // shows is how its output begins.
        let printed: Vec<String> =
            std::fs::read_to_string(out).unwrap_or_default().lines().map(str::to_owned).collect();
        compare(&format!("{command} & (in the background)"), shown, &printed[..shown.len().min(printed.len())]);
    }
    assert!(wrong.is_empty(), "the README's walk-through is not what the commands print:\n\n{}", wrong.join("\n\n"));
}
