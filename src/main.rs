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
            let text = if e.downcast_ref::<cli::Reported>().is_none() { format!("{e:#}") } else { e.to_string() };
            eprintln!("shipdeck: {}", sanitize(&text));
            cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}
