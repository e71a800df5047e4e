//! `[notify]` and `[channels.NAME]`: how notifications leave the log.
//!
//! A channel is one way of reaching people (a webhook, SMTP, a command); stakeholder rules name
//! channels, and the delivery worker sends each delivery through the channel it names. The
//! checks here run in `config check`, so a template that does not render or a rule naming a
//! channel that does not exist fails there, not at 3 a.m.

use crate::domain::duration;
use crate::domain::notify::timing::QuietHours;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The channel every notification goes to: the Notifications view of the dashboard.
pub const IN_APP: &str = "in_app";

/// `[notify]`: the delivery worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// How long a worker holds a delivery it claimed; one whose worker died is sent again after
    /// it (with the same idempotency key). Longer than every channel's `timeout`.
    #[serde(with = "duration::serde_text")]
    pub lease: TimeDelta,
    /// How often the worker looks for deliveries that became due.
    #[serde(with = "duration::serde_text")]
    pub poll: TimeDelta,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long before a deployment's planned start its `start_approaching` reminder goes out.
    #[serde(with = "duration::serde_text")]
    pub remind_before: TimeDelta,
    /// The share of a phase's failure budget whose use is told (`budget_nearly_used`), once
    /// per phase: 0.8 tells when failed targets reach 80% of the budget.
    pub budget_warning: f64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            lease: TimeDelta::minutes(1),
            poll: TimeDelta::milliseconds(100),
            concurrency: 64,
            remind_before: TimeDelta::minutes(30),
            budget_warning: 0.8,
        }
    }
}

/// What a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Webhook,
    Email,
    Command,
}

/// The body a webhook posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// shipdeck's own JSON document.
    #[default]
    Json,
    /// A Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// A Microsoft Teams incoming webhook (a message card).
    Teams,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host.
    None,
}

/// `[channels.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// webhook: where to POST (http or https).
    #[serde(default)]
    pub url: Option<String>,
    /// webhook: `json`, `slack` or `teams`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// webhook: the environment variable holding the HMAC-SHA256 signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// webhook: the header carrying `sha256=<hex of HMAC-SHA256 over the body>`.
    #[serde(default = "signature_header")]
    pub signature_header: String,
    /// email: the SMTP server's host name.
    #[serde(default)]
    pub server: Option<String>,
    /// email: its port (default 587 for starttls, 465 for tls, 25 for none).
    #[serde(default)]
    pub port: Option<u16>,
    /// email: `starttls`, `tls` or `none`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// email: the sender address.
    #[serde(default)]
    pub from: Option<String>,
    /// email: environment variables holding the SMTP user name and password.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// command: the program and its arguments; it gets the notification as JSON on stdin.
    #[serde(default)]
    pub command: Vec<String>,
    /// One attempt may take this long.
    #[serde(default = "timeout", with = "duration::serde_text")]
    pub timeout: TimeDelta,
    /// Attempts before the delivery is marked failed.
    #[serde(default = "max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles (with jitter) up to `backoff_max`.
    #[serde(default = "backoff", with = "duration::serde_text")]
    pub backoff: TimeDelta,
    #[serde(default = "backoff_max", with = "duration::serde_text")]
    pub backoff_max: TimeDelta,
    /// Template of the subject (e-mail subject, card title); default `{{ subject }}`.
    #[serde(default)]
    pub subject: Option<String>,
    /// Template of the text; default: the subject, then the body.
    #[serde(default)]
    pub text: Option<String>,
}

fn signature_header() -> String {
    "X-Shipdeck-Signature-256".into()
}
fn timeout() -> TimeDelta {
    TimeDelta::seconds(10)
}
fn max_attempts() -> u32 {
    6
}
fn backoff() -> TimeDelta {
    TimeDelta::seconds(5)
}
fn backoff_max() -> TimeDelta {
    TimeDelta::minutes(10)
}

/// A failed check: the key path and what is wrong.
type Invalid = (String, String);

