-- Named queries of the PostgreSQL store. Each starts with a "-- name: <name>" line. Columns are
-- selected in the same order as the SQLite store's, so both map rows with ems.storage.rows.

-- name: queue_by_hash
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition, q.max_stored_messages,
       q.max_stored_bytes,
       CASE WHEN q.id_hash = $1 THEN 'full' WHEN q.send_hash = $1 THEN 'send' ELSE 'receive' END,
       q.label, q.deduplication_window_seconds, q.fifo
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.id_hash = $1 OR q.send_hash = $1 OR q.receive_hash = $1

-- name: queue_by_key
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition, q.max_stored_messages,
       q.max_stored_bytes, 'full', q.label, q.deduplication_window_seconds, q.fifo
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.key = $1

-- name: queue_key_for_sending
SELECT key FROM queues WHERE id_hash = $1 OR send_hash = $1

-- name: new_partition
INSERT INTO partitions DEFAULT VALUES RETURNING id

-- name: retire_partition
UPDATE partitions SET retired = true WHERE id = $1

-- name: insert_queue
INSERT INTO queues (id_hash, partition, visibility_timeout, retention_seconds,
                    max_message_bytes, delay_seconds, receive_wait_seconds, dead_letter_key,
                    max_receives, dead_letter_sealed, created_at, send_hash, receive_hash, owner,
                    max_stored_messages, max_stored_bytes, label, deduplication_window_seconds,
                    fifo)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
RETURNING key

-- name: lock_owner
SELECT pg_advisory_xact_lock(hashtext('ems/owner/' || $1))

-- name: count_owned_queues
SELECT count(*) FROM queues WHERE owner = $1

-- name: count_owned_topics
SELECT count(*) FROM topics WHERE owner = $1

-- name: update_queue
UPDATE queues SET visibility_timeout = $1, retention_seconds = $2, max_message_bytes = $3,
                  delay_seconds = $4, receive_wait_seconds = $5, dead_letter_key = $6,
                  max_receives = $7, dead_letter_sealed = $8, max_stored_messages = $9,
                  max_stored_bytes = $10, label = $11, deduplication_window_seconds = $12
WHERE key = $13

-- name: rotate_queue
UPDATE queues SET send_hash = $1, receive_hash = $2 WHERE key = $3

-- name: repartition_queue
UPDATE queues SET partition = $1, stored_messages = 0, stored_bytes = 0 WHERE key = $2

-- name: delete_queue
DELETE FROM queues WHERE key = $1

-- name: detach_dead_letter_sources
UPDATE queues SET dead_letter_key = NULL, max_receives = NULL, dead_letter_sealed = NULL
WHERE dead_letter_key = $1
RETURNING key

-- name: detach_queue_subscriptions
DELETE FROM subscriptions WHERE queue_key = $1

-- name: detach_subscription_dead_letters
UPDATE subscriptions SET dead_letter_key = NULL WHERE dead_letter_key = $1

-- name: reserve_storage
-- take room for messages in a queue, unless that would exceed its limits (no row: full)
UPDATE queues SET stored_messages = stored_messages + $1, stored_bytes = stored_bytes + $2
WHERE key = $3
  AND stored_messages + $1 <= coalesce(max_stored_messages, $4)
  AND stored_bytes + $2 <= coalesce(max_stored_bytes, $5)
RETURNING partition

-- name: adjust_storage
-- deferred changes to the stored counters (see batcher.py); room taken by messages that are
-- moved or dead-lettered is forced, never refused
UPDATE queues SET stored_messages = greatest(0, stored_messages + $1),
                  stored_bytes = greatest(0, stored_bytes + $2)
WHERE key = $3

-- name: stored
SELECT stored_messages, stored_bytes FROM queues WHERE key = $1

-- messages

-- name: insert_messages
INSERT INTO messages (partition, visible_at, sent_at, message_id, correlation_id, attributes,
                      body, cipher, group_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                     $6::text[], $7::bytea[], $8::bigint[], $9::text[])

