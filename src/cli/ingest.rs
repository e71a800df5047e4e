//! `shipdeck ingest FILE|-`: import NDJSON events straight into the log.
//!
//! Same validation and same summary as `POST /v1/events`; lines are committed in chunks, so a
//! large import does not hold the write lock for long and survives an interruption with every
//! committed chunk kept (resending is safe: ids deduplicate).

use super::{Context, Reported};
use crate::domain::event::parse_line;
use crate::store::{IngestOutcome, Store, Submission};
use std::io::BufRead;
use std::path::PathBuf;

const CHUNK_LINES: usize = 10_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON file, one event a line; - reads stdin
    file: PathBuf,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<i32> {
    // A file shows its bytes read (on a terminal); stdin, of unknown length, the lines.
    let (reader, progress, by_bytes): (Box<dyn BufRead>, _, _) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), crate::progress::counter("ingesting lines"), false)
    } else {
        let f = std::fs::File::open(&args.file)
            .map_err(|e| super::usage(format!("cannot read \"{}\": {e}", args.file.display())))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(std::io::BufReader::new(f)), crate::progress::bytes(len, "ingesting"), true)
    };
    let mut store = Store::open(&ctx.db_path()?)?;
    store.set_clock_skew(ctx.config.receiver.clock_skew);
    store.set_budget_warning(ctx.config.notify.budget_warning);
    let mut total = IngestOutcome::default();
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    let mut early = Vec::new();
    let mut flush =
        |chunk: &mut Vec<_>, early: &mut Vec<(usize, String)>, total: &mut IngestOutcome| -> anyhow::Result<()> {
            let now = ctx.clock.now();
            let sub = Submission { events: std::mem::take(chunk), received_ms: now.timestamp_millis() };
            let out = if sub.events.is_empty() { IngestOutcome::default() } else { store.ingest(&[sub])?.remove(0) };
            total.absorb(out.with_rejections(early.drain(..)));
            Ok(())
        };
    for (i, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                early.push((i + 1, "line is not valid UTF-8".to_owned()));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        progress.inc(if by_bytes { line.len() as u64 + 1 } else { 1 });
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line, ctx.clock.now()) {
            Ok(e) => chunk.push((i + 1, e)),
            Err(e) => early.push((i + 1, e.0)),
        }
        if chunk.len() >= CHUNK_LINES {
            flush(&mut chunk, &mut early, &mut total)?;
        }
    }
    flush(&mut chunk, &mut early, &mut total)?;
    progress.finish_and_clear();
    total.rejected.sort_by_key(|r| r.line);
    println!("{}", serde_json::to_string(&total)?);
    if total.rejected.is_empty() {
        Ok(0)
    } else {
        Err(Reported(format!("{} line(s) rejected; the other {} stored", total.rejected.len(), total.accepted)).into())
    }
}
