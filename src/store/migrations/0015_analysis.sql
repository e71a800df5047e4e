-- Canary analysis (issue 12): the halt a failed analysis causes, and finding metric samples.
-- When the canary analysis failed (ms since the epoch): the phase stays failed whatever its
-- targets report, until a person retries it (which clears this).
ALTER TABLE phases ADD COLUMN analysis_failed_ms INTEGER;
-- Metric samples are `info` events; the analysis reads a deployment's by time. Partial, so
-- lifecycle events pay nothing for it.
CREATE INDEX events_info_by_time ON events (deployment_id, at_ms) WHERE status = 'info';