-- name: receive
-- Claim up to $4 visible messages of queue $1 in one statement. Rows another node's receive
-- holds are skipped, not waited for. Candidates already received $7 times move to the
-- dead-letter queue $6 instead (when it still exists). Returns the claimed rows as they are
-- now, then the moved ones (with moved_size set).
WITH target AS (
    SELECT partition FROM queues WHERE key = $6 AND $7::integer IS NOT NULL
), candidates AS (
    SELECT seq, visible_at,
           coalesce(receive_count >= $7 AND EXISTS (SELECT FROM target), false) AS over
    FROM messages
    WHERE partition = (SELECT partition FROM queues WHERE key = $1)
      AND visible_at <= $2 AND sent_at > $3
    ORDER BY visible_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE messages m SET partition = (SELECT partition FROM target), visible_at = $2,
                          receive_count = 0, first_received_at = NULL,
                          source_hash = (SELECT id_hash FROM queues WHERE key = $1)
    FROM candidates c
    WHERE m.seq = c.seq AND c.over
    RETURNING m.seq, m.correlation_id, length(m.body) AS size
), claimed AS (
    UPDATE messages m SET visible_at = $5, receive_count = m.receive_count + 1,
                          first_received_at = coalesce(m.first_received_at, $2)
    FROM candidates c
    WHERE m.seq = c.seq AND NOT c.over
    RETURNING m.seq, m.message_id, m.body, m.correlation_id, m.attributes, m.receive_count,
              m.sent_at, m.first_received_at, m.cipher, c.visible_at AS was_visible_at
)
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, was_visible_at, NULL::integer AS moved_size
FROM claimed
UNION ALL
SELECT seq, NULL, NULL, correlation_id, NULL, NULL, NULL, NULL, NULL, NULL, size FROM moved

-- name: receive_correlated
-- receive, among the messages with correlation id $8
WITH target AS (
    SELECT partition FROM queues WHERE key = $6 AND $7::integer IS NOT NULL
), candidates AS (
    SELECT seq, visible_at,
           coalesce(receive_count >= $7 AND EXISTS (SELECT FROM target), false) AS over
    FROM messages
    WHERE partition = (SELECT partition FROM queues WHERE key = $1) AND correlation_id = $8
      AND visible_at <= $2 AND sent_at > $3
    ORDER BY visible_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE messages m SET partition = (SELECT partition FROM target), visible_at = $2,
                          receive_count = 0, first_received_at = NULL,
                          source_hash = (SELECT id_hash FROM queues WHERE key = $1)
    FROM candidates c
    WHERE m.seq = c.seq AND c.over
    RETURNING m.seq, m.correlation_id, length(m.body) AS size
), claimed AS (
    UPDATE messages m SET visible_at = $5, receive_count = m.receive_count + 1,
                          first_received_at = coalesce(m.first_received_at, $2)
    FROM candidates c
    WHERE m.seq = c.seq AND NOT c.over
    RETURNING m.seq, m.message_id, m.body, m.correlation_id, m.attributes, m.receive_count,
              m.sent_at, m.first_received_at, m.cipher, c.visible_at AS was_visible_at
)
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, was_visible_at, NULL::integer AS moved_size
FROM claimed
UNION ALL
SELECT seq, NULL, NULL, correlation_id, NULL, NULL, NULL, NULL, NULL, NULL, size FROM moved

-- name: next_visible
SELECT min(visible_at) FROM messages
WHERE partition = (SELECT partition FROM queues WHERE key = $1) AND visible_at > $2

-- name: next_visible_correlated
SELECT min(visible_at) FROM messages
WHERE partition = (SELECT partition FROM queues WHERE key = $1) AND correlation_id = $3
  AND visible_at > $2

-- name: delete_receipts
-- delete the messages whose receipts ($1 queue keys, $2 seqs, $3 receive counts) are current
DELETE FROM messages m
USING unnest($1::bigint[], $2::bigint[], $3::integer[]) AS r(queue_key, seq, receive_count),
      queues q
WHERE q.key = r.queue_key AND m.seq = r.seq AND m.receive_count = r.receive_count
  AND m.partition = q.partition
RETURNING r.queue_key, m.seq, m.receive_count, length(m.body)

-- name: change_visibility_receipts
-- $2 seqs, $3 receive counts, $4 new visible_at of the messages of queue $1
UPDATE messages m SET visible_at = r.visible_at
FROM unnest($2::bigint[], $3::integer[], $4::bigint[]) AS r(seq, receive_count, visible_at)
WHERE m.seq = r.seq AND m.receive_count = r.receive_count
  AND m.partition = (SELECT partition FROM queues WHERE key = $1)
RETURNING $1::bigint, m.seq, m.receive_count

