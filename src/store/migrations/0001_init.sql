-- The deployment log. Times are INTEGER milliseconds since the Unix epoch, UTC.
-- Derived state (targets.status, phases counts and status, deployments.status) is updated in
-- the same transaction that appends the events it follows from.

CREATE TABLE releases (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    change_ref  TEXT,
    notes       TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    UNIQUE (name, version)
);

-- A deployment's key is 'DEP-' || id.
CREATE TABLE deployments (
    id            INTEGER PRIMARY KEY,
    release_id    INTEGER NOT NULL REFERENCES releases (id),
    environment   TEXT NOT NULL,
    model         TEXT NOT NULL,
    technique     TEXT NOT NULL,
    steps         TEXT NOT NULL,          -- JSON array: the lifecycle steps, copied from the model
    change_ref    TEXT,
    requested_by  TEXT NOT NULL,
    status        TEXT NOT NULL,
    planned_ms    INTEGER NOT NULL,       -- planned start
    created_ms    INTEGER NOT NULL,
    started_ms    INTEGER,
    finished_ms   INTEGER,
    target_count  INTEGER NOT NULL,
    last_event_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deployments_by_status ON deployments (status, id);

CREATE TABLE phases (
    id              INTEGER PRIMARY KEY,
    deployment_id   INTEGER NOT NULL REFERENCES deployments (id),
    idx             INTEGER NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    target_count    INTEGER NOT NULL,
    failure_budget  INTEGER NOT NULL,
    succeeded       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    running         INTEGER NOT NULL DEFAULT 0,
    gate            TEXT,                 -- JSON gate policy, copied from the model
    started_ms      INTEGER,
    finished_ms     INTEGER,
    UNIQUE (deployment_id, idx)
);

CREATE TABLE targets (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL REFERENCES deployments (id),
    phase_id       INTEGER NOT NULL REFERENCES phases (id),
    name           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    progress       TEXT NOT NULL DEFAULT '[]',   -- JSON per-step marks (domain::lifecycle)
    last_step      TEXT,
    last_status    TEXT,
    last_message   TEXT,
    last_error     TEXT,                         -- message of the newest failed event
    last_at_ms     INTEGER,                      -- agent time of the newest event
    last_seq       INTEGER,
    head_seq       INTEGER,                      -- newest-arriving event: start of the chain
    seen_ms        INTEGER,                      -- receive time of the newest event (silence)
    UNIQUE (deployment_id, name)
);
CREATE INDEX targets_by_phase ON targets (phase_id, id);

-- Append-only. seq is the arrival order; event_id the agent's idempotency key, id_hash its
-- 64-bit FNV-1a hash. (deployment_id, event_id) is unique: the single writer checks it against
-- an in-memory index of id_hash per live deployment, rebuilt from this table, instead of a
-- table-wide unique index whose random keys would dirty a page per insert.
-- prev_seq chains a target's events newest to oldest (targets.head_seq is the newest), so a
-- target's history needs no second index on this table.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL,
    phase_id       INTEGER,
    target_id      INTEGER,
    prev_seq       INTEGER,
    event_id       TEXT NOT NULL,
    id_hash        INTEGER NOT NULL,
    step           TEXT NOT NULL,
    status         TEXT NOT NULL,
    at_ms          INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    message        TEXT,
    data           TEXT
);
-- Within a deployment seq only grows, so inserts append to the end of its range. Covering
-- id_hash lets the writer rebuild a deployment's dedupe index without reading whole rows.
CREATE INDEX events_by_deployment ON events (deployment_id, seq, id_hash);

-- Room for the approvals, notifications and failure reviews built on this log.
CREATE TABLE gate_decisions (
    id             INTEGER PRIMARY KEY,
    phase_id       INTEGER NOT NULL REFERENCES phases (id),
    decision       TEXT NOT NULL,        -- approve, reject, retry, abort, rollback
    person         TEXT NOT NULL,
    role           TEXT,
    os_user        TEXT,
    comment        TEXT,
    policy_state   TEXT,                 -- JSON snapshot of the policy check
    decided_ms     INTEGER NOT NULL,
    prev_hash      TEXT,
    hash           TEXT
);
CREATE INDEX gate_decisions_by_phase ON gate_decisions (phase_id, id);

CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER REFERENCES deployments (id),
    kind           TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL DEFAULT '',
    created_ms     INTEGER NOT NULL,
    read_ms        INTEGER,
    delivered_ms   INTEGER
);
CREATE INDEX notifications_by_recipient ON notifications (recipient, id);

CREATE TABLE reviews (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL REFERENCES deployments (id),
    author         TEXT NOT NULL,
    cause          TEXT NOT NULL DEFAULT '',
    impact         TEXT NOT NULL DEFAULT '',
    lessons        TEXT NOT NULL DEFAULT '',
    actions        TEXT NOT NULL DEFAULT '',
    created_ms     INTEGER NOT NULL,
    restored_ms    INTEGER
);
