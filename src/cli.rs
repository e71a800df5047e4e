//! The command line: global options, the subcommands, and how errors become exit codes.
//!
//! Exit codes are a contract (DESIGN.md): 0 success, 1 a failure the command reports, 2 a usage
//! or input error. Each subcommand lives in its own file as `run(ctx, args)`.

/// Writes one line of human-readable output through [`crate::domain::text::sanitize`], so text
/// from agents, the log or the config can never drive the terminal. JSON output does not use it.
macro_rules! outln {
    ($out:expr) => { writeln!($out) };
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, "{}", $crate::domain::text::sanitize(&format!($($arg)*)))
    };
}

/// [`outln!`] to stdout.
macro_rules! sayln {
    ($($arg:tt)*) => { println!("{}", $crate::domain::text::sanitize(&format!($($arg)*))) };
}

/// [`outln!`] to stderr.
macro_rules! esayln {
    ($($arg:tt)*) => { eprintln!("{}", $crate::domain::text::sanitize(&format!($($arg)*))) };
}

mod approve;
mod audit;
mod bench;
mod cancel;
mod check;
mod compare;
mod completions;
mod config_cmd;
mod conformance;
mod demo;
mod emit;
mod events;
mod freeze;
pub mod gate;
mod history;
mod ingest;
mod kpi;
mod list;
mod login;
mod model_review;
pub mod models;
mod notify;
mod plan;
mod remote;
mod report;
mod reschedule;
mod review;
mod schedule;
mod serve;
mod status;
mod status_at;
mod switch;
mod team;
mod token;

use crate::clock::SharedClock;
use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// shipdeck: watch and control deployments from the terminal.
#[derive(Debug, Parser)]
#[command(name = "shipdeck", version, about, propagate_version = true, after_help = ENVIRONMENT)]
pub struct Cli {
    /// The deployment log (SQLite file) [default: from config, else ~/.local/share/shipdeck/shipdeck.db; demo: a new temporary folder]
    #[arg(long, global = true, env = "SHIPDECK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The config file [default: ~/.config/shipdeck/shipdeck.toml when present, else built-in]
    #[arg(long, global = true, env = "SHIPDECK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Open the log read-only (at the SQLite level): the dashboard hides every action that
    /// writes, commands that write refuse, a log that needs a migration is reported
    #[arg(long, global = true)]
    pub read_only: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The environment variables, for `shipdeck --help` (the options name their own).
const ENVIRONMENT: &str = "Environment:
  SHIPDECK_DB        the deployment log, as --db
  SHIPDECK_CONFIG    the config file, as --config
  SHIPDECK_OPERATOR  who you are when you plan, approve, check or review (else the config's
                     `operator`, else your OS login); the team stored in the log says which
                     of your roles count (`shipdeck team show`)
  SHIPDECK_TOKEN     the receiver's API token, for serve, emit and gate wait --server";

/// Who a decision is recorded as, for the `--help` of every decision.
const DECIDER: &str = "You decide as SHIPDECK_OPERATOR, else the config's `operator`, else your OS login; the team \
stored in the log says which of your roles count (`shipdeck team show`). Every decision, refused \
ones too, is kept in the audit trail (`shipdeck audit list`).";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plan a deployment of a release into an environment, following a model
    Plan(plan::Args),
    /// Show a deployment and each of its phases and targets
    Status(status::Args),
    /// List a deployment's events
    Events(events::Args),
    /// List deployments, newest first
    List(list::Args),
    /// Run the agent event receiver (HTTP)
    Serve(serve::Args),
    /// Post one event to a receiver (for agents and pipelines)
    Emit(emit::Args),
    /// Import NDJSON events from a file (or - for stdin) straight into the log
    Ingest(ingest::Args),
    /// Check a config file, or print the built-in default one
    #[command(subcommand)]
    Config(config_cmd::Command),
    /// Open the dashboard (the default when no command is given)
    Tui(TuiArgs),
    /// A seeded log, the real receiver and simulated agents, on the dashboard
    Demo(demo::Args),
    /// Measure shipdeck on this machine (runs `shipdeck-bench`, built with --features bench)
    Bench(bench::Args),
    /// Approve a phase's gate
    #[command(after_help = DECIDER)]
    Approve(approve::ApproveArgs),
    /// Reject a phase's gate (halts the deployment)
    #[command(after_help = DECIDER)]
    Reject(approve::RejectArgs),
    /// Run a failed phase again
    #[command(after_help = DECIDER)]
    Retry(approve::RecoverArgs),
    /// Stop a deployment whose phase failed
    #[command(after_help = DECIDER)]
    Abort(approve::StopArgs),
    /// Roll back a deployment whose phase failed
    #[command(after_help = DECIDER)]
    Rollback(approve::StopArgs),
    /// Switch a parallel (blue/green) deployment's traffic to the new set, or back (--back)
    Switch(switch::Args),
    /// Wait for, show or list gates
    #[command(subcommand)]
    Gate(gate::Command),
    /// Tick a checklist item of a deployment (a recorded decision)
    #[command(after_help = DECIDER)]
    Check(check::Args),
    /// List conformance flags: what agents did that was not authorised
    Conformance(conformance::Args),
    /// Verify or list the audit trail of decisions
    #[command(subcommand)]
    Audit(audit::Command),
    /// Finished deployments, newest first, with filters
    History(history::Args),
    /// Write a failure review, list reviews owed and open actions, mark actions done
    Review(review::Args),
    /// The post-deployment report of a deployment, for the change record
    Report(report::Args),
    /// Two runs side by side: phases, step durations, failures, where they diverged
    Compare(compare::Args),
    /// Delivery KPIs of a period: frequency, success and change failure rates, recovery and lead time
    Kpi(kpi::Args),
    /// The team stored in the log, which decisions count: sync it from the config, or show it
    #[command(subcommand)]
    Team(team::Command),
    /// Per-person API tokens for the server: issue, list, revoke
    #[command(subcommand)]
    Token(token::Command),
    /// Keep your token for a server (checked with it first), so --server URL needs no --token
    Login(login::LoginArgs),
    /// Forget the token kept for a server
    Logout(login::LogoutArgs),
    /// Deployment models: test the phases a plan would produce, review how they did, their actions
    #[command(subcommand)]
    Models(models::Command),
    /// Move the planned start of a deployment that has not started
    Reschedule(reschedule::Args),
    /// Cancel a deployment that has not started
    Cancel(cancel::Args),
    /// Declare, end or list emergency freezes
    #[command(subcommand)]
    Freeze(freeze::Command),
    /// The change calendar: list it, find the next free slot, export it as iCalendar
    #[command(subcommand)]
    Schedule(schedule::Command),
    /// Deliveries of notifications: run the worker, list the outbox, retry, test a channel
    #[command(subcommand)]
    Notify(notify::Command),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) for shipdeck
    Completions(completions::Args),
    /// Print shipdeck's man page (roff): `shipdeck man > shipdeck.1`; `--dir D` writes a page per command
    Man(completions::ManArgs),
}

