-- A deployment's notifications, for its drill-down and report (who was told what, when).
CREATE INDEX notifications_by_deployment ON notifications (deployment_id, id);
