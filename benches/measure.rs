//! What the benchmarks measure with: the median of repeated runs, printed in milliseconds.

use anyhow::Context;
use std::time::{Duration, Instant};

/// The median of `xs` (zero for none).
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

/// `12.34 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The median time of `runs` runs of `f` (at least one), and its last answer.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Duration, T)> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed());
    }
    Ok((median(times), last.context("no run")?))
}

/// A real receiver on loopback over `db`, as `shipdeck serve` runs it, until [`Served::stop`].
pub struct Served {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    pub async fn start(ctx: &crate::Ctx, db: &std::path::Path) -> anyhow::Result<Self> {
        let options = shipdeck::server::ServerOptions {
            db: db.to_path_buf(),
            token: None,
            clock: ctx.clock.clone(),
            config: std::sync::Arc::new(ctx.config.clone()),
            signing_key: None,
        };
        let receiver = shipdeck::server::Receiver::bind("127.0.0.1:0", options).await?;
        let addr = receiver.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(receiver.serve(async {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop, task })
    }

    /// Where agents post.
    pub fn events_url(&self) -> String {
        format!("http://{}/v1/events", self.addr)
    }

    /// Stops it as a signal would, and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}