impl Command {
    /// The name of a command that writes to the log (refused under `--read-only`).
    fn writes(&self) -> Option<&'static str> {
        match self {
            Self::Plan(_) => Some("plan"),
            Self::Serve(_) => Some("serve"),
            Self::Ingest(_) => Some("ingest"),
            Self::Demo(_) => Some("demo"),
            Self::Approve(_) => Some("approve"),
            Self::Reject(_) => Some("reject"),
            Self::Retry(_) => Some("retry"),
            Self::Abort(_) => Some("abort"),
            Self::Rollback(_) => Some("rollback"),
            Self::Switch(_) => Some("switch"),
            Self::Review(a) if a.writes() => Some("review"),
            Self::Check(_) => Some("check"),
            Self::Team(team::Command::Sync) => Some("team sync"),
            Self::Reschedule(_) => Some("reschedule"),
            Self::Cancel(_) => Some("cancel"),
            Self::Freeze(c) if c.writes() => Some("freeze"),
            Self::Notify(c) if c.writes() => Some("notify"),
            Self::Models(c) if c.writes() => Some("models"),
            Self::Token(c) if c.writes() => Some("token"),
            Self::Status(_)
            | Self::Events(_)
            | Self::List(_)
            | Self::Emit(_)
            | Self::Config(_)
            | Self::Tui(_)
            | Self::Bench(_)
            | Self::Gate(_)
            | Self::Audit(_)
            | Self::History(_)
            | Self::Review(_)
            | Self::Report(_)
            | Self::Kpi(_)
            | Self::Compare(_)
            | Self::Conformance(_)
            | Self::Models(_)
            | Self::Token(_)
            | Self::Freeze(_)
            | Self::Schedule(_)
            | Self::Notify(_)
            | Self::Team(team::Command::Show { .. })
            | Self::Completions(_)
            | Self::Login(_)
            | Self::Logout(_)
            | Self::Man(_) => None,
        }
    }
}

