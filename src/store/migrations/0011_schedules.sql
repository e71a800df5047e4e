-- Schedules: emergency freezes declared at run time, the estimated end of each deployment's
-- run (for conflict checks and the change calendar) and who may change the calendar's rules.

-- Freezes declared with `shipdeck freeze add`, honoured by every process from their commit on.
-- ended_ms: `freeze end` stopped it early (it then holds until ended_ms).
CREATE TABLE emergency_freezes (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    environments  TEXT NOT NULL,          -- JSON array; empty: every environment
    from_ms       INTEGER NOT NULL,
    until_ms      INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    declared_by   TEXT NOT NULL,
    declared_ms   INTEGER NOT NULL,
    ended_ms      INTEGER,
    ended_by      TEXT
);

-- When the deployment's run is expected to end (planned start + the model's estimate). NULL:
-- planned before it was recorded (an hour is assumed).
ALTER TABLE deployments ADD COLUMN planned_end_ms INTEGER;
CREATE INDEX deployments_by_planned ON deployments (planned_ms);
-- Deployments that hold a slot on the calendar, by planned start (conflict checks read only these).
CREATE INDEX deployments_open_by_planned ON deployments (planned_ms)
    WHERE status IN ('planned', 'running', 'awaiting_approval', 'verifying');
-- Deployments under way (started, not finished), however long ago they were planned.
CREATE INDEX deployments_under_way ON deployments (planned_ms)
    WHERE started_ms IS NOT NULL AND finished_ms IS NULL;

-- The roles that may declare freezes and override conflicts (JSON), stored with the team.
ALTER TABLE team_policy ADD COLUMN schedule TEXT;
