-- Stakeholder notifications that reach people: rules with services and channels, and the
-- outbox of deliveries the delivery worker sends.

-- Stakeholder rules expanded to people, now also by service and with the channels that carry
-- them (empty: in-app only). Rebuilt because the key grows.
CREATE TABLE subscriptions_v2 (
    person        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    environments  TEXT NOT NULL,         -- JSON array; empty means all
    services      TEXT NOT NULL DEFAULT '[]', -- JSON array; empty means all
    channels      TEXT NOT NULL DEFAULT '[]', -- JSON array of channel names besides in_app
    PRIMARY KEY (person, kind, environments, services, channels)
);
INSERT INTO subscriptions_v2 (person, kind, environments) SELECT person, kind, environments FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v2 RENAME TO subscriptions;

-- The outbox: one row per (notification, channel) besides in_app (the notification row itself
-- is the in-app delivery). Written in the transaction of the happening that causes it.
-- state: queued, sending (claimed: lease_owner holds it until due_ms), retrying, sent, failed.
-- A claim moves due_ms to the end of the lease, so a delivery whose worker died is simply due
-- again and is resent with the same idempotency key.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    notification_id  INTEGER NOT NULL REFERENCES notifications (id),
    channel          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued',
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER,
    due_ms           INTEGER NOT NULL,
    lease_owner      TEXT,
    last_error       TEXT,
    sent_ms          INTEGER,
    created_ms       INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_ms) WHERE state IN ('queued', 'sending', 'retrying');
CREATE INDEX deliveries_by_notification ON deliveries (notification_id);
CREATE INDEX deliveries_failed ON deliveries (id) WHERE state = 'failed';

-- When the reminder that a deployment's planned start approaches was stored (once).
ALTER TABLE deployments ADD COLUMN start_reminded_ms INTEGER;
