//! One serde struct per section of the config file, and the checks that span sections.

use super::Config;
use crate::domain::DeploymentModel;
use crate::domain::duration;
use crate::domain::schedule::{ChangeWindow, Freeze, WindowTimes};
use crate::domain::team::IdentityMode;
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[receiver]`: the agent API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverConfig {
    /// Address `shipdeck serve` listens on.
    pub listen: String,
    /// Bearer token agents must send; prefer `token_env` so the secret stays out of the file.
    pub token: Option<String>,
    /// Environment variable that holds the token.
    pub token_env: String,
    /// A request body must arrive completely within this time, or the request gets 408.
    #[serde(with = "duration::serde_text")]
    pub body_timeout: TimeDelta,
    /// A connection that sends no request (idle keep-alive, slow headers) is closed after this.
    #[serde(with = "duration::serde_text")]
    pub idle_timeout: TimeDelta,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// How far an event's `at` may lie in the future, and before its deployment was planned.
    #[serde(with = "duration::serde_text")]
    pub clock_skew: TimeDelta,
    /// Who may read `GET /metrics`.
    pub metrics: MetricsAccess,
    /// The Ed25519 key file (PKCS#8) `shipdeck serve` signs audit records with; `--signing-key`
    /// wins over it.
    pub signing_key: Option<std::path::PathBuf>,
}

/// `receiver.metrics`: who may scrape `GET /metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// The token rules of the rest of the API.
    #[default]
    Token,
    /// Anyone who can connect, token or not (a scraper on a private network).
    Open,
    /// Not served (404).
    Off,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7480".into(),
            token: None,
            token_env: "SHIPDECK_TOKEN".into(),
            body_timeout: TimeDelta::seconds(30),
            idle_timeout: TimeDelta::seconds(60),
            max_connections: 4096,
            clock_skew: crate::domain::event::DEFAULT_CLOCK_SKEW,
            metrics: MetricsAccess::Token,
            signing_key: None,
        }
    }
}

impl ReceiverConfig {
    /// The token in force: the environment variable named by `token_env`, else `token`.
    ///
    /// Surrounding whitespace is not part of a token (a trailing newline from a secrets file
    /// would otherwise make it impossible to match); clients trim theirs the same way.
    #[must_use]
    pub fn resolved_token(&self) -> Option<String> {
        std::env::var(&self.token_env)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .or_else(|| self.token.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned))
    }
}

/// `[dashboard]`: how the terminal dashboard looks and behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// A target whose agent sent nothing for this long is shown as silent.
    #[serde(with = "duration::serde_text")]
    pub silent_after: TimeDelta,
    /// `default` or `mono` (no colours; `NO_COLOR` forces it).
    pub theme: String,
    /// Key rebindings: action name to key, e.g. `approve = "A"`.
    pub keys: BTreeMap<String, String>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self { silent_after: TimeDelta::minutes(2), theme: "default".into(), keys: BTreeMap::new() }
    }
}

/// `[team]`: who may change the team stored in the log, and who may plan for someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamConfig {
    /// Roles that may replace the log's team with `shipdeck team sync`.
    pub admin_roles: Vec<String>,
    /// Roles that may plan on behalf of someone else (`plan --requested-by NAME`).
    pub plan_for_others: Vec<String>,
}

impl Default for TeamConfig {
    fn default() -> Self {
        Self { admin_roles: vec!["deployment_manager".into()], plan_for_others: vec!["deployment_manager".into()] }
    }
}

/// `[[people]]`: someone who may plan, approve or be notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// OS login name, to recognise the operator when no name is configured.
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// The person's time zone (IANA name), for their quiet hours; default: `timezone`.
    #[serde(default)]
    pub zone: Option<String>,
}

/// `[[environments]]`: a place deployments go to. Nothing may name an environment that is not
/// declared, so a typo (`prod` for `production`) cannot slip past windows and freezes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    /// Whether it counts as production.
    #[serde(default)]
    pub production: bool,
    /// The most deployments that may run in it at once (more is a schedule conflict).
    #[serde(default)]
    pub max_concurrent: Option<u32>,
}

