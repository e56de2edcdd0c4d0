-- The PostgreSQL statements of ems.storage.roles.sqs_fifo (receive attempts and sequence
-- numbers of the SQS API's FIFO queues), kept apart from queries.sql: they serve the SQS API
-- alone.

-- name: sqs_fifo_forget_expired_attempts
DELETE FROM sqs_receive_attempts WHERE expires_at <= $1

-- name: sqs_fifo_record_attempt
INSERT INTO sqs_receive_attempts (queue_key, attempt_hash, messages, expires_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (queue_key, attempt_hash)
DO UPDATE SET messages = excluded.messages, expires_at = excluded.expires_at

-- name: sqs_fifo_find_attempt
-- locked: two retries of one attempt on two nodes replay one after the other
SELECT messages FROM sqs_receive_attempts
WHERE queue_key = $1 AND attempt_hash = $2 AND expires_at > $3
FOR UPDATE

-- name: sqs_fifo_forget_attempt
DELETE FROM sqs_receive_attempts WHERE queue_key = $1 AND attempt_hash = $2

-- name: sqs_fifo_update_attempt
UPDATE sqs_receive_attempts SET messages = $1 WHERE queue_key = $2 AND attempt_hash = $3

-- name: sqs_fifo_attempt_messages
-- an attempt's messages (seqs as a JSON array) as a receive reads them, and their visibility;
-- locked, so that a receive on another node that claimed one first has committed (and changed
-- its receive count) before they are checked
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages
WHERE partition = $1 AND seq IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)
ORDER BY seq
FOR UPDATE

-- name: sqs_fifo_reset_visibility
UPDATE messages SET visible_at = $1
WHERE seq IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)

-- name: sqs_fifo_sequence_number
-- a send's message, found from the newest of its group (it is among the last sent)
SELECT seq FROM messages
WHERE partition = $1 AND group_id = $2 AND message_id = $3
ORDER BY seq DESC LIMIT 1

-- name: sqs_fifo_set_settings
-- a FIFO queue's settings changed by SetQueueAttributes (a standard queue stays standard)
UPDATE queues SET fifo = $1 WHERE key = $2 AND fifo IS NOT NULL
