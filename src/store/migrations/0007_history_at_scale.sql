-- History at the scale of years: 100,000 finished deployments and more.

-- History walks finished deployments newest first and filters on these columns: with all of them
-- in the index, a page reads the index until it has its rows, and a count reads only the index.
-- It replaces the narrower index of 0003.
CREATE INDEX deployments_history ON deployments
    (finished_ms, id, status, environment, model, requested_by, release_id, started_ms)
    WHERE finished_ms IS NOT NULL;
DROP INDEX deployments_by_finished;

-- How many finished deployments there are per result, environment, model, requester and
-- service, kept by the triggers below in the transaction that finishes (or reopens) one: the
-- counts of History's filter bar are sums over this small table, not walks over every row.
CREATE TABLE history_counts (
    status        TEXT NOT NULL,
    environment   TEXT NOT NULL,
    model         TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    release_name  TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (status, environment, model, requested_by, release_name)
) WITHOUT ROWID;

INSERT INTO history_counts
    SELECT d.status, d.environment, d.model, d.requested_by, r.name, count(*)
    FROM deployments d JOIN releases r ON r.id = d.release_id
    WHERE d.finished_ms IS NOT NULL
    GROUP BY d.status, d.environment, d.model, d.requested_by, r.name;

-- A finished deployment leaves its count when it is reopened (a retry) or its result changes.
CREATE TRIGGER history_counts_out AFTER UPDATE OF status, finished_ms ON deployments
    WHEN old.finished_ms IS NOT NULL AND (new.finished_ms IS NULL OR new.status IS NOT old.status)
BEGIN
    UPDATE history_counts SET n = n - 1
    WHERE status = old.status AND environment = old.environment AND model = old.model
      AND requested_by = old.requested_by
      AND release_name = (SELECT name FROM releases WHERE id = old.release_id);
END;

-- ...and joins the count of its result when it finishes.
CREATE TRIGGER history_counts_in AFTER UPDATE OF status, finished_ms ON deployments
    WHEN new.finished_ms IS NOT NULL AND (old.finished_ms IS NULL OR new.status IS NOT old.status)
BEGIN
    INSERT INTO history_counts (status, environment, model, requested_by, release_name, n)
    VALUES (new.status, new.environment, new.model, new.requested_by,
            (SELECT name FROM releases WHERE id = new.release_id), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
