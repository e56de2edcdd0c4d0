-- EMS PostgreSQL schema, version 6: idempotency keys (see ems.core.idempotency) and FIFO
-- queues (ems.core.fifo).

-- how long a queue remembers a send's idempotency key
ALTER TABLE queues ADD COLUMN deduplication_window_seconds integer NOT NULL DEFAULT 300;

-- a send's idempotency key (hashed), remembered per queue (queue_key) or topic (minus the
-- topic's key: one table for both) until expires_at: a repeat answers
-- message_id and stores nothing. The primary key is what makes two nodes agree on which send
-- was first. Kept apart from messages so that it outlives their deletion.
CREATE TABLE idempotency_keys (
    queue_key bigint NOT NULL,
    key_hash bytea NOT NULL,
    message_id text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (queue_key, key_hash)
);
-- the sweeper drops expired keys oldest first
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- a FIFO queue's settings as JSON (content_based_deduplication, deduplication_scope,
-- throughput_limit); null: a standard queue
ALTER TABLE queues ADD COLUMN fifo text;
-- a FIFO message's group (null on standard queues)
ALTER TABLE messages ADD COLUMN group_id text;
-- a FIFO receive looks for what precedes a message in its group
CREATE INDEX messages_grouped ON messages (partition, group_id, seq) WHERE group_id IS NOT NULL;
