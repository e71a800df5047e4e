-- History's free-text search: each deployment's words (its key, release and version,
-- environment, model, requester and change reference), lower case, in a trigram index. A word of
-- three or more characters is then found through the index instead of by reading every
-- finished deployment. The words never change after planning, so the row is written once, when
-- the deployment is planned.
CREATE VIRTUAL TABLE deployment_search USING fts5(text, tokenize = 'trigram');

INSERT INTO deployment_search (rowid, text)
    SELECT d.id, lower('dep-' || d.id || ' ' || r.name || '@' || r.version || ' ' || d.environment || ' '
                       || d.model || ' ' || d.requested_by || ' ' || coalesce(d.change_ref, ''))
    FROM deployments d JOIN releases r ON r.id = d.release_id;

CREATE TRIGGER deployment_search_in AFTER INSERT ON deployments
BEGIN
    INSERT INTO deployment_search (rowid, text)
    VALUES (new.id, lower('dep-' || new.id || ' '
                          || (SELECT name || '@' || version FROM releases WHERE id = new.release_id) || ' '
                          || new.environment || ' ' || new.model || ' ' || new.requested_by || ' '
                          || coalesce(new.change_ref, '')));
END;