/// Checks `[notify]`, every channel, and that stakeholder rules name channels that exist and
/// people they can reach.
pub(super) fn check(
    notify: &NotifyConfig,
    channels: &BTreeMap<String, ChannelConfig>,
    stakeholders: &[super::Stakeholder],
    people: &[super::Person],
) -> Result<(), Invalid> {
    if notify.concurrency == 0 {
        return Err(("notify.concurrency".into(), "must be at least 1".into()));
    }
    if notify.poll <= TimeDelta::zero() {
        return Err(("notify.poll".into(), "must be longer than 0s".into()));
    }
    if !(notify.budget_warning > 0.0 && notify.budget_warning <= 1.0) {
        return Err((
            "notify.budget_warning".into(),
            format!(
                "{} is not a share of the failure budget (more than 0, at most 1; e.g. 0.8)",
                notify.budget_warning
            ),
        ));
    }
    for (name, c) in channels {
        let key = |k: &str| format!("channels.{name}.{k}");
        if name == IN_APP {
            return Err((key("type"), format!("\"{IN_APP}\" is built in and cannot be configured")));
        }
        if c.timeout <= TimeDelta::zero() {
            return Err((key("timeout"), "must be longer than 0s".into()));
        }
        if c.timeout >= notify.lease {
            return Err((
                key("timeout"),
                format!(
                    "{} is not shorter than notify.lease ({}): a slow attempt would be sent twice at once",
                    duration::format(c.timeout),
                    duration::format(notify.lease)
                ),
            ));
        }
        if c.max_attempts == 0 {
            return Err((key("max_attempts"), "must be at least 1".into()));
        }
        if c.backoff <= TimeDelta::zero() || c.backoff_max < c.backoff {
            return Err((key("backoff"), "must be longer than 0s and not longer than backoff_max".into()));
        }
        match c.kind {
            ChannelKind::Webhook => {
                let url = c.url.as_deref().unwrap_or_default();
                match reqwest::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => return Err((key("url"), format!("\"{url}\" is not an http or https URL"))),
                }
                if c.secret_env.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    return Err((key("secret_env"), "names no environment variable".into()));
                }
            }
            ChannelKind::Email => {
                if c.server.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    return Err((
                        key("server"),
                        format!("e-mail channel \"{name}\" needs the SMTP server's host name"),
                    ));
                }
                let from = c.from.as_deref().unwrap_or_default();
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err((key("from"), format!("\"{from}\" is not an e-mail address")));
                }
            }
            ChannelKind::Command => {
                if c.command.first().is_none_or(|p| p.trim().is_empty()) {
                    return Err((key("command"), format!("command channel \"{name}\" names no program")));
                }
            }
        }
        for (field, text) in [("subject", &c.subject), ("text", &c.text)] {
            if let Some(t) = text {
                crate::notify::template::check(t).map_err(|e| (key(field), e))?;
            }
        }
    }
    for (i, s) in stakeholders.iter().enumerate() {
        if let Some(q) = &s.quiet_hours {
            q.parse::<QuietHours>().map_err(|e| (format!("stakeholders[{i}].quiet_hours"), e.to_string()))?;
        }
        if let Some(d) = &s.digest {
            digest_period(d).map_err(|e| (format!("stakeholders[{i}].digest"), e))?;
        }
        for ch in &s.channels {
            if ch == IN_APP {
                continue;
            }
            let Some(c) = channels.get(ch) else {
                let known: Vec<&str> = std::iter::once(IN_APP).chain(channels.keys().map(String::as_str)).collect();
                return Err((
                    format!("stakeholders[{i}].channels"),
                    format!("unknown channel \"{ch}\" (channels: {})", known.join(", ")),
                ));
            };
            if c.kind == ChannelKind::Email {
                let reached =
                    people.iter().filter(|p| s.people.contains(&p.name) || p.roles.iter().any(|r| s.roles.contains(r)));
                for p in reached {
                    let ok = p.email.as_deref().is_some_and(|e| e.parse::<lettre::message::Mailbox>().is_ok());
                    if !ok {
                        return Err((
                            format!("stakeholders[{i}].channels"),
                            format!(
                                "channel \"{ch}\" is e-mail, but person \"{}\" has no valid email in [[people]]",
                                p.name
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The longest digest period: a digest is a summary, not a way to hold news for days.
const DIGEST_MAX: TimeDelta = TimeDelta::days(1);

/// A rule's `digest` period: a duration from 1 minute to 1 day.
pub fn digest_period(text: &str) -> Result<TimeDelta, String> {
    let d = duration::parse(text).map_err(|e| e.to_string())?;
    if d < TimeDelta::minutes(1) || d > DIGEST_MAX {
        return Err(format!("digest \"{text}\" must be from 1m to 1d"));
    }
    Ok(d)
}