-- name: messages_in_queues
-- which of the messages ($1 queue keys, $2 seqs) still exist in those queues
SELECT r.queue_key, m.seq
FROM unnest($1::bigint[], $2::bigint[]) AS r(queue_key, seq)
JOIN queues q ON q.key = r.queue_key
JOIN messages m ON m.seq = r.seq AND m.partition = q.partition

-- name: count_visible
SELECT count(*) FROM messages WHERE partition = $1 AND visible_at <= $2

-- name: count_in_flight
SELECT count(*) FROM messages WHERE partition = $1 AND visible_at > $2 AND receive_count > 0

-- name: count_delayed
SELECT count(*) FROM messages WHERE partition = $1 AND visible_at > $2 AND receive_count = 0

-- name: oldest_sent_at
SELECT sent_at FROM messages WHERE partition = $1 ORDER BY seq LIMIT 1

-- name: peek
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages
WHERE partition = $1 AND seq > $2 AND sent_at > $3
ORDER BY seq
LIMIT $4

-- housekeeping

-- name: retired_partitions
SELECT id FROM partitions WHERE retired ORDER BY id LIMIT $1

-- name: delete_partition_chunk
-- delete up to $2 messages of retired partition $1; returns how many
WITH deleted AS (
    DELETE FROM messages WHERE seq IN (
        SELECT seq FROM messages WHERE partition = $1 ORDER BY seq LIMIT $2
    )
    RETURNING 1
)
SELECT count(*) FROM deleted

-- name: try_sweep_lock
SELECT pg_try_advisory_xact_lock(hashtext('ems/sweep/' || $1))

-- name: tables_to_vacuum
SELECT relname, n_dead_tup FROM pg_stat_user_tables
WHERE schemaname = $1 AND current_setting('autovacuum') = 'off'
  AND n_dead_tup >= $2 AND n_dead_tup > n_live_tup / 5
ORDER BY n_dead_tup DESC

-- name: try_vacuum_lock
SELECT pg_try_advisory_lock(hashtext('ems/vacuum/' || $1))

-- name: vacuum_unlock
SELECT pg_advisory_unlock(hashtext('ems/vacuum/' || $1))

-- name: forget_partition
DELETE FROM partitions WHERE id = $1

-- name: queues_for_retention
SELECT key, partition, retention_seconds FROM queues WHERE key > $1 ORDER BY key LIMIT $2

-- name: delete_expired_chunk
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages WHERE partition = $1 ORDER BY seq LIMIT $2
) AND sent_at <= $3
RETURNING length(body)

-- name: meta_insert
INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING

-- name: meta_get
SELECT value FROM meta WHERE name = $1

-- administration

-- name: admin_queues
SELECT key, id_hash, created_at, owner, stored_messages, stored_bytes, partition
FROM queues WHERE key > $1 ORDER BY key LIMIT $2

-- name: admin_topics
SELECT t.key, t.id_hash, t.created_at, t.owner,
       (SELECT count(*) FROM subscriptions s WHERE s.topic_key = t.key),
       (SELECT count(*) FROM deliveries d JOIN subscriptions s ON s.key = d.subscription_key
        WHERE s.topic_key = t.key),
       (SELECT count(*) FROM subscriptions s WHERE s.topic_key = t.key
        AND s.last_error IS NOT NULL
        AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_key = s.key))
FROM topics t WHERE t.key > $1 ORDER BY t.key LIMIT $2

-- name: deepest_queues
SELECT key, id_hash, stored_messages, stored_bytes, partition FROM queues
ORDER BY stored_messages DESC LIMIT $1

-- topics

-- name: topic_by_hash
SELECT key, public_id, max_message_bytes, created_at, fifo FROM topics WHERE id_hash = $1

-- name: insert_topic
INSERT INTO topics (id_hash, public_id, max_message_bytes, created_at, owner, fifo)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING key

-- name: topic_stats
SELECT
    count(*) FILTER (WHERE protocol = 'queue'),
    count(*) FILTER (WHERE protocol = 'http' AND status = 'confirmed'),
    count(*) FILTER (WHERE protocol = 'http' AND status <> 'confirmed'),
    (SELECT count(*) FROM deliveries d JOIN subscriptions s2 ON s2.key = d.subscription_key
     WHERE s2.topic_key = $1 AND d.kind = 'notification'),
    count(*) FILTER (WHERE protocol = 'email' AND status = 'confirmed'),
    count(*) FILTER (WHERE protocol = 'email' AND status <> 'confirmed')
