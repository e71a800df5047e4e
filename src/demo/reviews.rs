//! The failure reviews of the demo's past: most failed production deployments were reviewed
//! (complete, with improvement actions; some done, a few overdue), some reviews are drafts, and
//! the newest failures still owe one.
//!
//! A review is written as a person would: the review file (the same TOML template `shipdeck
//! review` opens) is filled, read back with the same parser, and saved as its author through
//! [`crate::decide::review::save`], as the CLI and the dashboard do; an action is marked done with [`Store::set_action_done`], as
//! `shipdeck review action KEY N --done` does.

use super::failures::Cause;
use super::history::Trend;
use super::rng::Rng;
use crate::config::Config;
use crate::decide::Operator;
use crate::domain::DeploymentKey;
use crate::domain::errors;
use crate::domain::review::{self, Action, Completion, Facts, ReviewContent, Rules};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// A past deployment that failed, as the history wrote it.
#[derive(Debug, Clone)]
pub struct Failed {
    pub key: DeploymentKey,
    pub service: &'static str,
    pub environment: &'static str,
    pub cause: Cause,
    pub requester: String,
    /// When it was rolled back or aborted.
    pub at: DateTime<Utc>,
}

/// What the reviews hold, for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seeded {
    pub complete: usize,
    pub drafts: usize,
    pub owed: usize,
    pub actions: usize,
    pub done: usize,
    pub overdue: usize,
}

/// Failures newer than this mostly still wait for their review.
const RECENT_DAYS: i64 = 14;

/// Writes the reviews of `failed` (oldest first) as of `now`.
pub fn seed(
    store: &mut Store,
    config: &Config,
    rng: &mut Rng,
    now: DateTime<Utc>,
    failed: &[Failed],
    trend: Trend,
) -> Result<Seeded, StoreError> {
    let rule = config.review_rule();
    let people: Vec<String> = config.people.iter().map(|p| p.name.clone()).collect();
    let categories = &config.reviews.cause_categories;
    let rules = Rules { categories, people: &people };
    let mut seeded = Seeded::default();
    let mut fix_written = false;
    for f in failed {
        let summary = store.summary(f.key)?;
        if !rule.owes(summary.status, f.environment, summary.started_at.is_some()) {
            continue;
        }
        // The trend's fix comes out of the first review of its failures, written in time.
        let fix = !fix_written && f.service == trend.service && f.cause == Cause::DiskFull;
        let recent = now - f.at < Duration::days(RECENT_DAYS);
        let roll = rng.range(0, 100);
        let state = match (fix, recent) {
            (true, _) => Some(Completion::Complete),
            (false, false) if roll < 65 => Some(Completion::Complete),
            (false, false) if roll < 80 => Some(Completion::Draft),
            (false, true) if roll < 25 => Some(Completion::Complete),
            (false, true) if roll < 50 => Some(Completion::Draft),
            _ => None,
        };
        let Some(state) = state else {
            seeded.owed += 1;
            continue;
        };
        let written = (f.at + Duration::hours(i64::try_from(rng.range(20, 72)).unwrap_or(24))).min(now);
        let mut content = content(f, state, written, &people, rng);
        if fix {
            content.actions = vec![Action {
                text: format!(
                    "Prune old releases on {} hosts before unpacking a new one (keep the last 3)",
                    trend.service
                ),
                owner: owner(&people, "lee"),
                due: (trend.fixed - Duration::days(2)).date_naive(),
                done: false,
            }];
        }
        // Written as a file and read back, as `shipdeck review KEY --file F` does; a config whose
        // categories or people do not fit the demo's reviews gets none.
        let facts = facts(store, f)?;
        let body = review::template(&facts, Some(&content), categories);
        let Ok(content) = review::parse(&body, &rules) else { continue };
        let author = if people.contains(&f.requester) { f.requester.clone() } else { owner(&people, "priya") };
        let who = Operator::named(config, &author, "shipdeck-demo");
        if crate::decide::review::save(store, &who, f.key, &content, &body, written).is_err() {
            continue;
        }
        match state {
            Completion::Complete => seeded.complete += 1,
            Completion::Draft => seeded.drafts += 1,
        }
        for (i, a) in content.actions.iter().enumerate() {
            seeded.actions += 1;
            let due = a.due.and_hms_opt(17, 0, 0).map_or(now, |t| t.and_utc());
            let done_at = if fix {
                Some(trend.fixed)
            } else if state == Completion::Complete && rng.chance(0.6) {
                Some(due - Duration::days(i64::try_from(rng.range(0, 5)).unwrap_or(0)))
            } else {
                None
            };
            match done_at.filter(|t| *t <= now && *t > written) {
                Some(t) => {
                    store.set_action_done(f.key, i + 1, true, &a.owner, t)?;
                    seeded.done += 1;
                }
                None if a.due < now.date_naive() => seeded.overdue += 1,
                None => {}
            }
        }
        fix_written |= fix;
    }
    Ok(seeded)
}

