-- Notifications timed for people: the failure-budget warning (once per phase), stakeholder
-- rules' quiet hours and digests, and digest deliveries that carry several notifications.

-- When the phase's "failure budget nearly used" happening was stored (once per phase).
ALTER TABLE phases ADD COLUMN budget_warned_ms INTEGER;

-- Subscriptions gain the rule's timing: JSON {"quiet_hours", "zone", "digest_ms"} ('{}': send
-- at once). Rebuilt because the key grows (two rules may differ only in their timing).
CREATE TABLE subscriptions_v3 (
    person        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    environments  TEXT NOT NULL,
    services      TEXT NOT NULL DEFAULT '[]',
    channels      TEXT NOT NULL DEFAULT '[]',
    timing        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (person, kind, environments, services, channels, timing)
);
INSERT INTO subscriptions_v3 (person, kind, environments, services, channels)
    SELECT person, kind, environments, services, channels FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v3 RENAME TO subscriptions;

-- A digest delivery: digest_ms is its period; its notifications are listed in digest_items
-- (the delivery's own notification_id is the first of them). New notifications join a digest
-- of the same recipient and channel while it is still queued.
ALTER TABLE deliveries ADD COLUMN digest_ms INTEGER;
CREATE TABLE digest_items (
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id),
    notification_id  INTEGER NOT NULL REFERENCES notifications (id),
    PRIMARY KEY (delivery_id, notification_id)
) WITHOUT ROWID;
CREATE INDEX digest_items_by_notification ON digest_items (notification_id);
CREATE INDEX deliveries_open_digests ON deliveries (channel) WHERE digest_ms IS NOT NULL AND state = 'queued';
