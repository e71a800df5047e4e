//! The demo's webhook sink: a real HTTP server on loopback inside the demo process, so a new
//! user sees deliveries go out. `/ok` takes every delivery; `/flaky` answers 500 to the first
//! two attempts of each idempotency key, so its channel is seen failing and retrying.

use crate::config::notify::WebhookFormat;
use crate::config::{ChannelConfig, ChannelKind, Config};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The channel that always takes deliveries, and the one that fails twice first.
pub const OK_CHANNEL: &str = "demo-webhook";
pub const FLAKY_CHANNEL: &str = "demo-flaky";

/// What the sink received.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub received: AtomicUsize,
    pub refused: AtomicUsize,
    tries: Mutex<HashMap<String, usize>>,
}

/// Starts the sink on an ephemeral loopback port (inside the current tokio runtime).
pub async fn start() -> std::io::Result<(SocketAddr, Arc<SinkStats>)> {
    let stats = Arc::new(SinkStats::default());
    let (ok, flaky) = (stats.clone(), stats.clone());
    let app = Router::new()
        .route(
            "/ok",
            post(move || {
                let s = ok.clone();
                async move {
                    s.received.fetch_add(1, Ordering::Relaxed);
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/flaky",
            post(move |headers: HeaderMap| {
                let s = flaky.clone();
                async move {
                    s.received.fetch_add(1, Ordering::Relaxed);
                    let key = headers
                        .get(crate::notify::channels::IDEMPOTENCY_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let n = {
                        let mut tries = s.tries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let n = tries.entry(key).or_default();
                        *n += 1;
                        *n
                    };
                    if n <= 2 {
                        s.refused.fetch_add(1, Ordering::Relaxed);
                        (StatusCode::INTERNAL_SERVER_ERROR, "demo sink: failing on purpose, retry later")
                    } else {
                        (StatusCode::OK, "ok")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, stats))
}

/// The demo's config with the two sink channels, deployment managers told over the one that
/// works and the change advisory over the flaky one.
#[must_use]
pub fn with_channels(config: &Config, addr: SocketAddr) -> Config {
    let mut c = config.clone();
    let channel = |path: &str, attempts: u32| ChannelConfig {
        kind: ChannelKind::Webhook,
        url: Some(format!("http://{addr}{path}")),
        format: WebhookFormat::Json,
        secret_env: None,
        signature_header: "X-Shipdeck-Signature-256".into(),
        server: None,
        port: None,
        security: crate::config::notify::SmtpSecurity::default(),
        from: None,
        username_env: None,
        password_env: None,
        command: Vec::new(),
        timeout: chrono::TimeDelta::seconds(5),
        max_attempts: attempts,
        backoff: chrono::TimeDelta::seconds(3),
        backoff_max: chrono::TimeDelta::seconds(30),
        subject: None,
        text: None,
    };
    c.channels.insert(OK_CHANNEL.into(), channel("/ok", 6));
    c.channels.insert(FLAKY_CHANNEL.into(), channel("/flaky", 6));
    for s in &mut c.stakeholders {
        if s.roles.iter().any(|r| r == "deployment_manager") {
            s.channels.push(OK_CHANNEL.into());
        } else {
            s.channels.push(FLAKY_CHANNEL.into());
        }
    }
    c
}
