-- EMS SQLite schema, version 4: SQS queue names (ems.sqs).

CREATE TABLE sqs_queues (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    id_hash BLOB NOT NULL,
    sealed_queue_id BLOB NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
) WITHOUT ROWID;