/// Options of the dashboard.
#[derive(Debug, Default, clap::Args)]
pub struct TuiArgs {
    /// Show this receiver address in the header
    #[arg(long, value_name = "ADDR")]
    pub receiver: Option<String>,
    /// Run the dashboard's clock from this instant (RFC 3339) at real speed: a demo's log is on
    /// the demo's clock, ahead of yours (`shipdeck demo` prints the command with its time)
    #[arg(long, value_name = "TIME")]
    pub clock_from: Option<chrono::DateTime<chrono::Utc>>,
}

impl TuiArgs {
    /// The dashboard's clock: from `--clock-from` when given, else `default`.
    #[must_use]
    pub fn clock(&self, default: &SharedClock) -> SharedClock {
        self.clock_from.map_or_else(|| default.clone(), |t| std::sync::Arc::new(crate::clock::ScaledClock::new(t, 1.0)))
    }
}

/// What every command may need.
pub struct Context {
    pub config: Config,
    db_flag: Option<PathBuf>,
    pub clock: SharedClock,
    /// `--read-only`: the log is opened read-only and commands that write refuse.
    pub read_only: bool,
}

impl Context {
    /// The log path: --db / SHIPDECK_DB, else the config's `db`, else the XDG default.
    pub fn db_path(&self) -> anyhow::Result<PathBuf> {
        self.db_flag
            .clone()
            .or_else(|| self.config.db.clone())
            .or_else(crate::config::default_db_path)
            .ok_or_else(|| usage("cannot tell where the deployment log is: pass --db PATH or set SHIPDECK_DB"))
    }

    /// Opens the existing log for reading: read-only at the SQLite level under `--read-only`.
    pub fn open_log(&self) -> anyhow::Result<crate::store::Store> {
        let path = self.db_path()?;
        let mut store = if self.read_only {
            crate::store::Store::open_read_only(&path)?
        } else {
            crate::store::Store::open_to_read(&path)?
        };
        store.set_zone(self.config.timezone);
        Ok(store)
    }

    /// The operator under the team stored in `store` (see [`crate::decide::identity`]). When
    /// they are nobody the team knows, says so on stderr, once, before anything else.
    pub fn operator_in(&self, store: &crate::store::Store) -> anyhow::Result<crate::decide::Operator> {
        let operator = crate::decide::Operator::resolve(&self.config, store).map_err(|e| Reported(e.to_string()))?;
        if let Some(notice) = &operator.notice {
            esayln!("note: {notice}");
        }
        Ok(operator)
    }
}

/// An error in what the user asked for (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A usage or input error, as an `anyhow::Error`.
pub fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    UsageError(message.to_string()).into()
}

