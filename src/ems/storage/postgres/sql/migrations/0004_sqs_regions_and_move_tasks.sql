-- EMS PostgreSQL schema, version 4: SQS queue names per region, the SQS Policy attribute, the
-- queue a dead-lettered message came from, and message move tasks (dead-letter redrive).

-- SQS queues live in a region (the request's SigV4 region): names are now kept per
-- "account/region". Names recorded before belong to us-east-1, the region boto3's examples and
-- EMS's docs use. (Nodes of the previous version still running during a rolling upgrade no
-- longer find these names: upgrade the nodes serving the SQS API together.)
UPDATE sqs_queues SET account = account || '/us-east-1' WHERE strpos(account, '/') = 0;
-- the Policy attribute, stored and returned as given ('' : none); EMS does not enforce it
ALTER TABLE sqs_queues ADD COLUMN policy text NOT NULL DEFAULT '';

-- the full-id hash of the queue a message was dead-lettered from (null: sent to this queue),
-- so that a redrive can return it there; a hash, never a key
ALTER TABLE messages ADD COLUMN source_hash bytea;

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
