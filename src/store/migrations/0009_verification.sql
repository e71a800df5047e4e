-- Verification and conformance: the release record, checklists and conformance flags.

-- The release record of a deployment as planned (JSON: components with checksums, notes,
-- notes link, change reference, test evidence links); NULL for deployments planned before.
ALTER TABLE deployments ADD COLUMN release_record TEXT;

-- The change windows (names, JSON array) the deployment's activity must fall in, copied from
-- its model; NULL or empty: any time.
ALTER TABLE deployments ADD COLUMN windows TEXT;

-- The target an event named when it is not in the plan (target_id is NULL then): the log keeps
-- what agents reported, and such events are flagged.
ALTER TABLE events ADD COLUMN target_name TEXT;

-- Checklist items, copied from the model when the deployment is planned. list is pre,
-- environment or post; state is open, done or failed. Ticking one is a decision: who, when,
-- the evidence, and an audit record (checklist_ticks keeps each tick's audit link).
CREATE TABLE checklist_items (
    id                 INTEGER PRIMARY KEY,
    deployment_id      INTEGER NOT NULL REFERENCES deployments (id),
    list               TEXT NOT NULL,
    idx                INTEGER NOT NULL,
    item               TEXT NOT NULL,          -- the item's id in the config
    text               TEXT NOT NULL,
    roles              TEXT NOT NULL,          -- JSON array of roles allowed to tick it
    auto_step          TEXT,                   -- ticked by agents' events of this step
    auto_percent       REAL,                   -- share of targets whose step must succeed
    evidence_required  INTEGER NOT NULL DEFAULT 0,
    state              TEXT NOT NULL DEFAULT 'open',
    ticked_by          TEXT,
    ticked_ms          INTEGER,
    evidence           TEXT,
    audit_id           INTEGER,
    UNIQUE (deployment_id, item)
);

-- One row per deployment, kind and phase ('' for events without a phase): what agents did that
-- nobody authorised. Maintained in the transaction that stores the events.
CREATE TABLE conformance_flags (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL REFERENCES deployments (id),
    kind           TEXT NOT NULL,
    phase          TEXT NOT NULL DEFAULT '',
    first_ms       INTEGER NOT NULL,
    last_ms        INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    samples        TEXT NOT NULL DEFAULT '[]',  -- JSON array: a few targets involved
    UNIQUE (deployment_id, kind, phase)
);

-- What an audit record is about: a gate decision (NULL, as before), a checklist tick or a
-- conformance flag; subject names the item or flag.
ALTER TABLE gate_decisions ADD COLUMN subject TEXT;
