-- Deployment techniques (issue 12): target labels from the inventory.
-- A target's labels as a JSON object ({"site": "berlin", "rack": "r4"}); NULL when it has none.
ALTER TABLE targets ADD COLUMN labels TEXT;
