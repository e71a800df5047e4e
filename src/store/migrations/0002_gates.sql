-- Approval gates, their audit trail and notifications.

-- When a phase's gate became pending (the phase before succeeded, or the deployment was planned
-- for a gate on the first phase); NULL while waiting or for phases without a gate.
ALTER TABLE phases ADD COLUMN gate_opened_ms INTEGER;

-- gate_decisions is also the audit trail: each row's hash is SHA-256 over its canonical
-- serialization, which includes the previous row's hash. reason is the written reason of a
-- rejection or of a freeze override; comment is free text.
ALTER TABLE gate_decisions ADD COLUMN reason TEXT;
ALTER TABLE gate_decisions ADD COLUMN deployment_id INTEGER;
CREATE INDEX gate_decisions_by_deployment ON gate_decisions (deployment_id, id);

-- The newest audit record, so that removing the last records is noticed too.
CREATE TABLE audit_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    count    INTEGER NOT NULL,
    hash     TEXT NOT NULL
);

-- The team as the config names it, copied in by commands that read the config, so that the
-- receiver can address a gate's notifications to the people allowed to approve it.
CREATE TABLE team (
    name     TEXT PRIMARY KEY,
    roles    TEXT NOT NULL               -- JSON array
);

-- Stakeholder rules expanded to people: who hears about which happening, in which environments.
CREATE TABLE subscriptions (
    person        TEXT NOT NULL,
    kind          TEXT NOT NULL,         -- gate_pending, gate_decided, phase_failed, ...
    environments  TEXT NOT NULL,         -- JSON array; empty means all
    PRIMARY KEY (person, kind, environments)
);

ALTER TABLE notifications ADD COLUMN phase_id INTEGER;
