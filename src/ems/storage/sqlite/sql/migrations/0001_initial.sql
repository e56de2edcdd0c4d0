-- EMS SQLite schema, version 1: queues and messages.

CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- A partition holds one queue's messages. Purging or deleting a queue retires its partition in
-- O(1); the sweeper then deletes the retired partition's rows in small chunks.
CREATE TABLE partitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX partitions_retired ON partitions (id) WHERE retired = 1;

CREATE TABLE queues (
    key INTEGER PRIMARY KEY,
    id_hash BLOB NOT NULL UNIQUE,
    partition INTEGER NOT NULL UNIQUE REFERENCES partitions (id),
    visibility_timeout INTEGER NOT NULL,
    retention_seconds INTEGER NOT NULL,
    max_message_bytes INTEGER NOT NULL,
    delay_seconds INTEGER NOT NULL,
    receive_wait_seconds INTEGER NOT NULL,
    dead_letter_key INTEGER REFERENCES queues (key),
    max_receives INTEGER,
    dead_letter_sealed BLOB,
    created_at INTEGER NOT NULL
);
CREATE INDEX queues_dead_letter ON queues (dead_letter_key) WHERE dead_letter_key IS NOT NULL;

-- Times are integer milliseconds since the Unix epoch.
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    partition INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    message_id TEXT NOT NULL,
    correlation_id TEXT,
    attributes TEXT,
    body BLOB NOT NULL
);
-- receive: the first visible messages of a partition; counts by state are covered by it too
CREATE INDEX messages_receivable ON messages (partition, visible_at, receive_count);
-- receive by correlation key: only correlated messages pay for this index
CREATE INDEX messages_correlated ON messages (partition, correlation_id, visible_at)
    WHERE correlation_id IS NOT NULL;
-- send order within a partition (rowid is the implicit last column): peek, age, retention
CREATE INDEX messages_by_partition ON messages (partition);