/// The facts a review file starts from, as the template shows them.
fn facts(store: &Store, f: &Failed) -> Result<Facts, StoreError> {
    let d = store.summary(f.key)?;
    let mut context = vec![format!("{} of {} hosts failed; requested by {}", d.failed, d.targets, d.requested_by)];
    for g in errors::group(&store.failures(f.key)?).iter().take(5) {
        context.push(format!("{} host(s) in {}: {}", g.hosts, g.steps.join(", "), g.pattern));
    }
    Ok(Facts { title: format!("{} {}@{} -> {} ({})", d.key, d.release, d.version, d.environment, d.status), context })
}

/// `preferred` when the config has that person, else its first person.
fn owner(people: &[String], preferred: &str) -> String {
    people.iter().find(|p| *p == preferred).or(people.first()).cloned().unwrap_or_default()
}

/// What reviewers find about a cause: its category, story and the actions they propose (text,
/// preferred owner).
struct Story {
    category: &'static str,
    summary: String,
    root_cause: String,
    factors: [&'static str; 2],
    lessons: &'static str,
    actions: [(String, &'static str); 2],
}

/// What the reviewers wrote about a failure of this cause.
fn content(f: &Failed, state: Completion, written: DateTime<Utc>, people: &[String], rng: &mut Rng) -> ReviewContent {
    let s = f.service;
    let story = |category, summary, root_cause: &str, factors, lessons, actions| Story {
        category,
        summary,
        root_cause: root_cause.to_owned(),
        factors,
        lessons,
        actions,
    };
    let Story { category, summary, root_cause, factors, lessons, actions } = match f.cause {
        Cause::DiskFull => story(
            "capacity",
            format!("{s} hosts ran out of disk while unpacking the release"),
            "Every release is unpacked beside the previous ones and none is ever removed; /var/lib filled up on the busiest hosts.",
            ["no disk-space check before the install step", "the hosts' disks were sized for 5 releases"],
            "Housekeeping of old releases is part of the deployment model, not of a ticket after the fact.",
            [
                (format!("Alert when free disk under /var/lib/{s} falls below 20%"), "lee"),
                ("Add a free-space check to the pre-deployment checklist".into(), "dana"),
            ],
        ),
        Cause::DatabaseRefused => story(
            "dependency",
            format!("{s} could not reach its database after the switch and failed its health checks"),
            "The database's connection limit was reached by the old and the new release at once during the switch.",
            ["connection pools sized for one release at a time", "no check of the database before the phase"],
            "A phase that doubles connections needs the database's headroom checked first.",
            [
                (format!("Cap {s}'s connection pool at half the database's limit during rollouts"), "priya"),
                ("Check database reachability and headroom from every target before each phase".into(), "omar"),
            ],
        ),
        Cause::HealthTimeout => story(
            "configuration",
            format!("{s} took longer to start than its health check waits, and was marked failed"),
            "Cold caches make the first start take 2-3 minutes; the health check gives up after 30-120 s.",
            ["start period not updated after the cache was added", "the canary ran on warm hosts"],
            "Health-check timings belong to the release, reviewed when start-up work changes.",
            [
                (format!("Raise {s}'s health-check start period to 180 s"), "lee"),
                (format!("Warm {s}'s caches before it takes traffic"), "priya"),
            ],
        ),
        Cause::DependencyConflict => story(
            "dependency",
            format!("{s}'s package needs a newer system library than the hosts have"),
            "The build image was upgraded; the production base image was not, so the package's dependency could not be met.",
            ["staging runs the newer base image", "the dependency check runs only at install time"],
            "Staging must run the production base image, or it tests another system.",
            [
                ("Run the dependency check in CI against the production base image".into(), "sam"),
                ("Rebuild staging from the production base image".into(), "omar"),
            ],
        ),
        Cause::PermissionDenied => story(
            "configuration",
            format!("the agent could not read {s}'s files after the config management run changed their owner"),
            "A configuration management change made the files root-only; the agent runs as the deploy user.",
            ["two tools own the same files", "no permission check in the pre-deployment checklist"],
            "Each file has one owner: the deployment or configuration management, never both.",
            [
                (format!("Ship {s}'s config files with the deploy group (0640 root:deploy)"), "sam"),
                ("Move the TLS config out of configuration management into the release".into(), "omar"),
            ],
        ),
        Cause::ChecksumMismatch => story(
            "process",
            format!("the artifact of {s} in the repository was replaced after it was tested"),
            "A re-run of the release pipeline uploaded a rebuilt artifact under the same version.",
            ["the repository allows overwriting a released version", "the pipeline was re-run by hand"],
            "A released version is immutable; a rebuild is a new version.",
            [
                ("Make the artifact repository refuse overwrites of released versions".into(), "sam"),
                ("Document how to re-run a release pipeline without re-uploading".into(), "dana"),
            ],
        ),
        Cause::SmokeTest => story(
            "code",
            format!("{s}'s checkout smoke test failed: a null cart after the session format change"),
            "The new release could not read sessions written by the old one; the smoke test used a fresh session.",
            ["no test with sessions of the previous release", "the change was not flagged as a data format change"],
            "Rollouts that change a stored format need a test against data of the previous release.",
            [
                ("Add a smoke test that reuses a session of the previous release".into(), "priya"),
                ("Flag data format changes in the change record".into(), "omar"),
            ],
        ),
    };
    let complete = state == Completion::Complete;
    let how_many = if complete { usize::try_from(rng.range(1, 3)).unwrap_or(1) } else { usize::from(rng.chance(0.5)) };
    let actions = actions
        .into_iter()
        .take(how_many)
        .map(|(text, who)| Action {
            text,
            owner: owner(people, who),
            due: (written + Duration::days(i64::try_from(rng.range(7, 29)).unwrap_or(14))).date_naive(),
            done: false,
        })
        .collect();
    let impact = format!(
        "{} deployment to {} stopped and {}; no customer-facing outage beyond the failed hosts' share of traffic.",
        s,
        f.environment,
        if rng.chance(0.5) { "rolled back within the hour" } else { "halted until the cause was understood" }
    );
    ReviewContent {
        state,
        summary,
        impact: if complete || rng.chance(0.5) { impact } else { String::new() },
        cause_category: category.to_owned(),
        root_cause: if complete { root_cause } else { String::new() },
        contributing_factors: if complete { factors.map(String::from).to_vec() } else { Vec::new() },
        lessons: if complete { lessons.to_owned() } else { String::new() },
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::super::history;
    use super::*;
    use crate::domain::history::{HistoryFilter, ReviewState};

    /// The demo's seeded past, as `shipdeck demo` writes it (default size and seed).
    fn seeded() -> (tempfile::TempDir, Store, history::Seeded, DateTime<Utc>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("demo.db")).expect("opens");
        let config = Config::built_in();
        let now = DateTime::parse_from_rfc3339("2026-11-26T18:00:00Z").expect("valid").with_timezone(&Utc);
        let seed_by = crate::store::SyncBy::Seed { os_user: "test" };
        store.sync_team(&config.team(), &config.subscriptions(), seed_by, now - Duration::days(100)).expect("team");
        let seeded = history::seed(&mut store, &config, &mut Rng::seeded(42), now, 300).expect("seeds");
        (dir, store, seeded, now)
    }

    #[test]
    fn the_demo_history_is_worth_reviewing_groups_reviews_actions_and_a_trend() {
        let (_dir, store, seeded, now) = seeded();
        let config = Config::built_in();
        let rule = config.review_rule();
        let rows = |reviews: Vec<ReviewState>| {
            let filter = HistoryFilter { reviews, ..HistoryFilter::default() };
            store.history(&filter, &rule, now, 0, 1_000).expect("history")
        };

        // Failures hit several hosts with one cause: error groups have counts.
        let failed = rows(vec![ReviewState::Owed, ReviewState::Draft, ReviewState::Complete]);
        assert!(failed.len() >= 15, "{} failed production deployments", failed.len());
        let groups: Vec<_> =
            failed.iter().flat_map(|r| errors::group(&store.failures(r.key).expect("failures"))).collect();
        let big = groups.iter().filter(|g| g.count > 1).count();
        assert!(big * 2 > failed.len(), "most failures should have a group of several hosts: {groups:#?}");
        let patterns: std::collections::BTreeSet<&str> = groups.iter().map(|g| g.pattern.as_str()).collect();
        for words in ["No space left on device", "connection refused", "health check timed out", "permission denied"] {
            assert!(patterns.iter().any(|p| p.contains(words)), "no group of {words:?}: {patterns:#?}");
        }

        // Reviews in every state, as counted.
        let complete = rows(vec![ReviewState::Complete]);
        let drafts = rows(vec![ReviewState::Draft]);
        let owed = rows(vec![ReviewState::Owed]);
        assert_eq!(
            (complete.len(), drafts.len(), owed.len()),
            (seeded.reviews.complete, seeded.reviews.drafts, seeded.reviews.owed)
        );
        assert!(complete.len() >= 5 && !drafts.is_empty() && owed.len() >= 2, "{:?}", seeded.reviews);
        let review = store.review(complete[0].key).expect("reads").expect("a review");
        assert!(!review.content.root_cause.is_empty() && !review.content.actions.is_empty(), "{review:?}");

        // Actions: some done, a few past their due date and still open.
        let today = now.date_naive();
        let open = store.open_actions().expect("actions");
        let overdue = open.iter().filter(|a| a.action.due < today).count();
        assert!(overdue >= 1 && overdue == seeded.reviews.overdue, "{open:#?}");
        assert!(seeded.reviews.done >= 3, "{:?}", seeded.reviews);

        // The trend: checkout-web's production disks filled up until old releases were pruned,
        // and never since.
        let web = HistoryFilter { service: Some("checkout-web".into()), ..HistoryFilter::default() };
        let mut before = 0;
        let mut prune_done = None;
        for r in store.history(&web, &rule, now, 0, 1_000).expect("history") {
            let disk_full = store
                .failures(r.key)
                .expect("failures")
                .iter()
                .any(|f| f.message.starts_with("No space left on device"));
            let fixed = now - Duration::days(40);
            if disk_full && r.environment != "staging" {
                assert!(r.started_at.is_some_and(|t| t < fixed), "{} failed for disk after the fix", r.key);
                before += 1;
            }
            for a in store.actions_of(r.key).expect("actions") {
                if a.action.text.starts_with("Prune old releases") {
                    prune_done = a.done_at;
                }
            }
        }
        assert!(before >= 3, "{before} disk-full failures before the fix");
        assert_eq!(prune_done, Some(now - Duration::days(40)));
    }
}
