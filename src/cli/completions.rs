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

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write a page per command into this directory (shipdeck.1, shipdeck-plan.1, ...), each
    /// with that command's options, instead of printing shipdeck.1
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

/// Prints the man page (roff) on stdout: `shipdeck man > shipdeck.1`; with `--dir`, writes one
/// page per command and subcommand there, the way git's pages are split.
pub fn man(args: &ManArgs) -> anyhow::Result<i32> {
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            return Err(super::usage(format!("--dir {}: not a directory", dir.display())));
        }
        clap_mangen::generate_to(Cli::command(), dir)
            .map_err(|e| anyhow::anyhow!("writing the man pages into {}: {e}", dir.display()))?;
        return Ok(0);
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}
