//! Subjects and texts of outgoing notifications, rendered with minijinja.
//!
//! Undefined variables are errors (strict), so a template that names something that does not
//! exist fails `config check` against a sample notification instead of sending half a message.

use crate::domain::notify::{Delivery, Outgoing};
use minijinja::Value;
use minijinja::{Environment, UndefinedBehavior};

/// The default subject template.
pub const SUBJECT: &str = "{{ subject }}";
/// The default text template: the subject line, then the body when there is one.
pub const TEXT: &str = "{{ subject }}{% if body %}\n\n{{ body }}{% endif %}";
/// The default text of a digest: the subject (how many), then one line per notification.
pub const DIGEST_TEXT: &str = "{{ subject }}\n{% for item in items %}\n- {{ item.subject }}{% endfor %}";

/// What a template may use.
#[derive(Debug)]
pub struct Context<'a> {
    /// The happening: gate_pending, deployment_failed, ...
    pub kind: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// `DEP-n`, or empty.
    pub deployment: String,
    pub phase: &'a str,
    pub recipient: &'a str,
    pub channel: &'a str,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub idempotency_key: &'a str,
    /// A digest's notifications (`kind`, `subject`, `body`, `deployment`, `phase` each); for
    /// a single notification, itself.
    pub items: Vec<Value>,
}

fn item(o: &Outgoing) -> Value {
    Value::from_pairs([
        ("kind", Value::from(o.kind.as_str())),
        ("subject", Value::from(o.subject.as_str())),
        ("body", Value::from(o.body.as_str())),
        ("deployment", Value::from(o.deployment.map(|k| k.to_string()).unwrap_or_default())),
        ("phase", Value::from(o.phase.as_deref().unwrap_or_default())),
    ])
}

impl<'a> Context<'a> {
    fn value(&self) -> Value {
        Value::from_pairs([
            ("kind", Value::from(self.kind)),
            ("subject", Value::from(self.subject)),
            ("body", Value::from(self.body)),
            ("deployment", Value::from(self.deployment.as_str())),
            ("phase", Value::from(self.phase)),
            ("recipient", Value::from(self.recipient)),
            ("channel", Value::from(self.channel)),
            ("created_at", Value::from(self.created_at.as_str())),
            ("idempotency_key", Value::from(self.idempotency_key)),
            ("items", Value::from(self.items.clone())),
        ])
    }

    #[must_use]
    pub fn of(d: &'a Delivery) -> Self {
        Self {
            kind: &d.outgoing.kind,
            subject: &d.outgoing.subject,
            body: &d.outgoing.body,
            deployment: d.outgoing.deployment.map(|k| k.to_string()).unwrap_or_default(),
            phase: d.outgoing.phase.as_deref().unwrap_or_default(),
            recipient: &d.outgoing.recipient,
            channel: &d.channel,
            created_at: d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            idempotency_key: &d.idempotency_key,
            items: if d.items.is_empty() { vec![item(&d.outgoing)] } else { d.items.iter().map(item).collect() },
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Renders `template` (the default when `None`) for `ctx`.
pub fn render(template: Option<&str>, default: &str, ctx: &Context<'_>) -> Result<String, String> {
    environment().render_str(template.unwrap_or(default), ctx.value()).map_err(|e| describe(&e))
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Checks a template from the config: it parses and renders for a sample notification.
pub fn check(template: &str) -> Result<String, String> {
    let sample = Context {
        kind: "gate_pending",
        subject: "DEP-1 pilot: approval needed (payments-api@2.4.1 of production)",
        body: "pilot needs 1 approval(s) from deployment_manager.",
        deployment: "DEP-1".into(),
        phase: "pilot",
        recipient: "dana",
        channel: "ops",
        created_at: "2026-11-27T08:00:00Z".into(),
        idempotency_key: "00000000-0000-4000-8000-000000000000",
        items: vec![Value::from_pairs([
            ("kind", Value::from("gate_pending")),
            ("subject", Value::from("DEP-1 pilot: approval needed (payments-api@2.4.1 of production)")),
            ("body", Value::from("pilot needs 1 approval(s) from deployment_manager.")),
            ("deployment", Value::from("DEP-1")),
            ("phase", Value::from("pilot")),
        ])],
    };
    environment()
        .render_str(template, sample.value())
        .map_err(|e| format!("template does not render: {}", describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_naming_an_unknown_variable_or_broken_syntax_is_refused() {
        assert!(check("{{ deployment }} {{ kind }}").is_ok());
        let err = check("{{ deploymnet }}").expect_err("unknown variable");
        assert!(err.contains("undefined"), "{err}");
        let err = check("{% if kind %}open").expect_err("unclosed block");
        assert!(err.contains("template does not render"), "{err}");
    }

    #[test]
    fn the_default_text_is_the_subject_then_the_body() {
        let ctx = Context {
            kind: "k",
            subject: "S",
            body: "",
            deployment: String::new(),
            phase: "",
            recipient: "r",
            channel: "c",
            created_at: String::new(),
            idempotency_key: "",
            items: Vec::new(),
        };
        assert_eq!(render(None, TEXT, &ctx).expect("renders"), "S");
        let ctx = Context { body: "B", ..ctx };
        assert_eq!(render(None, TEXT, &ctx).expect("renders"), "S\n\nB");
    }
}
