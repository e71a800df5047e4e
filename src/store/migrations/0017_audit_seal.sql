-- The audit trail seals the stored facts decisions depend on (issue 21): a record that changes
-- one (a plan, a team sync, a freeze added or ended) carries the fact as it stands after the
-- change, hashed with the record. NULL: the record changed no such fact. A log upgraded to
-- this version gets one `seal` record covering what it held (appended by the upgrade).
ALTER TABLE gate_decisions ADD COLUMN seal TEXT;
CREATE INDEX gate_decisions_sealed ON gate_decisions (deployment_id, id) WHERE seal IS NOT NULL;
