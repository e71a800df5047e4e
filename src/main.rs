//! The `shipdeck` binary: parse the command line, run, map errors to exit codes.

use clap::Parser;
use shipdeck::cli;

fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args, shipdeck::clock::system()) {
        Ok(code) => code,
        Err(e) if cli::is_broken_pipe(&e) => 0,
        Err(e) => {
            if e.downcast_ref::<cli::Reported>().is_none() {
                eprintln!("shipdeck: {e:#}");
            } else {
                eprintln!("shipdeck: {e}");
            }
            cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}
