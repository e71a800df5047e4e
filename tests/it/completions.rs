//! `shipdeck completions SHELL` and `shipdeck man`: generated from the CLI definition, and
//! accepted by the shells and by groff (CI installs zsh, fish and groff).

use crate::support::bin;
use std::process::{Command, Stdio};

fn generated(args: &[&str]) -> String {
    let out = bin().args(args).stdin(Stdio::null()).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test (.ci/run installs it): {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn bash_completion_parses_and_completes_subcommands_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = write(&dir, "shipdeck.bash", &generated(&["completions", "bash"]));
    let (ok, _, err) = run("bash", &["-n", &script]);
    assert!(ok, "bash -n refused the completion: {err}");
    // Complete as bash would: `shipdeck ga<TAB>` and `shipdeck gate wait --ser<TAB>`.
    let probe = format!(
        "source {script}\n\
         COMP_WORDS=(shipdeck ga); COMP_CWORD=1; _shipdeck shipdeck ga shipdeck; echo \"1:${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(shipdeck gate wait --ser); COMP_CWORD=3; _shipdeck shipdeck --ser wait; echo \"2:${{COMPREPLY[*]}}\"\n"
    );
    let (ok, out, err) = run("bash", &["-c", &probe]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("1:") && l.contains("gate")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("2:") && l.contains("--server")), "{out}");
}

#[test]
fn zsh_and_fish_completions_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zsh = generated(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef shipdeck"), "{}", &zsh[..zsh.len().min(200)]);
    let (ok, _, err) = run("zsh", &["-n", &write(&dir, "_shipdeck", &zsh)]);
    assert!(ok, "zsh -n refused the completion: {err}");
    let fish = generated(&["completions", "fish"]);
    assert!(fish.contains("complete -c shipdeck"), "{fish}");
    let (ok, _, err) = run("fish", &["--no-execute", &write(&dir, "shipdeck.fish", &fish)]);
    assert!(ok, "fish refused the completion: {err}");
}

#[test]
fn the_man_page_renders_and_lists_the_commands() {
    let page = generated(&["man"]);
    assert!(page.starts_with(".ie") || page.contains(".TH shipdeck"), "{}", &page[..page.len().min(200)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "shipdeck.1", &page);
    let (ok, text, err) = run("groff", &["-man", "-Tascii", "-ww", &file]);
    assert!(ok && err.trim().is_empty(), "groff: {err}");
    // Bold and underline are overstruck (`x\bx`, `_\bx`): keep the letters.
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    for word in ["shipdeck", "gate", "emit", "serve", "completions", "--db", "--read-only"] {
        assert!(plain.contains(word), "the man page does not mention {word}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = bin().args(["completions", "tcsh"]).stdin(Stdio::null()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn man_dir_writes_a_page_per_command_with_its_own_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf-8");
    generated(&["man", "--dir", path]);
    let page = |name: &str| {
        let file = dir.path().join(name);
        let (ok, text, err) = run("groff", &["-man", "-Tascii", "-ww", file.to_str().expect("utf-8")]);
        assert!(ok && err.trim().is_empty(), "groff on {name}: {err}");
        text.chars().fold(String::new(), |mut plain, c| {
            if c == '\u{8}' {
                plain.pop();
            } else {
                plain.push(c);
            }
            plain
        })
    };
    assert!(page("shipdeck.1").contains("completions"));
    // Options of subcommands, which the one-page form leaves out.
    assert!(page("shipdeck-emit.1").contains("--ca-cert"), "emit's page names --ca-cert");
    assert!(page("shipdeck-plan.1").contains("--start"), "plan's page names --start");
    assert!(page("shipdeck-gate-wait.1").contains("--timeout"), "gate wait's page names --timeout");
    let missing = bin().args(["man", "--dir", &format!("{path}/nope")]).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope: not a directory"));
}
