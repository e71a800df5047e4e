//! What the log holds, counted for operations: the receiver's `/metrics` gauges.
//!
//! Each count reads an index or the few open deployments, never the events, so a scrape every
//! second costs the receiver next to nothing however large the log is.

use super::gates::{load_phases, open_gate};
use super::{Store, StoreError};
use crate::domain::DeploymentStatus;

/// The states of a delivery in the outbox (`0010_notifications.sql`), each exported even at 0.
const DELIVERY_STATES: [&str; 5] = ["queued", "sending", "retrying", "sent", "failed"];

/// Counts of what the log holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationalCounts {
    /// Deployments by status, every status (0 included).
    pub deployments: Vec<(DeploymentStatus, i64)>,
    /// Gates that hold a deployment until someone decides (pending, or run past by agents).
    pub pending_gates: i64,
    /// Records in the audit trail of decisions.
    pub audit_records: i64,
    /// Notification deliveries in the outbox by state, every state (0 included).
    pub deliveries: Vec<(String, i64)>,
}

impl Store {
    /// Counts for `/metrics`, from one snapshot of the log.
    pub fn operational_counts(&self) -> Result<OperationalCounts, StoreError> {
        self.read_snapshot(|s| {
            let sql = |e| s.sql(e);
            let mut stmt =
                s.conn.prepare_cached("SELECT status, count(*) FROM deployments GROUP BY status").map_err(sql)?;
            let stored = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            let deployments = DeploymentStatus::ALL
                .into_iter()
                .map(|status| {
                    let n = stored.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
                    (status, n)
                })
                .collect();
            // A gate holds only a deployment that is not over: look at those alone.
            let mut open = s
                .conn
                .prepare_cached(
                    "SELECT id FROM deployments
                     WHERE status IN ('planned', 'running', 'awaiting_approval', 'verifying')",
                )
                .map_err(sql)?;
            let ids = open
                .query_map([], |r| r.get::<_, i64>(0))
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            let mut pending_gates = 0;
            for id in ids {
                let phases = load_phases(&s.conn, id).map_err(sql)?;
                if open_gate(&s.conn, &phases).map_err(sql)?.is_some() {
                    pending_gates += 1;
                }
            }
            let audit_records =
                s.conn.query_row("SELECT count(*) FROM gate_decisions", [], |r| r.get(0)).map_err(sql)?;
            let mut by_state =
                s.conn.prepare_cached("SELECT state, count(*) FROM deliveries GROUP BY state").map_err(sql)?;
            let stored = by_state
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            let mut deliveries: Vec<(String, i64)> =
                DELIVERY_STATES.iter().map(|state| ((*state).to_owned(), 0)).collect();
            for (state, n) in stored {
                match deliveries.iter_mut().find(|(s, _)| *s == state) {
                    Some(slot) => slot.1 = n,
                    None => deliveries.push((state, n)),
                }
            }
            Ok(OperationalCounts { deployments, pending_gates, audit_records, deliveries })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::DeploymentStatus;
    use crate::store::Store;
    use crate::store::testing::Plan;

    #[test]
    fn counts_deployments_by_status_pending_gates_and_audit_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let empty = store.operational_counts().expect("counts");
        assert_eq!((empty.pending_gates, empty.audit_records), (0, 0));
        assert!(empty.deployments.iter().all(|(_, n)| *n == 0));
        Plan::new("phased", 10).plan(&mut store);
        Plan::new("phased", 10).plan(&mut store);
        let counts = store.operational_counts().expect("counts");
        let count = |status| counts.deployments.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
        assert_eq!(count(DeploymentStatus::AwaitingApproval), 2);
        assert_eq!(counts.deployments.iter().map(|(_, n)| n).sum::<i64>(), 2);
        // The phased model's pilot gate holds both from the start.
        assert_eq!(counts.pending_gates, 2);
    }
}