/// `[[stakeholders]]`: who hears about what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stakeholder {
    pub name: String,
    /// People by name.
    #[serde(default)]
    pub people: Vec<String>,
    /// Everyone with one of these roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Environments they care about; empty means all.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Services (release names) they care about; empty means all.
    #[serde(default)]
    pub services: Vec<String>,
    /// Happenings they are told about (see [`NOTIFY_KINDS`]).
    #[serde(default)]
    pub notify_on: Vec<String>,
    /// Channels that carry them besides `in_app` (names of `[channels.NAME]`).
    #[serde(default)]
    pub channels: Vec<String>,
    /// `HH:MM-HH:MM` in each person's zone: non-urgent deliveries wait for its end.
    #[serde(default)]
    pub quiet_hours: Option<String>,
    /// A period (`15m`): deliveries are collected per person and channel into one per period.
    #[serde(default)]
    pub digest: Option<String>,
}

/// Happenings a stakeholder can subscribe to. `deployment_finished` stands for the four ways a
/// deployment ends (succeeded, failed, aborted, rolled back), which may also be named alone.
pub const NOTIFY_KINDS: [&str; 15] = [
    "deployment_planned",
    "start_approaching",
    "deployment_started",
    "gate_pending",
    "gate_decided",
    "budget_nearly_used",
    "phase_failed",
    "hosts_silent",
    "deployment_finished",
    "deployment_succeeded",
    "deployment_failed",
    "deployment_aborted",
    "deployment_rolled_back",
    "conformance_flag",
    "schedule_changed",
];

/// `[[windows]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    name: String,
    #[serde(default)]
    environments: Vec<String>,
    zone: Option<String>,
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    from: Option<String>,
    until: Option<String>,
}

/// `[[freezes]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFreeze {
    name: String,
    #[serde(default)]
    environments: Vec<String>,
    zone: Option<String>,
    /// One-off: both instants.
    from: Option<String>,
    until: Option<String>,
    /// Weekly: days + start + end, like a weekly window.
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    /// Yearly: `MM-DD` or `MM-DDTHH:MM`, every year.
    yearly_from: Option<String>,
    yearly_until: Option<String>,
    #[serde(default)]
    reason: String,
}

/// The file as written, before cross-section checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    identity: IdentityMode,
    #[serde(default)]
    team: TeamConfig,
    #[serde(default = "utc")]
    timezone: String,
    #[serde(default)]
    db: Option<PathBuf>,
    #[serde(default)]
    receiver: ReceiverConfig,
    #[serde(default)]
    dashboard: DashboardConfig,
    #[serde(default)]
    environments: Vec<Environment>,
    #[serde(default)]
    people: Vec<Person>,
    #[serde(default)]
    stakeholders: Vec<Stakeholder>,
    #[serde(default)]
    models: BTreeMap<String, DeploymentModel>,
    #[serde(default)]
    windows: Vec<RawWindow>,
    #[serde(default)]
    freezes: Vec<RawFreeze>,
    #[serde(default)]
    reviews: super::ReviewsConfig,
    #[serde(default)]
    schedule: super::ScheduleConfig,
    #[serde(default)]
    notify: super::NotifyConfig,
    #[serde(default)]
    channels: BTreeMap<String, super::ChannelConfig>,
    #[serde(default)]
    inventories: Vec<Inventory>,
}

/// A named inventory file (`plan --inventory NAME`): targets with labels, CSV or TOML (or one
/// host per line). A relative path is relative to the config file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub name: String,
    pub path: PathBuf,
}

fn utc() -> String {
    "UTC".into()
}

/// A failed check: the key path and what is wrong.
type Invalid = (String, String);

fn zone(path: String, text: &str) -> Result<Tz, Invalid> {
    text.parse::<Tz>()
        .map_err(|_| (path, format!("unknown time zone \"{text}\" (use an IANA name such as Europe/Berlin or UTC)")))
}

fn weekday(path: String, text: &str) -> Result<Weekday, Invalid> {
    text.parse::<Weekday>().map_err(|_| (path, format!("\"{text}\" is not a day of the week (mon, tue, ... sun)")))
}

fn clock_time(path: String, text: &str) -> Result<NaiveTime, Invalid> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| (path, format!("\"{text}\" is not a time of day (HH:MM, e.g. 18:30)")))
}

