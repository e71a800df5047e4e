//! `shipdeck completions SHELL` and `shipdeck man`: shell completions and the man page,
//! generated from the command line's own definition, so they can never disagree with it.

use super::Cli;
use clap::CommandFactory;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for a shell on stdout.
pub fn completions(args: &Args) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "shipdeck", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}

/// Prints the man page (roff) on stdout: `shipdeck man > shipdeck.1`.
pub fn man() -> anyhow::Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}
