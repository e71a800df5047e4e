//! `shipdeck review`: write a failure review (in `$VISUAL`/`$EDITOR`, or from a file), list
//! reviews owed and open actions, and mark actions done.
//!
//! The review file is TOML with comments, prefilled with the facts of the deployment. A mistake
//! is shown with its line and the editor opens again on the text as written; the text is never
//! lost: when the author gives up, it stays in a file whose path is printed.

use super::history::Filters;
use super::{Context, Reported, usage};
use crate::decide::review::{self as writing, Edited};
use crate::domain::DeploymentKey;
use crate::domain::history::{HistoryFilter, ReviewState};
use crate::domain::review::ReviewContent;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The deployment to review (DEP-<n>)
    key: Option<String>,
    /// Print the review file prefilled with the facts, and write nothing
    #[arg(long, conflicts_with = "file")]
    template: bool,
    /// Take the filled review from this file (- for stdin) instead of an editor
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Reviews and their state: owed, draft, complete
    List {
        /// Only reviews owed (not started)
        #[arg(long)]
        owed: bool,
        /// Only improvement actions not done yet, instead of reviews
        #[arg(long)]
        open_actions: bool,
        #[command(flatten)]
        filters: Filters,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Mark an improvement action done (or open again)
    Action {
        /// The deployment (DEP-<n>)
        key: String,
        /// The action's number in the review
        n: usize,
        /// Mark it done
        #[arg(long, required_unless_present = "open", conflicts_with = "open")]
        done: bool,
        /// Mark it open again
        #[arg(long)]
        open: bool,
    },
}

impl Args {
    /// Whether this invocation writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        !self.template && !matches!(self.command, Some(Command::List { .. }))
    }
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    match &args.command {
        Some(Command::List { owed, open_actions, filters, json }) => list(ctx, *owed, *open_actions, filters, *json),
        Some(Command::Action { key, n, done, open: _ }) => action(ctx, key, *n, *done),
        None => {
            let key =
                args.key.as_deref().ok_or_else(|| usage("name the deployment to review: shipdeck review DEP-<n>"))?;
            let key: DeploymentKey = key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
            write(ctx, key, args.template, args.file.as_deref())
        }
    }
}

fn write(ctx: &Context, key: DeploymentKey, template_only: bool, file: Option<&Path>) -> anyhow::Result<i32> {
    let rule = ctx.config.review_rule();
    if template_only {
        let store = ctx.open_log()?;
        // The template quotes agents' messages: shown through the same escapes, lines kept.
        let template = writing::template(&store.report(key, &rule)?, &ctx.config);
        print!("{}", crate::domain::text::sanitize_lines(&template));
        return Ok(0);
    }
    let mut store = ctx.open_log()?;
    // Who writes comes from the log's team, not from whoever runs the command.
    let operator = ctx.operator_in(&store)?;
    if !operator.is_person() {
        return Err(Reported(writing::SaveError::NotAPerson(operator.name).to_string()).into());
    }
    let report = store.report(key, &rule)?;
    if report.review_state == ReviewState::NotNeeded && report.review.is_none() {
        esayln!("note: {key} owes no review ({}); writing one anyway", report.deployment.status);
    }
    let (content, text) = match file {
        Some(path) => {
            let text = super::read_input(path)?;
            let content = writing::parse(&text, &ctx.config)
                .map_err(|e| usage(format!("{}: {e}; nothing was written", path.display())))?;
            (content, text)
        }
        None => match edit_until_valid(writing::template(&report, &ctx.config), ctx, key)? {
            Some(done) => done,
            None => {
                sayln!("review of {key} not changed; nothing was written");
                return Ok(0);
            }
        },
    };
    let said = writing::save(&mut store, &operator, key, &content, &text, ctx.clock.now()).map_err(|e| match e {
        writing::SaveError::Store(s) => anyhow::Error::from(s),
        other => Reported(other.to_string()).into(),
    })?;
    sayln!("{said}");
    Ok(0)
}

/// Opens the editor until the file is valid, unchanged (`None`), or the author gives up on a
/// mistake — then the text is kept in a file and the error names it.
fn edit_until_valid(
    mut text: String,
    ctx: &Context,
    key: DeploymentKey,
) -> anyhow::Result<Option<(ReviewContent, String)>> {
    loop {
        match writing::edit_once(&text, &ctx.config, key).map_err(|e| usage(e.to_string()))? {
            Edited::Unchanged => return Ok(None),
            Edited::Valid(content, written) => return Ok(Some((content, written))),
            Edited::Invalid(e, written) => {
                esayln!("shipdeck: {e}");
                let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
                if interactive && ask("edit again? [Y/n] ")? {
                    text = written;
                    continue;
                }
                let kept = writing::keep(&written, key)?;
                return Err(usage(format!("{e}; your text is kept in {}", kept.display())));
            }
        }
    }
}

fn ask(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(!line.trim().eq_ignore_ascii_case("n"))
}

fn list(ctx: &Context, owed: bool, open_actions: bool, filters: &Filters, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if open_actions {
        let actions = store.open_actions()?;
        let today = ctx.clock.now().with_timezone(&ctx.config.timezone).date_naive();
        if json {
            serde_json::to_writer_pretty(&mut out, &actions)?;
            writeln!(out)?;
        } else if actions.is_empty() {
            outln!(out, "no open improvement actions")?;
        } else {
            for a in &actions {
                let overdue = if a.action.due < today { "  OVERDUE" } else { "" };
                outln!(
                    out,
                    "{} #{}  due {}{overdue}  {}  {}",
                    a.of(),
                    a.n,
                    a.action.due,
                    a.action.owner,
                    a.action.text
                )?;
            }
        }
        out.flush()?;
        return Ok(0);
    }
    let mut filter: HistoryFilter = filters.to_filter(ctx)?;
    filter.reviews =
        if owed { vec![ReviewState::Owed] } else { vec![ReviewState::Owed, ReviewState::Draft, ReviewState::Complete] };
    let rule = ctx.config.review_rule();
    let now = ctx.clock.now();
    let rows = store.history(&filter, &rule, now, 0, store.history_count(&filter, &rule, now)?)?;
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        outln!(out, "{}", if owed { "no reviews owed" } else { "no reviews" })?;
    } else {
        for r in &rows {
            let owers = ctx.config.review_owers(&r.requested_by).join(", ");
            outln!(
                out,
                "{:<9} {:<9} {}@{} -> {} ({})  owed by {owers}",
                r.key.to_string(),
                r.review.as_str(),
                r.release,
                r.version,
                r.environment,
                r.result
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}

fn action(ctx: &Context, key: &str, n: usize, done: bool) -> anyhow::Result<i32> {
    let key: DeploymentKey = key.parse().map_err(|e: crate::domain::BadKey| usage(e.to_string()))?;
    let mut store = ctx.open_log()?;
    let operator = ctx.operator_in(&store)?;
    if !operator.is_person() {
        return Err(Reported(writing::SaveError::NotAPerson(operator.name).to_string()).into());
    }
    let by = operator.name;
    store.set_action_done(key, n, done, &by, ctx.clock.now())?;
    sayln!("{key} action {n} marked {} by {by}", if done { "done" } else { "open" });
    Ok(0)
}