/// An RFC 3339 instant, or a local `YYYY-MM-DDTHH:MM` in `tz`.
fn instant(path: String, text: &str, tz: Tz) -> Result<DateTime<Utc>, Invalid> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| (path, format!("\"{text}\" is not a date and time (2026-12-20T18:00 in the zone, or RFC 3339)")))
}

impl RawConfig {
    pub(super) fn validate(self) -> Result<Config, Invalid> {
        let timezone = zone("timezone".into(), &self.timezone)?;
        if self.receiver.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "receiver.listen".into(),
                format!("\"{}\" is not an address (e.g. 127.0.0.1:7480)", self.receiver.listen),
            ));
        }
        for (key, value) in [
            ("receiver.body_timeout", self.receiver.body_timeout),
            ("receiver.idle_timeout", self.receiver.idle_timeout),
        ] {
            if value <= TimeDelta::zero() {
                return Err((key.into(), "must be longer than 0s".into()));
            }
        }
        if self.receiver.max_connections == 0 {
            return Err(("receiver.max_connections".into(), "must be at least 1".into()));
        }
        if self.receiver.clock_skew < TimeDelta::zero() {
            return Err(("receiver.clock_skew".into(), "must not be negative".into()));
        }
        // The dashboard builds its keymap with this same function, so what passes here runs there.
        if let Err(e) = crate::keymap::Keymap::from_config(&self.dashboard.keys) {
            return Err((e.config_path(&self.dashboard.keys), e.to_string()));
        }
        if !["default", "light", "mono"].contains(&self.dashboard.theme.as_str()) {
            return Err((
                "dashboard.theme".into(),
                format!("unknown theme \"{}\" (default, light or mono)", self.dashboard.theme),
            ));
        }
        let mut envs = std::collections::HashSet::new();
        for (i, e) in self.environments.iter().enumerate() {
            if e.name.trim().is_empty() || e.name.chars().any(char::is_whitespace) {
                return Err((format!("environments[{i}].name"), format!("\"{}\" is not an environment name", e.name)));
            }
            if !envs.insert(e.name.as_str()) {
                return Err((
                    format!("environments[{i}].name"),
                    format!("environment \"{}\" is declared twice", e.name),
                ));
            }
        }
        let declared = |path: String, named: &[String]| -> Result<(), Invalid> {
            match named.iter().find(|n| !envs.contains(n.as_str())) {
                None => Ok(()),
                Some(n) => Err((path, unknown_environment(n, &self.environments))),
            }
        };
        for (i, w) in self.windows.iter().enumerate() {
            declared(format!("windows[{i}].environments"), &w.environments)?;
        }
        for (i, f) in self.freezes.iter().enumerate() {
            declared(format!("freezes[{i}].environments"), &f.environments)?;
        }
        for (i, s) in self.stakeholders.iter().enumerate() {
            declared(format!("stakeholders[{i}].environments"), &s.environments)?;
        }
        for (name, model) in &self.models {
            declared(format!("models.{name}.environments"), &model.environments)?;
        }
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.people.iter().enumerate() {
            if !names.insert(p.name.as_str()) {
                return Err((format!("people[{i}].name"), format!("person \"{}\" is listed twice", p.name)));
            }
        }
        let roles: std::collections::HashSet<&str> =
            self.people.iter().flat_map(|p| p.roles.iter().map(String::as_str)).collect();
        if let Some(op) = self.operator.as_deref().filter(|o| !o.is_empty() && !names.contains(o)) {
            let known: Vec<&str> = self.people.iter().map(|p| p.name.as_str()).collect();
            return Err((
                "operator".into(),
                format!("\"{op}\" is not a person in [[people]] (people: {})", known.join(", ")),
            ));
        }
        for (i, s) in self.stakeholders.iter().enumerate() {
            if let Some(who) = s.people.iter().find(|n| !names.contains(n.as_str())) {
                return Err((format!("stakeholders[{i}].people"), format!("unknown person \"{who}\"")));
            }
            if let Some(kind) = s.notify_on.iter().find(|k| !NOTIFY_KINDS.contains(&k.as_str())) {
                return Err((
                    format!("stakeholders[{i}].notify_on"),
                    format!("unknown happening \"{kind}\" (one of {})", NOTIFY_KINDS.join(", ")),
                ));
            }
            if let Some(role) = s.roles.iter().find(|r| !roles.contains(r.as_str())) {
                return Err((
                    format!("stakeholders[{i}].roles"),
                    format!("unknown role \"{role}\": no person in [[people]] holds it"),
                ));
            }
        }
        for (i, p) in self.people.iter().enumerate() {
            if let Some(z) = &p.zone {
                zone(format!("people[{i}].zone"), z)?;
            }
        }
        super::notify::check(&self.notify, &self.channels, &self.stakeholders, &self.people)?;
        let windows =
            self.windows.into_iter().enumerate().map(|(i, w)| window(i, w, timezone)).collect::<Result<Vec<_>, _>>()?;
        let freezes =
            self.freezes.into_iter().enumerate().map(|(i, f)| freeze(i, f, timezone)).collect::<Result<Vec<_>, _>>()?;
        for (name, model) in &self.models {
            check_model(name, model, &windows, &roles)?;
        }
        let mut seen = std::collections::HashSet::new();
        for (i, w) in windows.iter().enumerate() {
            if !seen.insert(w.name.as_str()) {
                return Err((format!("windows[{i}].name"), format!("window \"{}\" is defined twice", w.name)));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, f) in freezes.iter().enumerate() {
            if !seen.insert(f.name.as_str()) {
                return Err((format!("freezes[{i}].name"), format!("freeze \"{}\" is defined twice", f.name)));
            }
        }
        self.schedule.check()?;
        self.reviews.check(&self.environments)?;
        let config = Config {
            operator: self.operator.filter(|o| !o.is_empty()),
            identity: self.identity,
            team: self.team,
            timezone,
            db: self.db,
            environments: self.environments,
            receiver: self.receiver,
            dashboard: self.dashboard,
            people: self.people,
            stakeholders: self.stakeholders,
            models: self.models,
            windows,
            freezes,
            reviews: self.reviews,
            inventories: self.inventories,
            schedule: self.schedule,
            notify: self.notify,
            channels: self.channels,
            source: String::new(),
        };
        config.validate()?;
        Ok(config)
    }
}

