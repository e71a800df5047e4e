//! Crashes and contention against the real binary and a real file.

use crate::support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Env, event, http};

const PER_BATCH: usize = 50;

fn batch(key: &str, agent: usize, n: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (0..PER_BATCH).map(|i| format!("a{agent}-b{n}-{i}")).collect();
    let body = ids
        .iter()
        .enumerate()
        .map(|(i, id)| event(id, key, &format!("web-{:02}", (agent * 7 + i) % 40 + 1), "install", "info"))
        .collect::<Vec<_>>()
        .join("\n");
    (ids, body)
}

#[test]
fn after_sigkill_every_acknowledged_event_is_kept_and_resending_duplicates_nothing() {
    let env = Env::new();
    let key = env.plan("big-bang", 40);
    let server = env.serve();
    let addr = server.addr.clone();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let sent_batches: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let agents: Vec<_> = (0..4)
        .map(|agent| {
            let (addr, key, acked, sent_batches) = (addr.clone(), key.clone(), acked.clone(), sent_batches.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    let (ids, body) = batch(&key, agent, n);
                    sent_batches.lock().expect("lock").push((agent, n));
                    match http(&addr, "POST", "/v1/events", &[], body.as_bytes()) {
                        Ok(r) if r.status == 200 => acked.lock().expect("lock").extend(ids),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    while acked.lock().expect("lock").len() < 40 * PER_BATCH && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut server = server;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    for a in agents {
        a.join().expect("agent thread");
    }
    let acked: HashSet<String> = acked.lock().expect("lock").iter().cloned().collect();
    assert!(acked.len() >= 40 * PER_BATCH, "the agents got replies before the kill");

    // The log opens cleanly and holds every acknowledged event.
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("checks");
    assert_eq!(check, "ok");
    drop(conn);
    let stored: HashSet<String> = env.event_ids(&key).into_iter().collect();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());

    // The agents resend everything they sent; nothing is stored twice.
    let server = env.serve();
    let batches = sent_batches.lock().expect("lock").clone();
    let mut all_ids = HashSet::new();
    for (agent, n) in &batches {
        let (ids, body) = batch(&key, *agent, *n);
        let reply = server.post("/v1/events", body.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let j = reply.json();
        assert_eq!(j["accepted"].as_u64().expect("n") + j["duplicates"].as_u64().expect("n"), PER_BATCH as u64);
        all_ids.extend(ids);
    }
    let after = env.event_ids(&key);
    assert_eq!(after.len(), all_ids.len(), "every event exactly once");
    assert_eq!(after.into_iter().collect::<HashSet<_>>(), all_ids);
    assert_eq!(env.run(&["status", &key]).code, 0);
}

#[test]
fn plan_status_and_ingest_from_other_processes_never_see_a_locked_database() {
    let env = Arc::new(Env::new());
    let key = env.plan("big-bang", 40);
    let server = env.serve();
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..3)
        .map(|agent| {
            let (addr, key, stop) = (server.addr.clone(), key.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (_, body) = batch(&key, agent, n);
                    let r = http(&addr, "POST", "/v1/events", &[], body.as_bytes()).expect("posts");
                    assert_eq!(r.status, 200, "{}", r.body);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let others: Vec<_> = (0..12)
        .map(|i| {
            let (env, key) = (env.clone(), key.clone());
            std::thread::spawn(move || match i % 3 {
                0 => env.run(&[
                    "plan",
                    "--release",
                    &format!("svc-{i}@1.0"),
                    "--env",
                    "staging",
                    "--model",
                    "rolling",
                    "--targets",
                    "a,b,c,d",
                ]),
                1 => env.run(&["status", &key, "--json"]),
                _ => {
                    let lines: Vec<String> =
                        (0..500).map(|j| event(&format!("ingest-{i}-{j}"), &key, "web-03", "verify", "info")).collect();
                    env.run_with_stdin(&["ingest", "-"], &lines.join("\n"))
                }
            })
        })
        .collect();
    for o in others {
        let run = o.join().expect("thread");
        assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
        assert!(!run.stderr.contains("locked"), "{}", run.stderr);
    }
    stop.store(true, Ordering::Relaxed);
    let posted: usize = load.into_iter().map(|t| t.join().expect("agent")).sum();
    assert!(posted > 0);
    let ids = env.event_ids(&key);
    assert_eq!(ids.len(), posted * PER_BATCH + 4 * 500, "every post and every import stored once");
}
