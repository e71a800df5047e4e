//! The writer's index of stored event ids, per deployment, in memory.
//!
//! Agents choose random ids (UUIDv4). A unique B-tree index on random keys dirties a different
//! page for nearly every insert, and each dirty page is written to the WAL at every commit; at a
//! million events that caps ingest far below what SQLite can append. Instead the writer keeps,
//! for each deployment it has written to, a hash map from the 64-bit id hash to the event's seq,
//! built on first use from the `events_by_deployment` index. Correctness across processes: every
//! write happens under SQLite's write lock, and before using the map the writer reads the rows
//! other processes appended since its last look (`seq` only grows), so the map is exact whenever
//! it is consulted. A hash match is confirmed by comparing the stored id text.

use rusqlite::{Transaction, params};
use std::collections::HashMap;

/// Deployments whose ids are kept in memory at most; the least recently used is dropped.
const MAX_DEPLOYMENTS: usize = 64;

#[derive(Debug, Default)]
pub(super) struct DedupeIndex {
    /// Highest seq this index has seen (its own inserts and others').
    synced_seq: i64,
    deployments: HashMap<i64, Ids>,
    /// Logical clock for least-recently-used eviction.
    tick: u64,
}

#[derive(Debug, Default)]
struct Ids {
    /// id hash to the seq of the first event with that hash.
    first: HashMap<i64, i64>,
    /// Further seqs for hashes shared by different ids (64-bit collisions).
    more: HashMap<i64, Vec<i64>>,
    used: u64,
}

impl Ids {
    fn insert(&mut self, hash: i64, seq: i64) {
        if let Some(prev) = self.first.insert(hash, seq) {
            self.first.insert(hash, prev);
            self.more.entry(hash).or_default().push(seq);
        }
    }
}

impl DedupeIndex {
    /// Brings the index up to date with rows other writers appended. Call inside the write
    /// transaction, before [`Self::is_duplicate`].
    pub(super) fn sync(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let max: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
        if max < self.synced_seq {
            // The file was replaced or rolled back under us: start again.
            self.deployments.clear();
        } else if max > self.synced_seq && !self.deployments.is_empty() {
            let mut stmt = tx.prepare_cached("SELECT deployment_id, id_hash, seq FROM events WHERE seq > ?1")?;
            let mut rows = stmt.query([self.synced_seq])?;
            while let Some(r) = rows.next()? {
                if let Some(ids) = self.deployments.get_mut(&r.get::<_, i64>(0)?) {
                    ids.insert(r.get(1)?, r.get(2)?);
                }
            }
        }
        self.synced_seq = max;
        Ok(())
    }

    /// Whether `id` (with hash `hash`) is already stored for `deployment`.
    pub(super) fn is_duplicate(
        &mut self,
        tx: &Transaction<'_>,
        deployment: i64,
        hash: i64,
        id: &str,
    ) -> rusqlite::Result<bool> {
        self.tick += 1;
        if !self.deployments.contains_key(&deployment) {
            self.load(tx, deployment)?;
        }
        let Some(ids) = self.deployments.get_mut(&deployment) else { return Ok(false) };
        ids.used = self.tick;
        let Some(&first) = ids.first.get(&hash) else { return Ok(false) };
        let candidates = std::iter::once(first).chain(ids.more.get(&hash).into_iter().flatten().copied());
        let mut stored = tx.prepare_cached("SELECT event_id FROM events WHERE seq = ?1")?;
        for seq in candidates.collect::<Vec<_>>() {
            if stored.query_row([seq], |r| r.get::<_, String>(0))? == id {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records an event just appended by this writer.
    pub(super) fn record(&mut self, deployment: i64, hash: i64, seq: i64) {
        if let Some(ids) = self.deployments.get_mut(&deployment) {
            ids.insert(hash, seq);
        }
        self.synced_seq = self.synced_seq.max(seq);
    }

    /// Forgets everything (after a transaction that did not commit).
    pub(super) fn reset(&mut self) {
        self.deployments.clear();
        self.synced_seq = 0;
    }

    fn load(&mut self, tx: &Transaction<'_>, deployment: i64) -> rusqlite::Result<()> {
        if self.deployments.len() >= MAX_DEPLOYMENTS {
            if let Some(&oldest) = self.deployments.iter().min_by_key(|(_, ids)| ids.used).map(|(k, _)| k) {
                self.deployments.remove(&oldest);
            }
        }
        let mut ids = Ids::default();
        let mut stmt = tx.prepare_cached("SELECT id_hash, seq FROM events WHERE deployment_id = ?1 AND seq <= ?2")?;
        let mut rows = stmt.query(params![deployment, self.synced_seq])?;
        while let Some(r) = rows.next()? {
            ids.insert(r.get(0)?, r.get(1)?);
        }
        self.deployments.insert(deployment, ids);
        Ok(())
    }
}
