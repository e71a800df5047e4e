//! Writing a failure review: the facts it starts from, the editor round, and saving it as the
//! operator. The CLI (`shipdeck review`) and the dashboard (`w` in the drill-down) both go
//! through here, so a review is checked and recorded the same way wherever it is written.

use super::Operator;
use crate::config::Config;
use crate::domain::DeploymentKey;
use crate::domain::report::{Moment, Report};
use crate::domain::review::{self, Facts, ReviewContent, ReviewError, Rules};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::path::Path;

/// The facts a review starts from: the title, the timeline (without phase starts) and the
/// largest error groups, times in the display zone.
#[must_use]
pub fn facts(r: &Report, tz: chrono_tz::Tz) -> Facts {
    let d = &r.deployment;
    let mut context = vec![format!(
        "{} of {} hosts failed; requested by {}{}",
        d.failed,
        d.targets,
        d.requested_by,
        d.change_ref.as_ref().map_or(String::new(), |c| format!("; change {c}"))
    )];
    for e in r.timeline.iter().filter(|e| e.kind != Moment::PhaseStarted) {
        context.push(format!("{}  {}", crate::domain::time::at(e.at, tz), e.text));
    }
    for g in r.error_groups.iter().take(5) {
        context.push(format!("{} host(s) in {}: {}", g.hosts, g.steps.join(", "), g.pattern));
    }
    Facts { title: format!("{} {}@{} -> {} ({})", d.key, d.release, d.version, d.environment, d.status), context }
}

/// The review file to start from: the stored review if any, prefilled with the facts.
#[must_use]
pub fn template(report: &Report, config: &Config) -> String {
    review::template(
        &facts(report, config.timezone),
        report.review.as_ref().map(|r| &r.content),
        &config.reviews.cause_categories,
    )
}

/// The configured people's names, the owners an action may name.
#[must_use]
pub fn people(config: &Config) -> Vec<String> {
    config.people.iter().map(|p| p.name.clone()).collect()
}

/// Reads a review file under `config`'s categories and people.
pub fn parse(text: &str, config: &Config) -> Result<ReviewContent, ReviewError> {
    let people = people(config);
    review::parse(text, &Rules { categories: &config.reviews.cause_categories, people: &people })
}

/// What came back from the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// Closed without a change: nothing to save.
    Unchanged,
    Valid(ReviewContent, String),
    /// The text as written, and what is wrong with it.
    Invalid(ReviewError, String),
}

/// Opens the editor once on `text` (in a private temporary file) and reads back what it left.
pub fn edit_once(text: &str, config: &Config, key: DeploymentKey) -> Result<Edited, EditorError> {
    let dir = tempfile::Builder::new().prefix("shipdeck-review-").tempdir().map_err(EditorError::Io)?;
    let path = dir.path().join(format!("{key}.review.toml"));
    std::fs::write(&path, text).map_err(EditorError::Io)?;
    run_editor(&path)?;
    let after = std::fs::read_to_string(&path).map_err(EditorError::Io)?;
    if after == text {
        return Ok(Edited::Unchanged);
    }
    Ok(match parse(&after, config) {
        Ok(content) => Edited::Valid(content, after),
        Err(e) => Edited::Invalid(e, after),
    })
}

/// Keeps a review's text in a file that outlives this process, and returns its path.
pub fn keep(text: &str, key: DeploymentKey) -> std::io::Result<std::path::PathBuf> {
    let dir = tempfile::Builder::new().prefix("shipdeck-review-").tempdir()?.keep();
    let path = dir.join(format!("{key}.review.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The editor could not be run.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    #[error("cannot start the editor \"{editor}\": {source}")]
    Start { editor: String, source: std::io::Error },
    #[error("the editor \"{editor}\" failed ({status})")]
    Failed { editor: String, status: std::process::ExitStatus },
    #[error("cannot write the review file: {0}")]
    Io(std::io::Error),
}

/// Runs `$VISUAL`, else `$EDITOR`, else `vi` on `path`, through the shell so `code --wait` and
/// the like work, and waits for it.
pub fn run_editor(path: &Path) -> Result<(), EditorError> {
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
        .map_err(|source| EditorError::Start { editor: editor.clone(), source })?;
    if status.success() { Ok(()) } else { Err(EditorError::Failed { editor, status }) }
}

/// Why a review was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(
        "\"{0}\" is not a person of the log's team: set SHIPDECK_OPERATOR or `operator` to your name; nothing was written"
    )]
    NotAPerson(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves `content` (written as `text`) as the operator's review of `key`; returns what every
/// front end says about it.
pub fn save(
    store: &mut Store,
    who: &Operator,
    key: DeploymentKey,
    content: &ReviewContent,
    text: &str,
    now: DateTime<Utc>,
) -> Result<String, SaveError> {
    if !who.is_person() {
        return Err(SaveError::NotAPerson(who.name.clone()));
    }
    let completed = store.save_review(key, content, text, (&who.name, &who.os_user), now)?;
    let state = if completed { "completed" } else { content.state.as_str() };
    Ok(format!("review of {key} saved ({state}, {} action(s)) by {}", content.actions.len(), who.name))
}
