-- EMS SQLite schema, version 7: idempotency keys (see ems.core.idempotency).

-- how long a queue remembers a send's idempotency key
ALTER TABLE queues ADD COLUMN deduplication_window_seconds INTEGER NOT NULL DEFAULT 300;

-- a send's idempotency key (hashed), remembered per queue (queue_key) or topic (minus the
-- topic's key: one table for both) until expires_at: a repeat answers
-- message_id and stores nothing. Kept apart from messages so that it outlives their deletion.
CREATE TABLE idempotency_keys (
    queue_key INTEGER NOT NULL,
    key_hash BLOB NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_key, key_hash)
) WITHOUT ROWID;
-- the sweeper drops expired keys oldest first
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
