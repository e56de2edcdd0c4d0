-- EMS SQLite schema, version 6: SQS queue names per region, the SQS Policy attribute, the
-- queue a dead-lettered message came from, and message move tasks (dead-letter redrive).

-- SQS queues live in a region (the request's SigV4 region): names are now kept per
-- "account/region". Names recorded before belong to us-east-1, the region boto3's examples and
-- EMS's docs use.
UPDATE sqs_queues SET account = account || '/us-east-1' WHERE instr(account, '/') = 0;
-- the Policy attribute, stored and returned as given ('' : none); EMS does not enforce it
ALTER TABLE sqs_queues ADD COLUMN policy TEXT NOT NULL DEFAULT '';

-- the full-id hash of the queue a message was dead-lettered from (null: sent to this queue),
-- so that a redrive can return it there; a hash, never a key: keys of deleted queues are reused
ALTER TABLE messages ADD COLUMN source_hash BLOB;

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
