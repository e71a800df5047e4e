//! `shipdeck bench NAME [ARGS]`: the benchmarks live in their own binary, `shipdeck-bench`,
//! built only with `--features bench` so none of their code ships here. This command runs it
//! when it was built beside `shipdeck`, and otherwise says how to build it.

use super::usage;
use std::ffi::OsString;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The benchmark (ingest, latency, gates, dashboard, ...) and its options
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "BENCH")]
    args: Vec<OsString>,
}

pub fn run(a: &Args) -> anyhow::Result<i32> {
    let exe = std::env::current_exe()?.with_file_name(format!("shipdeck-bench{}", std::env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        return Err(usage(format!(
            "the benchmarks are a separate binary, not built here (no {}): run them with \
             `cargo build --release --features bench && target/release/shipdeck-bench {}`",
            exe.display(),
            a.args.first().map_or("--help".into(), |s| s.to_string_lossy())
        )));
    }
    let status = std::process::Command::new(&exe).args(&a.args).status()?;
    Ok(status.code().unwrap_or(1))
}