fn window(i: usize, w: RawWindow, default_zone: Tz) -> Result<ChangeWindow, Invalid> {
    let key = |k: &str| format!("windows[{i}].{k}");
    let tz = match &w.zone {
        Some(z) => zone(key("zone"), z)?,
        None => default_zone,
    };
    let times = match (&w.days, &w.start, &w.end, &w.from, &w.until) {
        (Some(days), Some(start), Some(end), None, None) => WindowTimes::Weekly {
            days: week_days(&key("days"), days)?,
            start: clock_time(key("start"), start)?,
            end: clock_time(key("end"), end)?,
            zone: tz,
        },
        (None, None, None, Some(from), Some(until)) => {
            let (from, until) = (instant(key("from"), from, tz)?, instant(key("until"), until, tz)?);
            if until <= from {
                return Err((key("until"), format!("window \"{}\" ends before it starts", w.name)));
            }
            WindowTimes::Once { from, until }
        }
        _ => {
            return Err((
                key("name"),
                format!("window \"{}\" needs either days + start + end (weekly) or from + until (one-off)", w.name),
            ));
        }
    };
    Ok(ChangeWindow { name: w.name, environments: w.environments, times })
}

fn freeze(i: usize, f: RawFreeze, default_zone: Tz) -> Result<Freeze, Invalid> {
    use crate::domain::schedule::{Repeat, YearDay, forever_from, forever_until};
    let key = |k: &str| format!("freezes[{i}].{k}");
    let tz = match &f.zone {
        Some(z) => zone(key("zone"), z)?,
        None => default_zone,
    };
    let shape = (&f.from, &f.until, &f.days, &f.start, &f.end, &f.yearly_from, &f.yearly_until);
    let (from, until, repeat) = match shape {
        (Some(from), Some(until), None, None, None, None, None) => {
            (instant(key("from"), from, tz)?, instant(key("until"), until, tz)?, None)
        }
        (None, None, Some(days), Some(start), Some(end), None, None) => {
            let days = week_days(&key("days"), days)?;
            let (start, end) = (clock_time(key("start"), start)?, clock_time(key("end"), end)?);
            if start == end {
                return Err((key("end"), format!("weekly freeze \"{}\" starts and ends at {start}", f.name)));
            }
            (forever_from(), forever_until(), Some(Repeat::Weekly { days, start, end, zone: tz }))
        }
        (None, None, None, None, None, Some(a), Some(b)) => {
            let day = |k: &str, t: &str| {
                YearDay::parse(t).ok_or_else(|| {
                    (key(k), format!("\"{t}\" is not a day of the year (MM-DD or MM-DDTHH:MM, e.g. 12-24)"))
                })
            };
            let (a, b) = (day("yearly_from", a)?, day("yearly_until", b)?);
            if a == b {
                return Err((key("yearly_until"), format!("yearly freeze \"{}\" ends when it starts", f.name)));
            }
            (forever_from(), forever_until(), Some(Repeat::Yearly { from: a, until: b, zone: tz }))
        }
        _ => {
            return Err((
                key("name"),
                format!(
                    "freeze \"{}\" needs from + until (once), days + start + end (weekly) or yearly_from + yearly_until (yearly)",
                    f.name
                ),
            ));
        }
    };
    if until <= from {
        return Err((key("until"), format!("freeze \"{}\" ends before it starts", f.name)));
    }
    Ok(Freeze { name: f.name, environments: f.environments, from, until, reason: f.reason, repeat })
}

