//! The `shipdeck` binary: parse the command line, run, map errors to exit codes.

use clap::Parser;
use shipdeck::cli;
use shipdeck::domain::text::sanitize;

fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args, shipdeck::clock::system()) {
        Ok(code) => code,
        Err(e) if cli::is_broken_pipe(&e) => 0,
        Err(e) => {
            // Errors quote values from agents, the log and the config: make them inert.
            let text = if e.downcast_ref::<cli::Reported>().is_none() { one_sentence(&e) } else { e.to_string() };
            eprintln!("shipdeck: {}", sanitize(&text));
            cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}

/// The error and its causes, each said once: a cause whose words its parent already quotes
/// (as SQLite's errors are, two levels deep) is not repeated.
fn one_sentence(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if text.contains(&words) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&words);
    }
    text
}
