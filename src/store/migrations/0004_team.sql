-- Who may do what comes from the log: the team (people, roles, OS logins) and the rules about
-- who may change it, changed only by an audited `team sync` (or the receiver at start).

ALTER TABLE team ADD COLUMN login TEXT;

-- The identity mode and the roles allowed to change the team and to plan for someone else, as
-- last synced. No row: no team was ever stored (the first sync seeds it).
CREATE TABLE team_policy (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    identity          TEXT NOT NULL,          -- declared | os-login
    admin_roles       TEXT NOT NULL,          -- JSON array: may run `team sync`
    plan_for_others   TEXT NOT NULL,          -- JSON array: may plan with --requested-by another
    synced_ms         INTEGER NOT NULL
);

-- Who planned a deployment (the operator, who may differ from the requester when allowed) and
-- from which OS account, so four eyes can hold by account too; the recovery policy copied from
-- the model (JSON: roles that may retry, abort and roll back; when a silent target is lost).
ALTER TABLE deployments ADD COLUMN planned_by TEXT;
ALTER TABLE deployments ADD COLUMN planned_os_user TEXT;
ALTER TABLE deployments ADD COLUMN recovery TEXT;

-- The audit trail also holds what concerns no phase (team syncs, planning for someone else), so
-- phase_id may be NULL now (SQLite cannot drop NOT NULL in place: the table is rebuilt, rows and
-- hashes unchanged). outcome NULL: the decision was recorded; 'refused': it was tried and the
-- rule in policy_state refused it (kept in the audit trail, never counted).
CREATE TABLE gate_decisions_v3 (
    id             INTEGER PRIMARY KEY,
    phase_id       INTEGER REFERENCES phases (id),
    decision       TEXT NOT NULL,        -- approve, reject, retry, abort, rollback, team_sync, plan_for
    person         TEXT NOT NULL,
    role           TEXT,
    os_user        TEXT,
    comment        TEXT,
    policy_state   TEXT,
    decided_ms     INTEGER NOT NULL,
    prev_hash      TEXT,
    hash           TEXT,
    reason         TEXT,
    deployment_id  INTEGER,
    outcome        TEXT
);
INSERT INTO gate_decisions_v3 (id, phase_id, decision, person, role, os_user, comment, policy_state, decided_ms,
                               prev_hash, hash, reason, deployment_id)
    SELECT id, phase_id, decision, person, role, os_user, comment, policy_state, decided_ms, prev_hash, hash,
           reason, deployment_id
    FROM gate_decisions;
DROP TABLE gate_decisions;
ALTER TABLE gate_decisions_v3 RENAME TO gate_decisions;
CREATE INDEX gate_decisions_by_phase ON gate_decisions (phase_id, id);
CREATE INDEX gate_decisions_by_deployment ON gate_decisions (deployment_id, id);