FROM subscriptions WHERE topic_key = $1

-- name: delete_topic_deliveries
DELETE FROM deliveries
WHERE subscription_key IN (SELECT key FROM subscriptions WHERE topic_key = $1)

-- name: delete_topic_subscriptions
DELETE FROM subscriptions WHERE topic_key = $1

-- name: delete_topic_messages
DELETE FROM topic_messages WHERE topic_key = $1

-- name: delete_topic
DELETE FROM topics WHERE key = $1

-- name: topic_fanout
SELECT key, protocol, status, filter_policy, queue_key, sns FROM subscriptions WHERE topic_key = $1
ORDER BY queue_key, key

-- name: insert_topic_message
INSERT INTO topic_messages (topic_key, message_id, body, content_type, correlation_id,
                            attributes, published_at, cipher, sns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING key

-- name: insert_delivery
INSERT INTO deliveries (subscription_key, message_key, kind, webhook_id, next_attempt_at)
VALUES ($1, $2, $3, $4, $5)

-- name: insert_deliveries
INSERT INTO deliveries (subscription_key, message_key, kind, webhook_id, next_attempt_at)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])

-- name: subscription_columns
-- the subscribed queue and the dead-letter queue by their full-id hashes, from which the
-- listing's non-secret references are derived
SELECT s.key, s.subscription_id, s.protocol, s.status, s.filter_policy, s.created_at,
       q.id_hash, s.url, s.policy, s.signing_secret, dl.id_hash,
       s.delivered, s.failed,
       (SELECT count(*) FROM deliveries d WHERE d.subscription_key = s.key
        AND d.kind = 'notification'),
       s.attempts, s.last_attempt_at, s.last_status, s.last_error, s.last_success_at, s.sns
FROM subscriptions s
LEFT JOIN queues q ON q.key = s.queue_key
LEFT JOIN queues dl ON dl.key = s.dead_letter_key

-- name: existing_queue_subscription
SELECT key FROM subscriptions WHERE topic_key = $1 AND queue_key = $2

-- name: existing_http_subscription
-- webhooks and email (url 'mailto:...'): one subscription per endpoint
SELECT key FROM subscriptions WHERE topic_key = $1 AND protocol <> 'queue' AND url = $2

-- name: insert_subscription
INSERT INTO subscriptions (topic_key, subscription_id, protocol, status, filter_policy,
                           queue_key, url, policy, signing_secret, challenge, confirm_url,
                           dead_letter_key, created_at, sns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT DO NOTHING
RETURNING key

-- name: subscription_key_in_topic
SELECT key FROM subscriptions WHERE topic_key = $1 AND subscription_id = $2

-- name: subscription_key_by_id
SELECT key FROM subscriptions WHERE subscription_id = $1

-- name: delete_subscription_deliveries
DELETE FROM deliveries WHERE subscription_key = $1 RETURNING message_key

-- name: delete_subscription
DELETE FROM subscriptions WHERE key = $1

-- name: delete_message_if_done
DELETE FROM topic_messages
WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_key = $1)

-- name: confirm_by_challenge
UPDATE subscriptions SET status = 'confirmed', challenge = NULL, confirm_url = NULL
WHERE challenge = $1 AND status = 'pending_confirmation'
RETURNING key, topic_key

-- name: confirm_by_key
UPDATE subscriptions SET status = 'confirmed', challenge = NULL, confirm_url = NULL
WHERE key = $1 AND status = 'pending_confirmation'
RETURNING topic_key

-- name: delete_confirmations
DELETE FROM deliveries WHERE subscription_key = $1 AND kind = 'confirmation'

-- name: queue_subscription_failed
UPDATE subscriptions SET failed = failed + 1, last_attempt_at = $1, last_error = $2
WHERE key = $3

-- deliveries

-- name: due_subscriptions
SELECT DISTINCT subscription_key FROM deliveries
WHERE next_attempt_at <= $1 AND lease_until <= $1
LIMIT $2

