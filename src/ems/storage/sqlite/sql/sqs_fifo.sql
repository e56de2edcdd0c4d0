-- The SQLite statements of ems.storage.roles.sqs_fifo (receive attempts and sequence numbers of
-- the SQS API's FIFO queues), kept apart from queries.sql: they serve the SQS API alone.

-- name: sqs_fifo_forget_expired_attempts
DELETE FROM sqs_receive_attempts WHERE expires_at <= ?

-- name: sqs_fifo_record_attempt
INSERT OR REPLACE INTO sqs_receive_attempts (queue_key, attempt_hash, messages, expires_at)
VALUES (?, ?, ?, ?)

-- name: sqs_fifo_find_attempt
SELECT messages FROM sqs_receive_attempts
WHERE queue_key = ? AND attempt_hash = ? AND expires_at > ?

-- name: sqs_fifo_forget_attempt
DELETE FROM sqs_receive_attempts WHERE queue_key = ? AND attempt_hash = ?

-- name: sqs_fifo_update_attempt
UPDATE sqs_receive_attempts SET messages = ? WHERE queue_key = ? AND attempt_hash = ?

-- name: sqs_fifo_attempt_messages
-- an attempt's messages (seqs as a JSON array) as a receive reads them, and their visibility
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages WHERE partition = ?1 AND seq IN (SELECT value FROM json_each(?2))

-- name: sqs_fifo_reset_visibility
UPDATE messages SET visible_at = ?1 WHERE seq IN (SELECT value FROM json_each(?2))

-- name: sqs_fifo_sequence_number
-- a send's message, found from the newest of its group (it is among the last sent)
SELECT seq FROM messages INDEXED BY messages_grouped
WHERE partition = ? AND group_id = ? AND message_id = ?
ORDER BY seq DESC LIMIT 1

-- name: sqs_fifo_set_settings
-- a FIFO queue's settings changed by SetQueueAttributes (a standard queue stays standard)
UPDATE queues SET fifo = ? WHERE key = ? AND fifo IS NOT NULL
