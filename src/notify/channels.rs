//! The channels: one attempt to carry one delivery, as a webhook POST, an e-mail over SMTP or
//! a command's run. Each returns `Ok` when the other side took it, else the error in one line.

use super::template::{self, Context};
use crate::config::notify::{SmtpSecurity, WebhookFormat};
use crate::config::{ChannelConfig, ChannelKind, Config};
use crate::domain::notify::Delivery;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The header carrying the delivery's idempotency key (the same on every resend).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Subject and text rendered by the channel's templates.
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

pub fn render(channel: &ChannelConfig, d: &Delivery) -> Result<Rendered, String> {
    let ctx = Context::of(d);
    Ok(Rendered {
        subject: template::render(channel.subject.as_deref(), template::SUBJECT, &ctx)?,
        text: template::render(
            channel.text.as_deref(),
            if d.items.is_empty() { template::TEXT } else { template::DIGEST_TEXT },
            &ctx,
        )?,
    })
}

/// shipdeck's JSON document of a delivery (the `json` webhook body and a command's stdin).
#[must_use]
pub fn document(d: &Delivery, r: &Rendered) -> serde_json::Value {
    serde_json::json!({
        "id": d.idempotency_key,
        "delivery": d.id,
        "attempt": d.attempts,
        "kind": d.outgoing.kind,
        "deployment": d.outgoing.deployment.map(|k| k.to_string()),
        "phase": d.outgoing.phase,
        "recipient": d.outgoing.recipient,
        "channel": d.channel,
        "subject": r.subject,
        "text": r.text,
        "created_at": d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "items": d.items.iter().map(|i| serde_json::json!({
            "kind": i.kind,
            "deployment": i.deployment.map(|k| k.to_string()),
            "phase": i.phase,
            "subject": i.subject,
            "body": i.body,
        })).collect::<Vec<_>>(),
    })
}