-- name: claim_deliveries
-- lease due deliveries of one subscription; rows another node is claiming are skipped
UPDATE deliveries SET lease_until = $4
WHERE key IN (
    SELECT key FROM deliveries
    WHERE subscription_key = $1 AND next_attempt_at <= $2 AND lease_until <= $2
    ORDER BY next_attempt_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
RETURNING key, kind, webhook_id, attempts, message_key

-- name: delivery_target
SELECT s.subscription_id, s.url, s.signing_secret, s.policy, s.challenge, s.confirm_url,
       s.status, t.public_id, s.sns
FROM subscriptions s JOIN topics t ON t.key = s.topic_key
WHERE s.key = $1

-- name: topic_message
SELECT message_id, body, content_type, correlation_id, attributes, published_at, cipher, sns
FROM topic_messages WHERE key = $1

-- name: delivery_state
SELECT message_key FROM deliveries WHERE key = $1 FOR UPDATE

-- name: finish_delivery
DELETE FROM deliveries WHERE key = $1

-- name: retry_delivery
UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $1, lease_until = 0
WHERE key = $2

-- name: defer_delivery
UPDATE deliveries SET next_attempt_at = $1, lease_until = 0 WHERE key = $2

-- name: count_attempt
UPDATE subscriptions
SET attempts = attempts + 1, last_attempt_at = $1, last_status = $2, last_error = $3,
    delivered = delivered + $4, failed = failed + $5,
    last_success_at = CASE WHEN $6 THEN $1 ELSE last_success_at END
WHERE key = $7

-- name: subscription_dead_letter
SELECT dead_letter_key FROM subscriptions WHERE key = $1

-- SQS queue names

-- name: sqs_insert
INSERT INTO sqs_queues (account, name, id_hash, sealed_queue_id, tags, created_at, modified_at,
                        policy)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account, name) DO NOTHING

-- name: sqs_get
SELECT account, name, id_hash, sealed_queue_id, created_at, modified_at, tags, policy
FROM sqs_queues WHERE account = $1 AND name = $2

-- name: sqs_list
SELECT account, name, id_hash, sealed_queue_id, created_at, modified_at, tags, policy
FROM sqs_queues WHERE account = $1 AND starts_with(name, $2) AND name > $3
ORDER BY name LIMIT $4

-- name: sqs_touch
UPDATE sqs_queues SET modified_at = $1, tags = coalesce($2, tags), policy = coalesce($3, policy)
WHERE account = $4 AND name = $5

-- name: sqs_delete
DELETE FROM sqs_queues WHERE account = $1 AND name = $2

-- name: probe_write
-- an id is assigned only on a primary, and committing it waits for the WAL flush (and for the
-- synchronous standby, if there is one): the cheapest statement that proves a write can commit
SELECT txid_current()

-- name: update_subscription
UPDATE subscriptions SET filter_policy = $1, policy = $2, dead_letter_key = $3, sns = $4
WHERE key = $5

-- SNS topic names (ems.sns)

-- name: sns_insert
INSERT INTO sns_topics (account, name, id_hash, sealed_topic_id, attributes, tags, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account, name) DO NOTHING

-- name: sns_get
SELECT account, name, id_hash, sealed_topic_id, attributes, tags, created_at
FROM sns_topics WHERE account = $1 AND name = $2

-- name: sns_list
SELECT account, name, id_hash, sealed_topic_id, attributes, tags, created_at
FROM sns_topics WHERE account = $1 AND name > $2 ORDER BY name LIMIT $3

-- name: sns_update
UPDATE sns_topics SET attributes = $1, tags = $2 WHERE account = $3 AND name = $4

-- name: sns_delete
DELETE FROM sns_topics WHERE account = $1 AND name = $2

-- the admin console (storage/postgres/admin.py builds the sorted queue page around these)

-- name: admin_totals
SELECT (SELECT count(*) FROM queues),
       (SELECT coalesce(sum(stored_messages), 0) FROM queues),
       (SELECT coalesce(sum(stored_bytes), 0) FROM queues),
       (SELECT count(*) FROM topics),
       (SELECT count(*) FROM subscriptions),
       (SELECT count(*) FROM subscriptions WHERE status = 'pending_confirmation'),
       (SELECT count(*) FROM deliveries),
       (SELECT count(*) FROM subscriptions s WHERE s.last_error IS NOT NULL
        AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_key = s.key))

