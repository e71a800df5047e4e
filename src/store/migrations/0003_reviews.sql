-- Failure reviews and improvement actions.

-- The reviews table of the first schema was never written by any version; it is replaced by one
-- that holds a review's sections, its state (draft, complete) and its authors.
DROP TABLE reviews;
CREATE TABLE reviews (
    deployment_id   INTEGER PRIMARY KEY REFERENCES deployments (id),
    state           TEXT NOT NULL,           -- draft, complete
    summary         TEXT NOT NULL,
    impact          TEXT NOT NULL,
    cause_category  TEXT NOT NULL,
    root_cause      TEXT NOT NULL,
    factors         TEXT NOT NULL,           -- JSON array of contributing factors
    lessons         TEXT NOT NULL,
    authors         TEXT NOT NULL,           -- JSON array, in order of first save
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    completed_ms    INTEGER
);

-- Every save of a review as its author wrote it: edits keep their history.
CREATE TABLE review_revisions (
    id              INTEGER PRIMARY KEY,
    deployment_id   INTEGER NOT NULL REFERENCES deployments (id),
    author          TEXT NOT NULL,
    body            TEXT NOT NULL,
    saved_ms        INTEGER NOT NULL
);
CREATE INDEX review_revisions_by_deployment ON review_revisions (deployment_id, id);

-- Improvement actions of a review, numbered within their deployment.
CREATE TABLE actions (
    id              INTEGER PRIMARY KEY,
    deployment_id   INTEGER NOT NULL REFERENCES deployments (id),
    n               INTEGER NOT NULL,
    text            TEXT NOT NULL,
    owner           TEXT NOT NULL,
    due             TEXT NOT NULL,           -- YYYY-MM-DD
    done_ms         INTEGER,
    done_by         TEXT,
    created_ms      INTEGER NOT NULL,
    UNIQUE (deployment_id, n)
);
CREATE INDEX actions_open ON actions (due) WHERE done_ms IS NULL;

-- History walks finished deployments newest first.
CREATE INDEX deployments_by_finished ON deployments (finished_ms, id) WHERE finished_ms IS NOT NULL;
