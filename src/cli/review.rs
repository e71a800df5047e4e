//! `shipdeck review`: write a failure review (in `$VISUAL`/`$EDITOR`, or from a file), list
//! reviews owed and open actions, and mark actions done.
//!
//! The review file is TOML with comments, prefilled with the facts of the deployment. A mistake
//! is shown with its line and the editor opens again on the text as written; the text is never
//! lost: when the author gives up, it stays in a file whose path is printed.

use super::history::Filters;
use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::history::{HistoryFilter, ReviewState};
use crate::domain::review::{self, Facts, ReviewContent, Rules};
use crate::store::Store;
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

/// The author: the operator, who must be a person of the log's team.
fn author(ctx: &Context) -> anyhow::Result<String> {
    let operator = ctx.operator_in(&ctx.open_log()?)?;
    if !operator.is_person() {
        return Err(Reported(format!(
            "\"{}\" is not a person of the log's team: set SHIPDECK_OPERATOR or `operator` to your name; nothing was written",
            operator.name
        ))
        .into());
    }
    Ok(operator.name)
}

fn people(ctx: &Context) -> Vec<String> {
    ctx.config.people.iter().map(|p| p.name.clone()).collect()
}

fn write(ctx: &Context, key: DeploymentKey, template_only: bool, file: Option<&Path>) -> anyhow::Result<i32> {
    let rule = ctx.config.review_rule();
    let categories = ctx.config.reviews.cause_categories.clone();
    let people = people(ctx);
    let rules = Rules { categories: &categories, people: &people };
    if template_only {
        let store = ctx.open_log()?;
        let report = store.report(key, &rule)?;
        print!(
            "{}",
            review::template(
                &facts(&report, ctx.config.timezone),
                report.review.as_ref().map(|r| &r.content),
                &categories
            )
        );
        return Ok(0);
    }
    let author = author(ctx)?;
    let mut store = ctx.open_log()?;
    let report = store.report(key, &rule)?;
    if report.review_state == ReviewState::NotNeeded && report.review.is_none() {
        esayln!("note: {key} owes no review ({}); writing one anyway", report.deployment.status);
    }
    let (content, text) = match file {
        Some(path) => {
            let text = super::read_input(path)?;
            let content = review::parse(&text, &rules)
                .map_err(|e| usage(format!("{}: {e}; nothing was written", path.display())))?;
            (content, text)
        }
        None => {
            let start = review::template(
                &facts(&report, ctx.config.timezone),
                report.review.as_ref().map(|r| &r.content),
                &categories,
            );
            match edit_until_valid(&start, &rules, &key.to_string())? {
                Some(done) => done,
                None => {
                    sayln!("review of {key} not changed; nothing was written");
                    return Ok(0);
                }
            }
        }
    };
    save(ctx, &mut store, key, &content, &text, &author)
}

fn save(
    ctx: &Context,
    store: &mut Store,
    key: DeploymentKey,
    content: &ReviewContent,
    text: &str,
    author: &str,
) -> anyhow::Result<i32> {
    let completed = store.save_review(key, content, text, author, ctx.clock.now())?;
    let actions = content.actions.len();
    let state = if completed { "completed" } else { content.state.as_str() };
    sayln!("review of {key} saved ({state}, {actions} action(s)) by {author}");
    Ok(0)
}

/// The facts a review starts from: the title, the timeline's decisions and the largest error
/// groups.
pub fn facts(r: &crate::domain::report::Report, tz: chrono_tz::Tz) -> Facts {
    let d = &r.deployment;
    let mut context = vec![format!(
        "{} of {} hosts failed; requested by {}{}",
        d.failed,
        d.targets,
        d.requested_by,
        d.change_ref.as_ref().map_or(String::new(), |c| format!("; change {c}"))
    )];
    for e in r.timeline.iter().filter(|e| e.kind != crate::domain::report::Moment::PhaseStarted) {
        context.push(format!("{}  {}", e.at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"), e.text));
    }
    for g in r.error_groups.iter().take(5) {
        context.push(format!("{} host(s) in {}: {}", g.hosts, g.steps.join(", "), g.pattern));
    }
    Facts { title: format!("{} {}@{} -> {} ({})", d.key, d.release, d.version, d.environment, d.status), context }
}

/// Opens the editor on `start` until the file is valid, unchanged (`None`), or the author gives
/// up — then the text is kept in a file and the error names it.
fn edit_until_valid(start: &str, rules: &Rules<'_>, key: &str) -> anyhow::Result<Option<(ReviewContent, String)>> {
    let dir = tempfile::Builder::new().prefix("shipdeck-review-").tempdir()?;
    let path = dir.path().join(format!("{key}.review.toml"));
    std::fs::write(&path, start)?;
    loop {
        run_editor(&path)?;
        let text = std::fs::read_to_string(&path)?;
        if text == start {
            return Ok(None);
        }
        match review::parse(&text, rules) {
            Ok(content) => return Ok(Some((content, text))),
            Err(e) => {
                let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
                esayln!("shipdeck: {}: {e}", path.display());
                if interactive && ask("edit again? [Y/n] ")? {
                    continue;
                }
                let kept = dir.keep().join(format!("{key}.review.toml"));
                return Err(usage(format!("{e}; your text is kept in {}", kept.display())));
            }
        }
    }
}

/// The editor: `$VISUAL`, else `$EDITOR`, else `vi`; run through the shell so `code --wait`
/// and the like work.
pub fn run_editor(path: &Path) -> anyhow::Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| usage(format!("cannot start the editor \"{editor}\": {e}")))?;
    if !status.success() {
        return Err(usage(format!("the editor \"{editor}\" failed ({status}); your text is in {}", path.display())));
    }
    Ok(())
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
                    a.deployment,
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
    let by = author(ctx)?;
    let mut store = ctx.open_log()?;
    store.set_action_done(key, n, done, &by, ctx.clock.now())?;
    sayln!("{key} action {n} marked {} by {by}", if done { "done" } else { "open" });
    Ok(0)
}