-- name: admin_oldest_sent_at
-- the oldest message of a live queue (a retired partition's rows wait for the sweeper)
SELECT m.sent_at FROM messages m WHERE m.partition IN (SELECT partition FROM queues)
ORDER BY m.seq LIMIT 1

-- name: admin_database
-- which server this node talks to (null address: a Unix socket), and whether it is a primary
SELECT pg_database_size(current_database()), host(inet_server_addr()), inet_server_port(),
       current_database(), pg_is_in_recovery()

-- name: admin_next_attempts
SELECT subscription_key, min(next_attempt_at) FROM deliveries
WHERE subscription_key IN (SELECT key FROM subscriptions WHERE topic_key = $1)
GROUP BY subscription_key

-- name: admin_retry_now
-- pushes waiting for a later attempt become due now; a push being made (leased) is left alone
UPDATE deliveries SET next_attempt_at = $1
WHERE subscription_key = $2 AND next_attempt_at > $1 AND lease_until <= $1

-- Message move tasks (dead-letter redrive; the rules: ems.core.redrive). Task rows are read as
-- key, handle, source_key, destination_hash, rate, status, to_move, moved, failure, started_at,
-- finished_at, source_label, destination_label.

-- name: move_source
-- a new task's source: key, partition, and whether any queue dead-letters into it
SELECT q.key, q.partition,
       EXISTS (SELECT FROM queues s WHERE s.dead_letter_key = q.key)
FROM queues q WHERE q.id_hash = $1

-- name: move_destination
-- a new task's destination, by an id that may send to it: its full id's hash
SELECT id_hash FROM queues WHERE id_hash = $1 OR send_hash = $1

-- name: count_partition
SELECT count(*) FROM messages WHERE partition = $1

-- name: insert_move_task
-- nothing when the source has an active task (move_tasks_active)
INSERT INTO move_tasks (handle, source_key, destination_hash, rate, source_label,
                        destination_label, status, to_move, started_at)
VALUES ($1, $2, $3, $4, $5, $6, 'RUNNING', $7, $8)
ON CONFLICT (source_key) WHERE status IN ('RUNNING', 'CANCELLING') DO NOTHING
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: forget_move_tasks
-- the source's finished tasks beyond the newest $2
DELETE FROM move_tasks
WHERE source_key = $1 AND status NOT IN ('RUNNING', 'CANCELLING')
  AND key NOT IN (SELECT key FROM move_tasks
                  WHERE source_key = $1 AND status NOT IN ('RUNNING', 'CANCELLING')
                  ORDER BY key DESC LIMIT $2)

-- name: list_move_tasks
SELECT key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
       started_at, finished_at, source_label, destination_label
FROM move_tasks WHERE source_key = (SELECT key FROM queues WHERE id_hash = $1)
ORDER BY key DESC LIMIT $2

-- name: cancel_move_task
UPDATE move_tasks SET status = 'CANCELLING'
WHERE source_key = (SELECT key FROM queues WHERE id_hash = $1) AND status = 'RUNNING'
  AND ($2::text IS NULL OR handle = $2)
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: claim_move_task
-- a task another node is claiming or stepping is skipped, not waited for
UPDATE move_tasks SET lease_owner = $1, lease_until = $2 + $3
WHERE key = (SELECT key FROM move_tasks
             WHERE status IN ('RUNNING', 'CANCELLING') AND (lease_until < $2 OR lease_owner = $1)
             ORDER BY key LIMIT 1
             FOR UPDATE SKIP LOCKED)
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: move_task_for_step
-- the task (locked: claims and cancels wait for the step), its lease, and its source queue
-- (null columns: the queue was deleted)
SELECT t.status, t.lease_owner, t.lease_until, t.destination_hash, q.key, q.partition,
       q.id_hash, q.retention_seconds
FROM move_tasks t LEFT JOIN queues q ON q.key = t.source_key
WHERE t.key = $1
FOR UPDATE OF t

-- name: movable
-- the oldest visible messages of a partition, whole, with the queue each came from (and the
-- group, which a FIFO message keeps in a FIFO destination); rows a
-- receive holds are skipped
SELECT seq, source_hash, length(body), message_id, correlation_id, attributes, body, cipher,
       group_id
FROM messages
WHERE partition = $1 AND visible_at <= $2 AND sent_at > $3
ORDER BY seq
LIMIT $4
FOR UPDATE SKIP LOCKED

-- name: queue_for_move
SELECT key, partition FROM queues WHERE id_hash = $1

-- name: delete_moved
DELETE FROM messages WHERE seq = ANY($1::bigint[])

-- name: step_move_task
UPDATE move_tasks SET moved = moved + $1, lease_until = $2 WHERE key = $3

-- name: finish_move_task
UPDATE move_tasks SET status = $1, failure = $2, finished_at = $3, lease_owner = NULL,
                      lease_until = 0
WHERE key = $4

-- name: release_move_tasks
UPDATE move_tasks SET lease_until = 0 WHERE lease_owner = $1

-- name: delete_move_tasks_of_queue
DELETE FROM move_tasks WHERE source_key = $1

-- name: claim_idempotency_keys
-- record a send's keys unless live ones are recorded (the keys returned: claimed, sends new);
-- in key order, so that two nodes claiming overlapping keys wait rather than deadlock
INSERT INTO idempotency_keys (queue_key, key_hash, message_id, expires_at)
SELECT $1, k.key_hash, k.message_id, $4
FROM unnest($2::bytea[], $3::text[]) AS k (key_hash, message_id) ORDER BY k.key_hash
ON CONFLICT (queue_key, key_hash) DO UPDATE
    SET message_id = EXCLUDED.message_id, expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at <= $5
RETURNING key_hash

-- name: lock_queue_for_keys
-- idempotent sends to one queue take its row first: two nodes' claims then follow each other
-- instead of deadlocking on each other's keys (the row is locked by the send's reservation anyway)
SELECT 1 FROM queues WHERE key = $1 FOR NO KEY UPDATE

