-- EMS SQLite schema, version 11: SQS's ReceiveRequestAttemptId on FIFO queues (ems.sqs).

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
