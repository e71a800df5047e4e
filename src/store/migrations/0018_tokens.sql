-- Per-person API tokens (issue 22): the server knows who is calling by the token, never by a
-- name the caller claims. Only the SHA-256 of a token's secret is kept. Issuing and revoking
-- are audit records that seal this table; `scope` is events, read, decide or admin.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    person      TEXT NOT NULL,      -- the person (or, scope events, the agent) it identifies
    name        TEXT,               -- what it is for: "laptop", "ci"
    scope       TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    issued_ms   INTEGER NOT NULL,
    expires_ms  INTEGER,            -- NULL: never
    revoked_ms  INTEGER,
    revoked_by  TEXT
);
