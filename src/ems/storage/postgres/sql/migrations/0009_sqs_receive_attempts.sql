-- EMS PostgreSQL schema, version 9: SQS's ReceiveRequestAttemptId on FIFO queues (ems.sqs).

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
