//! Failure reviews: what failed, why, what was learnt, and the improvement actions that follow.
//!
//! A review is written as a TOML file with comments (the language of the config), in an editor
//! or by a script: [`template`] prefills one with the facts of the deployment, [`parse`] reads a
//! filled one back and names the line of any mistake, so the text the author wrote is never lost
//! to a vague error.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A review's state: a draft may be incomplete; a complete review has every section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    Draft,
    Complete,
}

impl Completion {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Complete => "complete",
        }
    }
}

/// An improvement action: who does what by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub text: String,
    /// A configured person.
    pub owner: String,
    pub due: NaiveDate,
    #[serde(default)]
    pub done: bool,
}

/// The content of a review, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewContent {
    pub state: Completion,
    pub summary: String,
    pub impact: String,
    /// One of the configured root-cause categories.
    pub cause_category: String,
    pub root_cause: String,
    pub contributing_factors: Vec<String>,
    pub lessons: String,
    pub actions: Vec<Action>,
}

/// A stored review with who wrote it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    #[serde(flatten)]
    pub content: ReviewContent,
    pub authors: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// How many times it was saved (each save is kept).
    pub revisions: usize,
}

/// What the template shows of a deployment, for the author to start from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub title: String,
    /// Lines of context (timeline summary, error groups), shown as comments.
    pub context: Vec<String>,
}

/// What a review file must respect.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub categories: &'a [String],
    pub people: &'a [String],
}

