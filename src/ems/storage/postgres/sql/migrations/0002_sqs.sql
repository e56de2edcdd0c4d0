-- EMS PostgreSQL schema, version 2: SQS queue names (ems.sqs).

CREATE TABLE sqs_queues (
    account text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    id_hash bytea NOT NULL,
    sealed_queue_id bytea NOT NULL,
    tags text NOT NULL,
    created_at bigint NOT NULL,
    modified_at bigint NOT NULL,
    PRIMARY KEY (account, name)
);