-- name: lock_topic_for_keys
SELECT 1 FROM topics WHERE key = $1 FOR NO KEY UPDATE

-- name: remembered_idempotency_keys
SELECT key_hash, message_id FROM idempotency_keys WHERE queue_key = $1 AND key_hash = ANY($2)

-- name: drop_idempotency_key
-- a FIFO topic's copy that its queue could not store after all: its key goes with it
DELETE FROM idempotency_keys WHERE queue_key = $1 AND key_hash = $2

-- name: forget_idempotency_keys
DELETE FROM idempotency_keys WHERE queue_key = $1

-- name: delete_expired_idempotency_keys
WITH gone AS (
    DELETE FROM idempotency_keys WHERE (queue_key, key_hash) IN (
        SELECT queue_key, key_hash FROM idempotency_keys WHERE expires_at <= $1
        ORDER BY expires_at LIMIT $2
    ) RETURNING 1
)
SELECT count(*) FROM gone

-- name: fifo_receivable
-- a FIFO queue's receivable messages in send order, each only if nothing before it in its group
-- is in flight or delayed (expired messages, never delivered again, block nothing)
SELECT m.seq, m.group_id
FROM messages m
WHERE m.partition = (SELECT partition FROM queues WHERE key = $1)
  AND m.visible_at <= $2 AND m.sent_at > $3
  AND NOT EXISTS (
      SELECT FROM messages e
      WHERE e.partition = m.partition AND e.group_id IS NOT NULL AND e.group_id = m.group_id
        AND e.seq < m.seq AND e.visible_at > $2 AND e.sent_at > $3
  )
ORDER BY m.seq
LIMIT $4

-- name: fifo_group_receivable
-- fifo_receivable for one group, read again once this transaction holds the group's lock
SELECT m.seq, m.message_id, m.body, m.correlation_id, m.attributes, m.receive_count, m.sent_at,
       m.first_received_at, m.cipher, m.group_id, m.visible_at
FROM messages m
WHERE m.partition = (SELECT partition FROM queues WHERE key = $1) AND m.group_id = $2
  AND m.visible_at <= $3 AND m.sent_at > $4
  AND NOT EXISTS (
      SELECT FROM messages e
      WHERE e.partition = m.partition AND e.group_id = $2
        AND e.seq < m.seq AND e.visible_at > $3 AND e.sent_at > $4
  )
ORDER BY m.seq
LIMIT $5
FOR UPDATE OF m

-- name: lock_fifo_group
-- one transaction at a time, across all nodes, decides what a FIFO group delivers
SELECT pg_try_advisory_xact_lock($1, $2)

-- name: fifo_claim
UPDATE messages SET visible_at = $1, receive_count = receive_count + 1,
                    first_received_at = coalesce(first_received_at, $2)
WHERE seq = ANY($3)

-- name: fifo_dead_letter_move
-- the message remembers the queue it came from (by its full id's hash), for a redrive
UPDATE messages SET partition = (SELECT partition FROM queues WHERE key = $1), visible_at = $2,
                    receive_count = 0, first_received_at = NULL,
                    source_hash = (SELECT id_hash FROM queues WHERE key = $3)
WHERE seq = ANY($4)
