-- The change windows and freezes decisions are checked against, stored with the team (JSON
-- arrays) by the same audited sync: a caller's own config without a freeze counts for nothing.
-- NULL: the team was stored before them; decisions refuse until the next `team sync`.
ALTER TABLE team_policy ADD COLUMN windows TEXT;
ALTER TABLE team_policy ADD COLUMN freezes TEXT;