/// The webhook body in the channel's format.
#[must_use]
pub fn webhook_body(format: WebhookFormat, d: &Delivery, r: &Rendered) -> serde_json::Value {
    match format {
        WebhookFormat::Json => document(d, r),
        WebhookFormat::Slack => serde_json::json!({ "text": r.text }),
        WebhookFormat::Teams => serde_json::json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": r.subject,
            "title": r.subject,
            "text": r.text.replace('\n', "\n\n"),
        }),
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret` (the way GitHub signs webhooks).
#[must_use]
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn secret_from(var: &str) -> Result<String, String> {
    std::env::var(var)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the signing secret's environment variable {var} is not set"))
}

fn std_duration(d: chrono::TimeDelta) -> Duration {
    d.to_std().unwrap_or(Duration::from_secs(10))
}

/// One attempt over `channel` (a configured name).
pub async fn send(config: &Config, client: &reqwest::Client, channel: &str, d: &Delivery) -> Result<(), String> {
    let Some(c) = config.channels.get(channel) else {
        let known: Vec<&str> = config.channels.keys().map(String::as_str).collect();
        return Err(format!("channel \"{channel}\" is not configured (channels: {})", known.join(", ")));
    };
    let rendered = render(c, d)?;
    match c.kind {
        ChannelKind::Webhook => webhook(c, client, d, &rendered).await,
        ChannelKind::Command => command(c, d, &rendered).await,
        ChannelKind::Email => {
            let to = config
                .person(&d.outgoing.recipient)
                .and_then(|p| p.email.clone())
                .ok_or_else(|| format!("person \"{}\" has no email in the config", d.outgoing.recipient))?;
            let c = c.clone();
            let key = d.idempotency_key.clone();
            tokio::task::spawn_blocking(move || email(&c, &to, &key, &rendered))
                .await
                .map_err(|e| format!("the e-mail attempt stopped: {e}"))?
        }
    }
}

async fn webhook(c: &ChannelConfig, client: &reqwest::Client, d: &Delivery, r: &Rendered) -> Result<(), String> {
    let url = c.url.as_deref().unwrap_or_default();
    let body = serde_json::to_vec(&webhook_body(c.format, d, r)).map_err(|e| e.to_string())?;
    let mut req = client
        .post(url)
        .timeout(std_duration(c.timeout))
        .header("Content-Type", "application/json")
        .header(IDEMPOTENCY_HEADER, &d.idempotency_key)
        .header("X-Shipdeck-Delivery", d.id.to_string())
        .header("X-Shipdeck-Event", &d.outgoing.kind);
    if let Some(var) = &c.secret_env {
        req = req.header(c.signature_header.as_str(), signature(secret_from(var)?.as_bytes(), &body));
    }
    let resp = req.body(body).send().await.map_err(|e| describe_http(&e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
    Err(if text.is_empty() { format!("HTTP {}", status.as_u16()) } else { format!("HTTP {}: {text}", status.as_u16()) })
}

fn describe_http(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{what}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

async fn command(c: &ChannelConfig, d: &Delivery, r: &Rendered) -> Result<(), String> {
    let Some((program, args)) = c.command.split_first() else { return Err("the command names no program".into()) };
    let input = serde_json::to_vec(&document(d, r)).map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("SHIPDECK_IDEMPOTENCY_KEY", &d.idempotency_key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut stdin = child.stdin.take();
    let run = async {
        if let Some(mut s) = stdin.take() {
            // A program that does not read its input is its own business: a closed pipe is fine.
            let _ = s.write_all(&input).await;
            drop(s);
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(std_duration(c.timeout), run).await {
        Err(_) => Err(format!("{program} did not finish within {}", crate::domain::duration::format(c.timeout))),
        Ok(Err(e)) => Err(format!("{program} failed: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
            let last: String = last.chars().take(200).collect();
            let code =
                out.status.code().map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit status {c}"));
            Err(if last.is_empty() { format!("{program}: {code}") } else { format!("{program}: {code}: {last}") })
        }
    }
}

fn email(c: &ChannelConfig, to: &str, key: &str, r: &Rendered) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{Message, SmtpTransport, Transport};
    let from = c.from.as_deref().unwrap_or_default();
    let message = Message::builder()
        .from(from.parse().map_err(|e| format!("from \"{from}\": {e}"))?)
        .to(to.parse().map_err(|e| format!("to \"{to}\": {e}"))?)
        .subject(r.subject.replace(['\r', '\n'], " "))
        .message_id(Some(format!("<{key}@shipdeck>")))
        .header(ContentType::TEXT_PLAIN)
        .body(r.text.clone())
        .map_err(|e| format!("cannot build the e-mail: {e}"))?;
    let host = c.server.as_deref().unwrap_or_default();
    let builder = match c.security {
        SmtpSecurity::Starttls => {
            SmtpTransport::starttls_relay(host).map_err(|e| e.to_string())?.port(c.port.unwrap_or(587))
        }
        SmtpSecurity::Tls => SmtpTransport::relay(host).map_err(|e| e.to_string())?.port(c.port.unwrap_or(465)),
        SmtpSecurity::None => SmtpTransport::builder_dangerous(host).port(c.port.unwrap_or(25)),
    };
    let mut builder = builder.timeout(Some(std_duration(c.timeout)));
    let env = |v: &Option<String>| v.as_deref().and_then(|v| std::env::var(v).ok()).filter(|s| !s.is_empty());
    match (env(&c.username_env), env(&c.password_env)) {
        (Some(user), Some(password)) => builder = builder.credentials(Credentials::new(user, password)),
        (None, None) if c.username_env.is_none() => {}
        _ => {
            return Err(format!(
                "the SMTP credentials' environment variables ({}, {}) are not both set",
                c.username_env.as_deref().unwrap_or("-"),
                c.password_env.as_deref().unwrap_or("-")
            ));
        }
    }
    builder.build().send(&message).map(|_| ()).map_err(|e| {
        let mut text = format!("SMTP {host}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_as_github_computes_it() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        assert_eq!(
            signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
