-- Improvement actions that come out of a model review: tied to a deployment model instead of a
-- deployment's failure review, with the suggestion (rule and numbers) that led to them.

-- SQLite cannot drop a NOT NULL: the table is rebuilt with deployment_id optional and a model.
-- Review actions keep their ids, numbers and state.
CREATE TABLE actions_v2 (
    id              INTEGER PRIMARY KEY,
    deployment_id   INTEGER REFERENCES deployments (id),  -- a failure review's action
    model           TEXT,                                 -- or a model review's action
    n               INTEGER NOT NULL,                     -- numbered within its deployment or model
    text            TEXT NOT NULL,
    owner           TEXT NOT NULL,
    due             TEXT NOT NULL,                        -- YYYY-MM-DD
    done_ms         INTEGER,
    done_by         TEXT,
    created_ms      INTEGER NOT NULL,
    created_by      TEXT,                                 -- who recorded a model action
    suggestion      TEXT,                                 -- JSON: the rule, subject and numbers behind it
    CHECK ((deployment_id IS NULL) <> (model IS NULL)),
    UNIQUE (deployment_id, n)
);
INSERT INTO actions_v2 (id, deployment_id, n, text, owner, due, done_ms, done_by, created_ms)
    SELECT id, deployment_id, n, text, owner, due, done_ms, done_by, created_ms FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v2 RENAME TO actions;
CREATE UNIQUE INDEX actions_by_model ON actions (model, n) WHERE model IS NOT NULL;
CREATE INDEX actions_open ON actions (due) WHERE done_ms IS NULL;
CREATE INDEX actions_done ON actions (done_ms) WHERE done_ms IS NOT NULL;
