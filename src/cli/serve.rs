//! `shipdeck serve`: the agent event receiver.

use super::Context;
use crate::server::{Limits, Receiver, ServerOptions};

/// Descriptors kept back from the connection cap: the log, the listener, the runtime.
const FILES_KEPT_BACK: u64 = 64;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: receiver.listen from config, 127.0.0.1:7480]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve https with this PEM certificate chain (reloaded on SIGHUP); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Sign every audit record with this Ed25519 key file (PKCS#8, from `audit key --generate`)
    /// [default: receiver.signing_key from config]
    #[arg(long, value_name = "FILE")]
    signing_key: Option<std::path::PathBuf>,
    /// Also serve on this Unix socket, where the caller is the OS account the kernel reports
    /// (its `login` in the log's team); mode 0600 unless --socket-group
    #[arg(long, value_name = "PATH")]
    socket: Option<std::path::PathBuf>,
    /// Give --socket to this group, with mode 0660, so its members can connect
    #[arg(long, value_name = "GROUP", requires = "socket")]
    socket_group: Option<String>,
    /// How log lines on stderr look: text, or one JSON object per line
    #[arg(long, value_enum, env = "SHIPDECK_LOG_FORMAT", default_value = "text")]
    log_format: crate::logging::LogFormat,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    crate::logging::init(args.log_format);
    let json = args.log_format == crate::logging::LogFormat::Json;
    // What the receiver says about itself: plain lines for people, log events in JSON.
    let say = move |line: &str| {
        if json {
            tracing::info!("{line}");
        } else {
            // Paths and names from the config and the log: text, not control codes.
            eprintln!("{}", crate::domain::text::sanitize(line));
        }
    };
    let listen = args.listen.clone().unwrap_or_else(|| ctx.config.receiver.listen.clone());
    let db = ctx.db_path()?;
    // A damaged log is told now, in one sentence (exit 2), not at the first commit that fails
    // while `/v1/health` says "ok".
    crate::store::Store::open(&db)?.quick_check()?;
    let token = ctx.config.receiver.resolved_token();
    // The shared agent token must not be a person's: SHIPDECK_TOKEN exported in an admin's own
    // shell would make their token everybody's agent token here.
    if let Some(t) = token.as_deref().map(|t| crate::store::Store::open(&db)?.token_for(t)).transpose()?.flatten() {
        return Err(super::usage(format!(
            "the receiver's token (SHIPDECK_TOKEN or receiver.token) is {}'s API token {}: a person's token cannot be the shared agent token; unset it, or configure the agents' own",
            t.person, t.id
        )));
    }
    // Fail closed: a key that was asked for and does not load stops the server (exit 2), never
    // a server that appends unsigned records.
    let signing_key = match args.signing_key.as_ref().or(ctx.config.receiver.signing_key.as_ref()) {
        Some(file) => Some(std::sync::Arc::new(super::audit::read_signing_key(file)?)),
        None => None,
    };
    let signing_note =
        signing_key.as_ref().map(|k| format!("shipdeck receiver: signing audit records with key {}", k.public()));
    // A certificate that does not load stops the server now, naming the file (exit 2).
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            crate::server::tls::Tls::load(crate::server::tls::TlsFiles { cert: cert.clone(), key: key.clone() })
                .map_err(super::usage)?,
        ),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The receiver never changes the team: anyone who can start one writes its config. The
    // team is seeded by the first plan into a new log and changed by an admin's `team sync`;
    // a config whose team differs is said once, and the log's team counts.
    let team_note = match crate::store::Store::open(&db)?.team_is(&ctx.config.team(), &ctx.config.subscriptions())? {
        Some(true) => None,
        Some(false) => Some(format!(
            "shipdeck receiver: the team in {} differs from the log's; the log's team counts (an admin changes it with `shipdeck team sync`)",
            ctx.config.source
        )),
        None => Some(
            "shipdeck receiver: the log holds no team yet; the first plan (or `shipdeck team sync`) stores it"
                .to_owned(),
        ),
    };
    let opts = ServerOptions {
        db: db.clone(),
        token: token.clone(),
        clock: ctx.clock.clone(),
        config: std::sync::Arc::new(ctx.config.clone()),
        signing_key,
    };
    let mut limits = Limits::from(&ctx.config.receiver);
    // The connection cap, not the descriptor table, must be what bounds the receiver: raise the
    // soft limit, and keep the cap below what it allows (the log and the runtime need a few).
    let mut lowered = None;
    if let Some(files) = crate::server::raise_open_files_limit() {
        let room = usize::try_from(files.saturating_sub(FILES_KEPT_BACK)).unwrap_or(usize::MAX).max(1);
        if room < limits.max_connections {
            lowered = Some(format!(
                "shipdeck receiver: open files are limited to {files}; serving at most {room} connections \
                 instead of receiver.max_connections = {}",
                limits.max_connections
            ));
            limits.max_connections = room;
        }
    }
    // The delivery worker runs beside the receiver on its own thread and connection, so sending
    // notifications never holds up the ingest of events.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = crate::notify::spawn(crate::notify::WorkerOptions {
        db: db.clone(),
        config: std::sync::Arc::new(ctx.config.clone()),
        clock: ctx.clock.clone(),
        stop: stop.clone(),
    })?;
    let served: anyhow::Result<i32> = crate::runtime::build()?.block_on(async move {
        let mut receiver = Receiver::bind_with(&listen, opts, limits).await?;
        if let Some(tls) = tls {
            receiver = receiver.with_tls(tls);
        }
        if let Some(path) = &args.socket {
            receiver = receiver.with_socket(bind_socket(path, args.socket_group.as_deref())?);
            say(&format!("shipdeck receiver on unix:{} (callers are their OS accounts)", path.display()));
        }
        let addr = receiver.local_addr()?;
        say(&format!(
            "shipdeck receiver on {scheme}://{addr} (log {}; {})",
            db.display(),
            if token.is_some() { "bearer token required" } else { "no token: anyone who can connect may post" }
        ));
        for note in [lowered, team_note, signing_note].into_iter().flatten() {
            say(&note);
        }
        receiver.serve(shutdown_signal()).await?;
        say("shipdeck receiver stopped; every acknowledged event is committed");
        Ok(0)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    match worker.join() {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => {} // said when it stopped
        Err(_) => eprintln!("shipdeck delivery worker panicked"),
    }
    served
}

/// Binds the Unix socket at `path` (replacing a socket a stopped server left there, never any
/// other file), owned by `group` with mode 0660, else mode 0600.
fn bind_socket(path: &std::path::Path, group: Option<&str>) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let gid = match group {
        Some(g) => Some(
            crate::decide::group_id(g)
                .ok_or_else(|| super::usage(format!("--socket-group \"{g}\" is not a group of this system")))?,
        ),
        None => None,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(super::usage(format!("--socket \"{}\" exists and is not a socket", path.display())));
        }
        Err(_) => {}
    }
    let socket = tokio::net::UnixListener::bind(path)
        .map_err(|e| super::usage(format!("--socket \"{}\" cannot be bound ({e})", path.display())))?;
    // Nobody may connect before the mode and group are right: set them before serving.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(if gid.is_some() { 0o660 } else { 0o600 }))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    Ok(socket)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
