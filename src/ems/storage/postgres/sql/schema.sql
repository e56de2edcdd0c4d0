-- EMS PostgreSQL schema: the current version in full; migrations must produce exactly this.
-- Times are integer milliseconds since the Unix epoch, given by EMS (not now()), so that every
-- node and every test clock agree with the store.

CREATE TABLE meta (
    name text PRIMARY KEY,
    value bytea NOT NULL
);

-- A partition holds one queue's messages; purging or deleting a queue retires it in O(1), and
-- the sweeper deletes retired partitions' rows in chunks.
CREATE TABLE partitions (
    id bigserial PRIMARY KEY,
    retired boolean NOT NULL DEFAULT false
);
CREATE INDEX partitions_retired ON partitions (id) WHERE retired;

CREATE TABLE queues (
    key bigserial PRIMARY KEY,
    id_hash bytea NOT NULL UNIQUE,
    send_hash bytea UNIQUE,
    receive_hash bytea UNIQUE,
    partition bigint NOT NULL UNIQUE,
    visibility_timeout integer NOT NULL,
    retention_seconds integer NOT NULL,
    max_message_bytes integer NOT NULL,
    delay_seconds integer NOT NULL,
    receive_wait_seconds integer NOT NULL,
    dead_letter_key bigint,
    max_receives integer,
    dead_letter_sealed bytea,
    created_at bigint NOT NULL,
    owner text,
    max_stored_messages bigint,
    max_stored_bytes bigint,
    stored_messages bigint NOT NULL DEFAULT 0,
    stored_bytes bigint NOT NULL DEFAULT 0,
    -- a human name for operators (not secret, grants nothing)
    label text,
    -- how long the queue remembers a send's idempotency key
    deduplication_window_seconds integer NOT NULL DEFAULT 300,
    -- a FIFO queue's settings as JSON; null: a standard queue
    fifo text
);
CREATE INDEX queues_dead_letter ON queues (dead_letter_key) WHERE dead_letter_key IS NOT NULL;
CREATE INDEX queues_owner ON queues (owner) WHERE owner IS NOT NULL;
CREATE INDEX queues_stored ON queues (stored_messages DESC);
CREATE INDEX queues_label ON queues (label) WHERE label IS NOT NULL;

-- seq is a message's identity in receipt handles: a sequence never hands a number out twice
CREATE TABLE messages (
    seq bigserial PRIMARY KEY,
    partition bigint NOT NULL,
    visible_at bigint NOT NULL,
    sent_at bigint NOT NULL,
    receive_count integer NOT NULL DEFAULT 0,
    first_received_at bigint,
    message_id text NOT NULL,
    correlation_id text,
    attributes text,
    body bytea NOT NULL,
    cipher bigint,
    -- the full-id hash of the queue it was dead-lettered from (null: sent to this queue)
    source_hash bytea,
    -- a FIFO message's group (null on standard queues)
    group_id text
);
-- receive: the first visible messages of a partition; counts by state are covered by it too
CREATE INDEX messages_receivable ON messages (partition, visible_at, receive_count);
CREATE INDEX messages_correlated ON messages (partition, correlation_id, visible_at)
    WHERE correlation_id IS NOT NULL;
-- send order within a partition: peek, age, retention, dropping retired partitions
CREATE INDEX messages_by_partition ON messages (partition, seq);
-- a FIFO receive looks for what precedes a message in its group
CREATE INDEX messages_grouped ON messages (partition, group_id, seq) WHERE group_id IS NOT NULL;

CREATE TABLE topics (
    key bigserial PRIMARY KEY,
    id_hash bytea NOT NULL UNIQUE,
    public_id text NOT NULL UNIQUE,
    max_message_bytes integer NOT NULL,
    created_at bigint NOT NULL,
    owner text,
    fifo text
);
CREATE INDEX topics_owner ON topics (owner) WHERE owner IS NOT NULL;