/// A failure the command reports (exit code 1) after printing what it has to say.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// Runs the parsed command line; the `Ok` value is the exit code.
pub fn run(cli: Cli, clock: SharedClock) -> anyhow::Result<i32> {
    // reqwest is built without a default crypto provider: every client (emit, gate wait, the
    // notification worker) uses the one rustls provider in the build. A second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `config check FILE` validates a file given to it, even if the configured one is broken;
    // completions and the man page need no config at all.
    match &cli.command {
        Some(Command::Config(cmd)) => return config_cmd::run(cmd, cli.config.as_deref()),
        Some(Command::Completions(a)) => return completions::completions(a),
        Some(Command::Man(a)) => return completions::man(a),
        Some(Command::Login(a)) => return login::login(a),
        Some(Command::Logout(a)) => return login::logout(a),
        _ => {}
    }
    let config = Config::load(cli.config.as_deref()).map_err(|e| usage(e.to_string()))?;
    if let Some(name) = cli.command.as_ref().and_then(Command::writes).filter(|_| cli.read_only) {
        return Err(usage(format!("`{name}` writes to the deployment log, and --read-only was given")));
    }
    let ctx = Context { config, db_flag: cli.db, clock, read_only: cli.read_only };
    match cli.command {
        None => dashboard(&ctx, &TuiArgs::default()),
        Some(Command::Tui(a)) => dashboard(&ctx, &a),
        Some(Command::Demo(a)) => demo::run(&ctx, ctx.db_flag.clone(), &a),
        Some(Command::Plan(a)) => plan::run(&ctx, &a),
        Some(Command::Status(a)) => status::run(&ctx, &a),
        Some(Command::Events(a)) => events::run(&ctx, &a),
        Some(Command::List(a)) => list::run(&ctx, &a),
        Some(Command::Serve(a)) => serve::run(&ctx, &a),
        Some(Command::Emit(a)) => emit::run(&ctx, &a),
        Some(Command::Ingest(a)) => ingest::run(&ctx, &a),
        Some(Command::Bench(a)) => bench::run(&a),
        Some(Command::Approve(a)) => approve::approve(&ctx, &a),
        Some(Command::Reject(a)) => approve::reject(&ctx, &a),
        Some(Command::Retry(a)) => approve::recover(&ctx, crate::domain::gate::Decision::Retry, &a),
        Some(Command::Abort(a)) => approve::stop(&ctx, crate::domain::gate::Decision::Abort, &a),
        Some(Command::Rollback(a)) => approve::stop(&ctx, crate::domain::gate::Decision::Rollback, &a),
        Some(Command::Switch(a)) => switch::run(&ctx, &a),
        Some(Command::Gate(c)) => gate::run(&ctx, &c),
        Some(Command::Audit(c)) => audit::run(&ctx, &c),
        Some(Command::Check(a)) => check::run(&ctx, &a),
        Some(Command::Conformance(a)) => conformance::run(&ctx, &a),
        Some(Command::History(a)) => history::run(&ctx, &a),
        Some(Command::Review(a)) => review::run(&ctx, &a),
        Some(Command::Report(a)) => report::run(&ctx, &a),
        Some(Command::Kpi(a)) => kpi::run(&ctx, &a),
        Some(Command::Compare(a)) => compare::run(&ctx, &a),
        Some(Command::Team(c)) => team::run(&ctx, &c),
        Some(Command::Token(c)) => token::run(&ctx, &c),
        Some(Command::Models(c)) => models::run(&ctx, &c),
        Some(Command::Reschedule(a)) => reschedule::run(&ctx, &a),
        Some(Command::Cancel(a)) => cancel::run(&ctx, &a),
        Some(Command::Freeze(c)) => freeze::run(&ctx, &c),
        Some(Command::Schedule(c)) => schedule::run(&ctx, &c),
        Some(Command::Notify(c)) => notify::run(&ctx, &c),
        Some(
            Command::Config(_) | Command::Completions(_) | Command::Man(_) | Command::Login(_) | Command::Logout(_),
        ) => unreachable!("handled above"),
    }
}

fn dashboard(ctx: &Context, args: &TuiArgs) -> anyhow::Result<i32> {
    let opts = crate::tui::TuiOptions {
        db: ctx.db_path()?,
        config: ctx.config.clone(),
        clock: args.clock(&ctx.clock),
        read_only: ctx.read_only,
        receiver: args.receiver.clone(),
        operator: ctx.operator_in(&ctx.open_log()?)?,
    };
    crate::runtime::build()?.block_on(crate::tui::run(opts))?;
    Ok(0)
}

/// The exit code for an error: 2 for usage and input errors, 1 otherwise.
#[must_use]
pub fn exit_code(err: &anyhow::Error) -> i32 {
    use crate::store::StoreError;
    if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<crate::config::ConfigError>().is_some()
        || err.downcast_ref::<crate::demo::LogExists>().is_some()
    {
        return 2;
    }
    match err.downcast_ref::<StoreError>() {
        Some(
            StoreError::Missing(_)
            | StoreError::UnknownDeployment(_)
            | StoreError::UnknownAction { .. }
            | StoreError::UnknownModelAction { .. }
            | StoreError::Plan(_)
            | StoreError::PlanPerson(_)
            | StoreError::TooNew { .. }
            | StoreError::Unusable { .. }
            | StoreError::Foreign { .. }
            | StoreError::NotWritable { .. }
            | StoreError::Damaged { .. }
            | StoreError::NeedsMigration { .. },
        ) => 2,
        // A log found damaged while reading it: the input is broken, not the command.
        Some(StoreError::Sql { source, .. })
            if matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            2
        }
        _ => 1,
    }
}

/// Whether an error is a closed stdout (e.g. `shipdeck events | head`): not a failure.
#[must_use]
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Reads a file argument, or stdin for `-`.
pub fn read_input(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read \"{}\": {e}", path.display())))
}