/// A mistake in a review file, with the line it is on when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map_or(String::new(), |l| format!("line {l}: ")))]
pub struct ReviewError {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    state: Option<Completion>,
    summary: Option<String>,
    #[serde(default)]
    impact: String,
    cause_category: Option<String>,
    #[serde(default)]
    root_cause: String,
    #[serde(default)]
    contributing_factors: Vec<String>,
    #[serde(default)]
    lessons: String,
    #[serde(default)]
    actions: Vec<FileAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAction {
    text: Option<String>,
    owner: Option<String>,
    due: Option<toml::Value>,
    #[serde(default)]
    done: bool,
}

/// Reads a filled review file. Required always: `summary`, `cause_category` (a configured one);
/// actions need text, an owner who is a configured person and a due date. A `complete` review
/// also needs `impact`, `root_cause` and `lessons`.
pub fn parse(text: &str, rules: &Rules<'_>) -> Result<ReviewContent, ReviewError> {
    let file: File = toml::from_str(text).map_err(|e| ReviewError {
        line: e.span().map(|s| line_at(text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let err = |key: &str, message: String| ReviewError { line: line_of_key(text, key), message };
    let state = file.state.unwrap_or(Completion::Draft);
    let summary = file.summary.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let summary = summary.ok_or_else(|| err("summary", "\"summary\" is required: one line on what happened".into()))?;
    let category = file.cause_category.map(|c| c.trim().to_owned()).unwrap_or_default();
    if !rules.categories.contains(&category) {
        let what = if category.is_empty() { "is required".to_owned() } else { format!("\"{category}\" is unknown") };
        return Err(err(
            "cause_category",
            format!("cause_category {what}; choose one of: {}", rules.categories.join(", ")),
        ));
    }
    if state == Completion::Complete {
        for (key, value) in [("impact", &file.impact), ("root_cause", &file.root_cause), ("lessons", &file.lessons)] {
            if value.trim().is_empty() {
                return Err(err(key, format!("a complete review needs \"{key}\" (or set state = \"draft\")")));
            }
        }
    }
    let mut actions = Vec::with_capacity(file.actions.len());
    for (i, a) in file.actions.into_iter().enumerate() {
        let n = i + 1;
        let line = nth_table_line(text, "actions", i);
        let at = |message: String| ReviewError { line, message: format!("action {n}: {message}") };
        let text = a.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let text = text.ok_or_else(|| at("\"text\" is required".into()))?;
        let owner = a.owner.map(|o| o.trim().to_owned()).unwrap_or_default();
        if !rules.people.contains(&owner) {
            let what = if owner.is_empty() {
                "is required".to_owned()
            } else {
                format!("\"{owner}\" is no configured person")
            };
            return Err(at(format!("owner {what}; people: {}", rules.people.join(", "))));
        }
        let due = match a.due {
            Some(toml::Value::Datetime(d)) => d.to_string(),
            Some(toml::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => return Err(at("\"due\" is required (YYYY-MM-DD)".into())),
        };
        let due = NaiveDate::parse_from_str(due.trim(), "%Y-%m-%d")
            .map_err(|_| at(format!("due date \"{due}\" is not a date (YYYY-MM-DD)")))?;
        actions.push(Action { text, owner, due, done: a.done });
    }
    Ok(ReviewContent {
        state,
        summary,
        impact: file.impact.trim().to_owned(),
        cause_category: category,
        root_cause: file.root_cause.trim().to_owned(),
        contributing_factors: file.contributing_factors.into_iter().map(|f| f.trim().to_owned()).collect(),
        lessons: file.lessons.trim().to_owned(),
        actions,
    })
}

/// A review file prefilled with the facts (as comments) and the current content, if any.
#[must_use]
pub fn template(facts: &Facts, current: Option<&ReviewContent>, categories: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Failure review: {}", one_line(&facts.title));
    t.push_str("# Lines starting with # are comments; the facts below are for reference and not read back.\n");
    for line in &facts.context {
        let _ = writeln!(t, "#   {}", one_line(line));
    }
    t.push_str("#\n# Save and close the editor to store the review; close it without changes to cancel.\n\n");
    let c = current;
    t.push_str("# draft: work in progress; complete: every section filled, recorded in the audit trail.\n");
    let _ = writeln!(t, "state = \"{}\"", c.map_or("draft", |c| c.state.as_str()));
    t.push_str("# What happened, in one line.\n");
    let _ = writeln!(t, "summary = {}", quote(c.map_or("", |c| &c.summary)));
    t.push_str("# Who and what was affected, for how long.\n");
    let _ = writeln!(t, "impact = {}", quote(c.map_or("", |c| &c.impact)));
    let _ = writeln!(t, "# One of: {}.", categories.join(", "));
    let _ = writeln!(t, "cause_category = {}", quote(c.map_or("", |c| &c.cause_category)));
    let _ = writeln!(t, "root_cause = {}", quote(c.map_or("", |c| &c.root_cause)));
    let factors: Vec<String> = c.map(|c| c.contributing_factors.iter().map(|f| quote(f)).collect()).unwrap_or_default();
    let _ = writeln!(t, "contributing_factors = [{}]", factors.join(", "));
    t.push_str("# What we learnt.\n");
    let _ = writeln!(t, "lessons = {}", quote(c.map_or("", |c| &c.lessons)));
    t.push_str("\n# Improvement actions: one [[actions]] table each; owner is a configured person.\n");
    match c.map(|c| c.actions.as_slice()).filter(|a| !a.is_empty()) {
        Some(actions) => {
            for a in actions {
                let _ = writeln!(
                    t,
                    "\n[[actions]]\ntext = {}\nowner = {}\ndue = {}\ndone = {}",
                    quote(&a.text),
                    quote(&a.owner),
                    a.due.format("%Y-%m-%d"),
                    a.done
                );
            }
        }
        None => t.push_str("# [[actions]]\n# text = \"Alert on free disk below 20% before deploying\"\n# owner = \"sam\"\n# due = 2026-12-31\n"),
    }
    t
}

/// A TOML basic string (escapes quotes, backslashes and control characters).
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn one_line(s: &str) -> String {
    super::text::sanitize(&s.replace(['\n', '\r'], " ")).into_owned()
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `key = ` is set at the top level, if any.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The line of the `n`th (0-based) `[[name]]` table header.
fn nth_table_line(text: &str, name: &str, n: usize) -> Option<usize> {
    let header = format!("[[{name}]]");
    text.lines().enumerate().filter(|(_, l)| l.trim() == header).nth(n).map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> (Vec<String>, Vec<String>) {
        (
            ["code", "configuration", "infrastructure", "capacity"].map(String::from).to_vec(),
            ["dana", "sam"].map(String::from).to_vec(),
        )
    }

    fn facts() -> Facts {
        Facts {
            title: "DEP-7 payments-api@2.5.0 -> production (rolled back)".into(),
            context: vec!["largest error group: No space left on device (free <n> MB) x30".into()],
        }
    }

    #[test]
    fn a_filled_template_round_trips() {
        let (categories, people) = rules();
        let content = ReviewContent {
            state: Completion::Complete,
            summary: "Disk full on \"wave-1\" hosts".into(),
            impact: "Checkout degraded for 12 minutes".into(),
            cause_category: "capacity".into(),
            root_cause: "Old releases were never pruned\nfrom /srv".into(),
            contributing_factors: vec!["no disk alert".into(), "pilot hosts were fresh".into()],
            lessons: "Check free space before download".into(),
            actions: vec![Action {
                text: "Prune releases".into(),
                owner: "sam".into(),
                due: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
                done: false,
            }],
        };
        let text = template(&facts(), Some(&content), &categories);
        assert!(text.contains("# Failure review: DEP-7"), "{text}");
        assert!(text.contains("#   largest error group"), "{text}");
        let back = parse(&text, &Rules { categories: &categories, people: &people }).expect("parses");
        assert_eq!(back, content);
    }

    #[test]
    fn the_empty_template_asks_for_a_summary() {
        let (categories, people) = rules();
        let text = template(&facts(), None, &categories);
        let err = parse(&text, &Rules { categories: &categories, people: &people }).expect_err("empty");
        assert!(err.message.contains("\"summary\" is required"), "{err}");
        let line = err.line.expect("a line");
        assert!(text.lines().nth(line - 1).expect("line").starts_with("summary"), "{err}");
    }

    #[test]
    fn mistakes_name_the_value_and_the_line() {
        let (categories, people) = rules();
        let rules = Rules { categories: &categories, people: &people };
        let err = parse("summary = \"x\"\ncause_category = \"gremlins\"\n", &rules).expect_err("category");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("\"gremlins\" is unknown") && err.message.contains("capacity"), "{err}");

        let action = "summary = \"x\"\ncause_category = \"code\"\n\n[[actions]]\ntext = \"a\"\nowner = \"dana\"\ndue = 2026-12-01\n\n[[actions]]\ntext = \"b\"\nowner = \"ghost\"\ndue = 2026-12-01\n";
        let err = parse(action, &rules).expect_err("owner");
        assert_eq!(err.line, Some(9));
        assert!(err.message.starts_with("action 2: owner \"ghost\" is no configured person"), "{err}");

        let due = "summary = \"x\"\ncause_category = \"code\"\n[[actions]]\ntext = \"a\"\nowner = \"dana\"\ndue = \"next week\"\n";
        let err = parse(due, &rules).expect_err("due");
        assert!(err.message.contains("due date \"next week\" is not a date"), "{err}");

        let complete = "state = \"complete\"\nsummary = \"x\"\ncause_category = \"code\"\nimpact = \"\"\n";
        let err = parse(complete, &rules).expect_err("complete");
        assert_eq!(err.line, Some(4));
        assert!(err.message.contains("\"impact\""), "{err}");

        let syntax = "summary = \"x\ncause_category = \"code\"\n";
        let err = parse(syntax, &rules).expect_err("syntax");
        assert_eq!(err.line, Some(1), "{err}");

        let unknown = "summary = \"x\"\ncause_category = \"code\"\nroot_cause_text = \"y\"\n";
        let err = parse(unknown, &rules).expect_err("unknown key");
        assert!(err.message.contains("root_cause_text"), "{err}");
    }
}