CREATE TABLE subscriptions (
    key bigserial PRIMARY KEY,
    topic_key bigint NOT NULL,
    subscription_id text NOT NULL UNIQUE,
    protocol text NOT NULL,
    status text NOT NULL,
    filter_policy text,
    queue_key bigint,
    -- always null since version 3 (kept for nodes of version 2 during a rolling upgrade)
    sealed_queue_id bytea,
    url text,
    policy text,
    signing_secret text,
    challenge text UNIQUE,
    confirm_url text,
    dead_letter_key bigint,
    -- always null since version 3, as sealed_queue_id
    sealed_dead_letter_id bytea,
    created_at bigint NOT NULL,
    delivered bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    attempts bigint NOT NULL DEFAULT 0,
    last_attempt_at bigint,
    last_status integer,
    last_error text,
    last_success_at bigint,
    -- SNS subscriptions (ems.sns): what they deliver, as JSON
    sns text
);
CREATE INDEX subscriptions_topic ON subscriptions (topic_key);
-- one subscription per endpoint and topic, even when two nodes subscribe it at once
CREATE UNIQUE INDEX subscriptions_queue ON subscriptions (queue_key, topic_key)
    WHERE queue_key IS NOT NULL;
CREATE UNIQUE INDEX subscriptions_url ON subscriptions (topic_key, url) WHERE protocol = 'http';
CREATE INDEX subscriptions_dead_letter ON subscriptions (dead_letter_key)
    WHERE dead_letter_key IS NOT NULL;

-- published messages that still have webhook deliveries to make
CREATE TABLE topic_messages (
    key bigserial PRIMARY KEY,
    topic_key bigint NOT NULL,
    message_id text NOT NULL,
    body bytea NOT NULL,
    content_type text,
    correlation_id text,
    attributes text,
    published_at bigint NOT NULL,
    cipher bigint,
    -- published through the SNS API: topic ARN, subject, messages, signatures, as JSON
    sns text
);
CREATE INDEX topic_messages_topic ON topic_messages (topic_key);

-- the outbox: one row per push still to make; any node may lease and make it
CREATE TABLE deliveries (
    key bigserial PRIMARY KEY,
    subscription_key bigint NOT NULL,
    message_key bigint,
    kind text NOT NULL,
    webhook_id text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
CREATE INDEX deliveries_subscription ON deliveries (subscription_key, next_attempt_at);
CREATE INDEX deliveries_message ON deliveries (message_key) WHERE message_key IS NOT NULL;

-- SQS queue names (ems.sqs): an account's name for an EMS queue, whose id is sealed
CREATE TABLE sqs_queues (
    account text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    id_hash bytea NOT NULL,
    sealed_queue_id bytea NOT NULL,
    tags text NOT NULL,
    created_at bigint NOT NULL,
    modified_at bigint NOT NULL,
    -- the Policy attribute as given ('': none); not enforced
    policy text NOT NULL DEFAULT '',
    PRIMARY KEY (account, name)
);

-- SNS topic names (ems.sns): an account's name for an EMS topic, whose id is sealed
CREATE TABLE sns_topics (
    account text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    id_hash bytea NOT NULL,
    sealed_topic_id bytea NOT NULL,
    attributes text NOT NULL,
    tags text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (account, name)
);

-- message move tasks (dead-letter redrive, ems.core.redrive)
CREATE TABLE move_tasks (
    key bigserial PRIMARY KEY,
    -- the task's public handle (random)
    handle text NOT NULL UNIQUE,
    -- the dead-letter queue the messages leave
    source_key bigint NOT NULL,
    -- the full-id hash of where they go (a hash: a key of a deleted queue can be reused);
    -- null: each back to the queue it was dead-lettered from
    destination_hash bytea,
    -- what the caller named the queues by (SQS ARNs), shown back in listings
    source_label text,
    destination_label text,
    -- messages per second; null: as fast as the store takes them
    rate integer,
    status text NOT NULL,
    to_move bigint NOT NULL,
    moved bigint NOT NULL DEFAULT 0,
    failure text,
    started_at bigint NOT NULL,
    finished_at bigint,
    -- the node running the task, until when (another node takes over after)
    lease_owner text,
    lease_until bigint NOT NULL DEFAULT 0
);
-- one active task per dead-letter queue
CREATE UNIQUE INDEX move_tasks_active ON move_tasks (source_key)
    WHERE status IN ('RUNNING', 'CANCELLING');
CREATE INDEX move_tasks_by_source ON move_tasks (source_key, key);

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

-- a FIFO receive's attempt id (hashed), per queue, until expires_at: a retry with the same id,
-- on any node, answers the same messages and receipt handles while none of them changed.
-- messages holds them as JSON [[seq, receive_count, visible_at], ...], in the order answered.
CREATE TABLE sqs_receive_attempts (
    queue_key bigint NOT NULL,
    attempt_hash bytea NOT NULL,
    messages text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (queue_key, attempt_hash)
);
CREATE INDEX sqs_receive_attempts_expiry ON sqs_receive_attempts (expires_at);
