-- EMS SQLite schema: the current version in full. Migrations must produce exactly this.

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
    created_at INTEGER NOT NULL,
    -- the queue's send-only and receive-only capability ids (hashes)
    send_hash BLOB,
    receive_hash BLOB,
    -- the API key that created it, when API keys are configured
    owner TEXT,
    -- null: the server's default limit
    max_stored_messages INTEGER,
    max_stored_bytes INTEGER,
    -- what the queue holds now, kept with every write so that a full queue can refuse sends
    stored_messages INTEGER NOT NULL DEFAULT 0,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    -- a human name for operators (not secret, grants nothing)
    label TEXT,
    -- how long the queue remembers a send's idempotency key
    deduplication_window_seconds INTEGER NOT NULL DEFAULT 300,
    -- a FIFO queue's settings as JSON; null: a standard queue
    fifo TEXT
);
CREATE INDEX queues_dead_letter ON queues (dead_letter_key) WHERE dead_letter_key IS NOT NULL;
CREATE UNIQUE INDEX queues_send_hash ON queues (send_hash) WHERE send_hash IS NOT NULL;
CREATE UNIQUE INDEX queues_receive_hash ON queues (receive_hash) WHERE receive_hash IS NOT NULL;
CREATE INDEX queues_owner ON queues (owner) WHERE owner IS NOT NULL;
CREATE INDEX queues_label ON queues (label) WHERE label IS NOT NULL;

-- Times are integer milliseconds since the Unix epoch.
-- seq is a message's identity in receipt handles: EMS numbers messages from meta
-- 'next_message_seq', a high-water mark that only grows, so a number is never handed out twice
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
    body BLOB NOT NULL,
    -- at-rest encryption: the id of the key that sealed the body, null for plaintext
    cipher INTEGER,
    -- the full-id hash of the queue it was dead-lettered from (null: sent to this queue)
    source_hash BLOB,
    -- a FIFO message's group (null on standard queues)
    group_id TEXT
);
-- receive: the first visible messages of a partition; counts by state are covered by it too
CREATE INDEX messages_receivable ON messages (partition, visible_at, receive_count);
-- receive by correlation key: only correlated messages pay for this index
CREATE INDEX messages_correlated ON messages (partition, correlation_id, visible_at)
    WHERE correlation_id IS NOT NULL;
-- send order within a partition (rowid is the implicit last column): peek, age, retention
CREATE INDEX messages_by_partition ON messages (partition);
-- a FIFO receive looks for what precedes a message in its group
CREATE INDEX messages_grouped ON messages (partition, group_id, seq) WHERE group_id IS NOT NULL;


CREATE TABLE topics (
    key INTEGER PRIMARY KEY,
    id_hash BLOB NOT NULL UNIQUE,
    public_id TEXT NOT NULL UNIQUE,
    max_message_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    owner TEXT,
    fifo TEXT
);
CREATE INDEX topics_owner ON topics (owner) WHERE owner IS NOT NULL;

CREATE TABLE subscriptions (
    key INTEGER PRIMARY KEY,
    topic_key INTEGER NOT NULL REFERENCES topics (key),
    subscription_id TEXT NOT NULL UNIQUE,
    protocol TEXT NOT NULL,
    status TEXT NOT NULL,
    filter_policy TEXT,
    -- protocol 'queue'
    queue_key INTEGER REFERENCES queues (key),
    -- protocol 'http'
    url TEXT,
    policy TEXT,
    signing_secret TEXT,
    challenge TEXT,
    confirm_url TEXT,
    dead_letter_key INTEGER REFERENCES queues (key),
    created_at INTEGER NOT NULL,
    -- delivery statistics
    delivered INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    last_success_at INTEGER,
    -- SNS subscriptions (ems.sns): what they deliver, as JSON
    sns TEXT
);
CREATE INDEX subscriptions_topic ON subscriptions (topic_key);
CREATE INDEX subscriptions_queue ON subscriptions (queue_key) WHERE queue_key IS NOT NULL;
CREATE INDEX subscriptions_dead_letter ON subscriptions (dead_letter_key)
    WHERE dead_letter_key IS NOT NULL;
CREATE UNIQUE INDEX subscriptions_challenge ON subscriptions (challenge)
    WHERE challenge IS NOT NULL;

-- published messages that still have webhook deliveries to make
CREATE TABLE topic_messages (
    key INTEGER PRIMARY KEY,
    topic_key INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT,
    correlation_id TEXT,
    attributes TEXT,
    published_at INTEGER NOT NULL,
    cipher INTEGER,
    -- published through the SNS API: topic ARN, subject, messages, signatures, as JSON
    sns TEXT
);
CREATE INDEX topic_messages_topic ON topic_messages (topic_key);

-- the outbox: one row per push still to make (a notification, or a confirmation request)
CREATE TABLE deliveries (
    key INTEGER PRIMARY KEY,
    subscription_key INTEGER NOT NULL,
    message_key INTEGER,
    kind TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
CREATE INDEX deliveries_subscription ON deliveries (subscription_key, next_attempt_at);
CREATE INDEX deliveries_message ON deliveries (message_key) WHERE message_key IS NOT NULL;

-- SQS queue names (ems.sqs): an account's name for an EMS queue, whose id is sealed
CREATE TABLE sqs_queues (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    id_hash BLOB NOT NULL,
    sealed_queue_id BLOB NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    -- the Policy attribute as given ('': none); not enforced
    policy TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account, name)
) WITHOUT ROWID;

-- SNS topic names (ems.sns): an account's name for an EMS topic, whose id is sealed
CREATE TABLE sns_topics (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    id_hash BLOB NOT NULL,
    sealed_topic_id BLOB NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
) WITHOUT ROWID;

-- message move tasks (dead-letter redrive, ems.core.redrive)
CREATE TABLE move_tasks (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    -- the task's public handle (random)
    handle TEXT NOT NULL UNIQUE,
    -- the dead-letter queue the messages leave
    source_key INTEGER NOT NULL,
    -- the full-id hash of where they go (a hash: a key of a deleted queue can be reused);
    -- null: each back to the queue it was dead-lettered from
    destination_hash BLOB,
    -- what the caller named the queues by (SQS ARNs), shown back in listings
    source_label TEXT,
    destination_label TEXT,
    -- messages per second; null: as fast as the store takes them
    rate INTEGER,
    status TEXT NOT NULL,
    to_move INTEGER NOT NULL,
    moved INTEGER NOT NULL DEFAULT 0,
    failure TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    -- the node running the task, until when (another takes over after)
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
);
-- one active task per dead-letter queue
CREATE UNIQUE INDEX move_tasks_active ON move_tasks (source_key)
    WHERE status IN ('RUNNING', 'CANCELLING');
CREATE INDEX move_tasks_by_source ON move_tasks (source_key, key);

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

-- a FIFO receive's attempt id (hashed), per queue, until expires_at: a retry with the same id
-- answers the same messages and receipt handles while none of them changed. messages holds
-- them as JSON [[seq, receive_count, visible_at], ...], in the order they were answered.
CREATE TABLE sqs_receive_attempts (
    queue_key INTEGER NOT NULL,
    attempt_hash BLOB NOT NULL,
    messages TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_key, attempt_hash)
) WITHOUT ROWID;
CREATE INDEX sqs_receive_attempts_expiry ON sqs_receive_attempts (expires_at);
