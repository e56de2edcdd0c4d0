-- EMS SQLite schema, version 3: scoped capabilities, owners, per-queue storage limits, and
-- at-rest encryption of bodies.

-- a queue's send-only and receive-only capability ids (hashes; null until created or rotated)
ALTER TABLE queues ADD COLUMN send_hash BLOB;
ALTER TABLE queues ADD COLUMN receive_hash BLOB;
-- the API key that created it, when API keys are configured
ALTER TABLE queues ADD COLUMN owner TEXT;
-- null: the server's default limit
ALTER TABLE queues ADD COLUMN max_stored_messages INTEGER;
ALTER TABLE queues ADD COLUMN max_stored_bytes INTEGER;
-- what the queue holds now, kept with every write so that a full queue can refuse sends
ALTER TABLE queues ADD COLUMN stored_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX queues_send_hash ON queues (send_hash) WHERE send_hash IS NOT NULL;
CREATE UNIQUE INDEX queues_receive_hash ON queues (receive_hash) WHERE receive_hash IS NOT NULL;
CREATE INDEX queues_owner ON queues (owner) WHERE owner IS NOT NULL;

ALTER TABLE topics ADD COLUMN owner TEXT;

-- at-rest encryption: the id of the key that sealed the body, null for plaintext
ALTER TABLE messages ADD COLUMN cipher INTEGER;
ALTER TABLE topic_messages ADD COLUMN cipher INTEGER;
CREATE INDEX topics_owner ON topics (owner) WHERE owner IS NOT NULL;

UPDATE queues SET
    stored_messages = (SELECT count(*) FROM messages m WHERE m.partition = queues.partition),
    stored_bytes = (SELECT coalesce(sum(length(body)), 0) FROM messages m
                    WHERE m.partition = queues.partition);