/// Week days, each named once: a day listed twice is an overlapping definition.
fn week_days(path: &str, days: &[String]) -> Result<Vec<Weekday>, Invalid> {
    let mut out: Vec<Weekday> = Vec::new();
    for d in days {
        let day = weekday(path.to_owned(), d)?;
        if out.contains(&day) {
            return Err((path.to_owned(), format!("\"{d}\" is listed twice (the occurrences would overlap)")));
        }
        out.push(day);
    }
    Ok(out)
}

fn check_model(
    name: &str,
    model: &DeploymentModel,
    windows: &[ChangeWindow],
    roles: &std::collections::HashSet<&str>,
) -> Result<(), Invalid> {
    let key = |k: &str| format!("models.{name}.{k}");
    if model.steps.is_empty() {
        return Err((key("steps"), format!("model \"{name}\" has no lifecycle steps")));
    }
    use crate::domain::{Budget, Technique};
    match model.technique {
        Technique::Rolling => {
            if !model.phases.is_empty() {
                return Err((
                    key("phases"),
                    format!(
                        "model \"{name}\" is rolling: its batches come from `batch` and `max_unavailable`, not from phases"
                    ),
                ));
            }
            if model.batch.is_none() {
                return Err((key("batch"), format!("rolling model \"{name}\" needs batch = N or \"10%\"")));
            }
        }
        Technique::Parallel => {
            if !model.phases.is_empty() {
                return Err((
                    key("phases"),
                    format!(
                        "model \"{name}\" is parallel: its phases are the new set (`new`) and the switch-over (`switch`), not a list"
                    ),
                ));
            }
            if model.new.is_none() {
                return Err((
                    key("new"),
                    format!(
                        "parallel model \"{name}\" needs new = \"slot=green\" (the set of targets that gets the new release)"
                    ),
                ));
            }
        }
        Technique::BigBang if model.phases.len() > 1 => {
            return Err((
                key("phases"),
                format!("model \"{name}\" is big-bang: one phase of every target, not {}", model.phases.len()),
            ));
        }
        Technique::BigBang => {}
        _ if model.phases.is_empty() => return Err((key("phases"), format!("model \"{name}\" has no phases"))),
        _ => {}
    }
    if model.technique != Technique::Rolling && (model.batch.is_some() || model.max_unavailable.is_some()) {
        return Err((
            key("batch"),
            format!("batch and max_unavailable are for rolling models; \"{name}\" is {}", model.technique),
        ));
    }
    if !model.analysis.is_empty() && model.technique != Technique::Canary {
        return Err((key("analysis"), format!("analysis is for canary models; \"{name}\" is {}", model.technique)));
    }
    for (i, rule) in model.analysis.iter().enumerate() {
        if let Some(problem) = rule.problem() {
            return Err((key(&format!("analysis[{i}]")), problem));
        }
    }
    if model.technique == Technique::Canary && !model.analysis.is_empty() && model.phases.len() < 2 {
        return Err((
            key("phases"),
            format!("canary model \"{name}\" needs a canary phase and a phase after it for its analysis to decide"),
        ));
    }
    if model.technique != Technique::Parallel
        && (model.new.is_some() || model.switch.is_some() || model.keep_old.is_some())
    {
        let which = if model.new.is_some() {
            "new"
        } else if model.switch.is_some() {
            "switch"
        } else {
            "keep_old"
        };
        return Err((
            key(which),
            format!("new, switch and keep_old are for parallel models; \"{name}\" is {}", model.technique),
        ));
    }
    if matches!(model.max_unavailable, Some(Budget::Count(0) | Budget::Percent(0.0))) {
        return Err((
            key("max_unavailable"),
            "max_unavailable of 0 lets no target ever be updated: give at least 1 (or a percentage above 0%)".into(),
        ));
    }
    let spreads = model.spread.iter().chain(model.phases.iter().filter_map(|p| p.spread.as_ref()));
    if let Some(bad) = spreads.into_iter().find(|s| s.trim().is_empty() || s.contains(['=', ','])) {
        return Err((key("spread"), format!("spread \"{bad}\" is not a label name (e.g. spread = \"rack\")")));
    }
    if let Some(w) = model.windows.iter().find(|w| !windows.iter().any(|cw| &cw.name == *w)) {
        return Err((key("windows"), format!("unknown change window \"{w}\"")));
    }
    model
        .checklists
        .validate(&model.steps, &|r: &str| roles.contains(r))
        .map_err(|(path, message)| (key(&path), message))?;
    for (i, phase) in model.phases.iter().enumerate() {
        if model.phases[..i].iter().any(|p| p.name == phase.name) {
            return Err((key(&format!("phases[{i}].name")), format!("phase \"{}\" appears twice", phase.name)));
        }
    }
    let gates = model
        .phases
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((format!("phases[{i}].gate"), p.gate.as_ref()?)))
        .chain(model.switch.as_ref().map(|g| ("switch".to_owned(), g)));
    for (path, gate) in gates {
        if gate.auto.is_some() {
            return Err((
                key(&format!("{path}.auto")),
                "automatic gates are made by the planner (rolling batches, canary analysis), not written in the config"
                    .into(),
            ));
        }
        if !gate.analysis.is_empty() {
            return Err((
                key(&format!("{path}.analysis")),
                format!("analysis rules go on the model ([[models.{name}.analysis]]), not on a gate"),
            ));
        }
        if gate.approvals == 0 {
            return Err((key(&format!("{path}.approvals")), "a gate needs at least 1 approval".into()));
        }
        if let Some(w) = gate.windows.iter().find(|w| !windows.iter().any(|cw| &cw.name == *w)) {
            return Err((key(&format!("{path}.windows")), format!("unknown change window \"{w}\"")));
        }
        if let Some(l) = gate.require.iter().find(|l| !["pre", "environment"].contains(&l.as_str())) {
            return Err((
                key(&format!("{path}.require")),
                format!("a gate may require the \"pre\" and \"environment\" checklists, not \"{l}\""),
            ));
        }
        if let Some(r) = gate.roles.iter().chain(&gate.freeze_override_roles).find(|r| !roles.contains(r.as_str())) {
            return Err((key(&format!("{path}.roles")), format!("role \"{r}\" is held by nobody in [[people]]")));
        }
    }
    Ok(())
}

/// "unknown environment "prod" (declared: production, staging)", the one wording for config
/// checks and commands.
#[must_use]
pub fn unknown_environment(name: &str, declared: &[Environment]) -> String {
    if declared.is_empty() {
        return format!("unknown environment \"{name}\" (none is declared: add [[environments]] to the config)");
    }
    let known: Vec<&str> = declared.iter().map(|e| e.name.as_str()).collect();
    format!("unknown environment \"{name}\" (declared: {})", known.join(", "))
}
