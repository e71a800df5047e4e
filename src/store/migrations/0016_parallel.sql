-- Deployment techniques (issue 12, second part): blue/green switch-overs and supervised runs.

-- One row per `parallel` deployment: its two sets and where the traffic is.
CREATE TABLE switchovers (
    deployment_id    INTEGER PRIMARY KEY REFERENCES deployments(id),
    phase            TEXT NOT NULL,     -- the phase whose gate is the switch-over ("switch")
    new_set          TEXT NOT NULL,     -- the selector of the set that gets the new release
    new_phase        TEXT NOT NULL,     -- the phase that deploys it
    old_targets      TEXT NOT NULL,     -- JSON array of the old set's target names
    keep_old_ms      INTEGER NOT NULL,  -- how long the old set is kept after the switch-over
    switched_ms      INTEGER,           -- traffic moved to the new set (the gate was approved)
    switched_back_ms INTEGER            -- traffic moved back to the old set
);

-- The model's definition hash at plan time, and whether the run was supervised (k of N).
ALTER TABLE deployments ADD COLUMN model_hash TEXT;
ALTER TABLE deployments ADD COLUMN supervised_run INTEGER;
ALTER TABLE deployments ADD COLUMN supervised_of INTEGER;
CREATE INDEX deployments_model_hash ON deployments (model, model_hash);
