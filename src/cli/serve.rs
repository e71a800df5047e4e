//! `shipdeck serve`: the agent event receiver.

use super::Context;
use crate::server::{Receiver, ServerOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: receiver.listen from config, 127.0.0.1:7480]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    let listen = args.listen.clone().unwrap_or_else(|| ctx.config.receiver.listen.clone());
    let db = ctx.db_path()?;
    let token = ctx.config.receiver.resolved_token();
    // Gates that open as events arrive notify the people the config names.
    crate::store::Store::open(&db)?.sync_team(&ctx.config.members(), &ctx.config.subscriptions())?;
    let opts = ServerOptions { db: db.clone(), token: token.clone(), clock: ctx.clock.clone() };
    crate::runtime::build()?.block_on(async move {
        let receiver = Receiver::bind(&listen, opts).await?;
        let addr = receiver.local_addr()?;
        eprintln!(
            "shipdeck receiver on http://{addr} (log {}; {})",
            db.display(),
            if token.is_some() { "bearer token required" } else { "no token: anyone who can connect may post" }
        );
        receiver.serve(shutdown_signal()).await?;
        eprintln!("shipdeck receiver stopped; every acknowledged event is committed");
        Ok(0)
    })
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
