-- Signed audit records (issue 22): the server's Ed25519 signature of a record's hash, in hex.
-- Not part of the hash, so every older hash holds; NULL for records written without the key.
ALTER TABLE gate_decisions ADD COLUMN signature TEXT;
