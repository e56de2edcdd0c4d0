-- Named queries of the SQLite store. Each starts with a "-- name: <name>" line.

-- name: queue_by_hash
-- a queue by any of its three ids, and which one it was
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition, q.max_stored_messages,
       q.max_stored_bytes,
       CASE WHEN q.id_hash = ?1 THEN 'full' WHEN q.send_hash = ?1 THEN 'send' ELSE 'receive' END,
       q.label, q.deduplication_window_seconds, q.fifo
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.id_hash = ?1 OR q.send_hash = ?1 OR q.receive_hash = ?1

-- name: queue_key_for_sending
-- a queue that this id may send into (its full id or its send id)
SELECT key FROM queues WHERE id_hash = ?1 OR send_hash = ?1

-- name: scoped_hashes
SELECT send_hash, receive_hash FROM queues WHERE key = ?

-- name: rotate_queue
UPDATE queues SET send_hash = ?, receive_hash = ? WHERE key = ?

-- name: lock_owner
-- one writer, one transaction at a time: nothing to lock
SELECT ?1 WHERE 0

-- name: count_owned_queues
SELECT count(*) FROM queues WHERE owner = ?

-- name: count_owned_topics
SELECT count(*) FROM topics WHERE owner = ?

-- name: reserve_storage
-- take room for messages in a queue, unless that would exceed its limits (rowcount 0: full)
UPDATE queues SET stored_messages = stored_messages + ?1, stored_bytes = stored_bytes + ?2
WHERE key = ?3
  AND stored_messages + ?1 <= coalesce(max_stored_messages, ?4)
  AND stored_bytes + ?2 <= coalesce(max_stored_bytes, ?5)

-- name: force_storage
-- dead-lettered messages always fit: moving must not fail
UPDATE queues SET stored_messages = stored_messages + ?, stored_bytes = stored_bytes + ?
WHERE key = ?

-- name: release_storage
UPDATE queues SET stored_messages = max(0, stored_messages - ?),
                  stored_bytes = max(0, stored_bytes - ?)
WHERE key = ?

-- name: stored
SELECT stored_messages, stored_bytes FROM queues WHERE key = ?

-- name: new_partition
INSERT INTO partitions DEFAULT VALUES RETURNING id

-- name: retire_partition
UPDATE partitions SET retired = 1 WHERE id = ?

-- name: insert_queue
INSERT INTO queues (id_hash, partition, visibility_timeout, retention_seconds,
                    max_message_bytes, delay_seconds, receive_wait_seconds, dead_letter_key,
                    max_receives, dead_letter_sealed, created_at, send_hash, receive_hash, owner,
                    max_stored_messages, max_stored_bytes, label, deduplication_window_seconds,
                    fifo)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING key

-- name: update_queue
UPDATE queues SET visibility_timeout = ?, retention_seconds = ?, max_message_bytes = ?,
                  delay_seconds = ?, receive_wait_seconds = ?, dead_letter_key = ?,
                  max_receives = ?, dead_letter_sealed = ?, max_stored_messages = ?,
                  max_stored_bytes = ?, label = ?, deduplication_window_seconds = ?
WHERE key = ?

-- name: repartition_queue
UPDATE queues SET partition = ?, stored_messages = 0, stored_bytes = 0 WHERE key = ?

-- name: delete_queue
DELETE FROM queues WHERE key = ?

-- name: detach_dead_letter_sources
UPDATE queues SET dead_letter_key = NULL, max_receives = NULL, dead_letter_sealed = NULL
WHERE dead_letter_key = ?
RETURNING key

-- name: insert_message
-- numbered by SQLite: max(seq) + 1 (see insert_message_at)
INSERT INTO messages (partition, visible_at, sent_at, message_id, correlation_id, attributes,
                      body, cipher, group_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_message_at
-- numbered by EMS: the first message of each insert goes at the high-water mark
INSERT INTO messages (seq, partition, visible_at, sent_at, message_id, correlation_id,
                      attributes, body, cipher, group_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: next_message_seq
-- the high-water mark of message numbers: every number below it may have been handed out
SELECT max(coalesce((SELECT max(seq) FROM messages), 0) + 1,
           coalesce((SELECT value FROM meta WHERE name = 'next_message_seq'), 1))

-- name: set_next_message_seq
INSERT INTO meta (name, value) VALUES ('next_message_seq', ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value

-- name: receivable
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher
FROM messages INDEXED BY messages_receivable
WHERE partition = ? AND visible_at <= ? AND sent_at > ?
ORDER BY visible_at
LIMIT ?

-- name: receivable_correlated
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher
FROM messages INDEXED BY messages_correlated
WHERE partition = ? AND correlation_id = ? AND visible_at <= ? AND sent_at > ?
ORDER BY visible_at
LIMIT ?

-- name: next_visible
SELECT min(visible_at) FROM messages WHERE partition = ? AND visible_at > ?

-- name: next_visible_correlated
SELECT min(visible_at) FROM messages
WHERE partition = ? AND correlation_id = ? AND visible_at > ?

-- name: claim
UPDATE messages
SET visible_at = ?, receive_count = receive_count + 1,
    first_received_at = coalesce(first_received_at, ?)
WHERE seq = ?

-- name: dead_letter_move
-- the message remembers the queue it came from (by its full id's hash), for a redrive
UPDATE messages SET partition = ?, visible_at = ?, receive_count = 0, first_received_at = NULL,
                    source_hash = (SELECT id_hash FROM queues WHERE key = ?)
WHERE seq = ?

-- name: delete_receipt
DELETE FROM messages WHERE seq = ? AND partition = ? AND receive_count = ?
RETURNING length(body)

-- name: change_visibility_receipt
UPDATE messages SET visible_at = ? WHERE seq = ? AND partition = ? AND receive_count = ?

-- name: message_state
SELECT partition, receive_count FROM messages WHERE seq = ?

-- name: count_visible
SELECT count(*) FROM messages WHERE partition = ? AND visible_at <= ?

-- name: count_in_flight
SELECT count(*) FROM messages WHERE partition = ? AND visible_at > ? AND receive_count > 0

-- name: count_delayed
SELECT count(*) FROM messages WHERE partition = ? AND visible_at > ? AND receive_count = 0

-- name: oldest_sent_at
SELECT sent_at FROM messages INDEXED BY messages_by_partition WHERE partition = ? ORDER BY seq
LIMIT 1

-- name: peek
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages INDEXED BY messages_by_partition
WHERE partition = ? AND seq > ? AND sent_at > ?
ORDER BY seq
LIMIT ?

-- name: retired_partitions
SELECT id FROM partitions WHERE retired = 1 ORDER BY id LIMIT ?

-- name: delete_partition_chunk
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages INDEXED BY messages_by_partition WHERE partition = ? LIMIT ?
)

-- name: forget_partition
DELETE FROM partitions WHERE id = ?

-- name: queues_for_retention
SELECT key, partition, retention_seconds FROM queues WHERE key > ? ORDER BY key LIMIT ?

-- administration

-- name: admin_queues
SELECT key, id_hash, created_at, owner, stored_messages, stored_bytes, partition
FROM queues WHERE key > ? ORDER BY key LIMIT ?

-- name: admin_topics
SELECT t.key, t.id_hash, t.created_at, t.owner,
       (SELECT count(*) FROM subscriptions s WHERE s.topic_key = t.key),
       (SELECT count(*) FROM deliveries d JOIN subscriptions s ON s.key = d.subscription_key
        WHERE s.topic_key = t.key),
       (SELECT count(*) FROM subscriptions s WHERE s.topic_key = t.key
        AND s.last_error IS NOT NULL
        AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_key = s.key))
FROM topics t WHERE t.key > ? ORDER BY t.key LIMIT ?

-- name: deepest_queues
SELECT key, id_hash, stored_messages, stored_bytes, partition FROM queues
ORDER BY stored_messages DESC LIMIT ?

-- name: admin_topic_hash
SELECT id_hash FROM topics WHERE key = ?

-- name: delete_expired_chunk
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages INDEXED BY messages_by_partition WHERE partition = ?
    ORDER BY seq LIMIT ?
) AND sent_at <= ?
RETURNING length(body)

-- name: meta_insert
INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)

-- name: meta_get
SELECT value FROM meta WHERE name = ?

-- topics

-- name: topic_by_hash
SELECT key, public_id, max_message_bytes, created_at, fifo FROM topics WHERE id_hash = ?

-- name: insert_topic
INSERT INTO topics (id_hash, public_id, max_message_bytes, created_at, owner, fifo)
VALUES (?, ?, ?, ?, ?, ?)
RETURNING key

-- name: topic_stats
SELECT
    sum(protocol = 'queue'),
    sum(protocol = 'http' AND status = 'confirmed'),
    sum(protocol = 'http' AND status <> 'confirmed'),
    (SELECT count(*) FROM deliveries d JOIN subscriptions s2 ON s2.key = d.subscription_key
     WHERE s2.topic_key = ?1 AND d.kind = 'notification'),
    sum(protocol = 'email' AND status = 'confirmed'),
    sum(protocol = 'email' AND status <> 'confirmed')
FROM subscriptions WHERE topic_key = ?1

-- name: delete_topic_deliveries
DELETE FROM deliveries
WHERE subscription_key IN (SELECT key FROM subscriptions WHERE topic_key = ?)

-- name: delete_topic_subscriptions
DELETE FROM subscriptions WHERE topic_key = ?

-- name: delete_topic_messages
DELETE FROM topic_messages WHERE topic_key = ?

-- name: delete_topic
DELETE FROM topics WHERE key = ?

-- name: topic_fanout
SELECT key, protocol, status, filter_policy, queue_key, sns FROM subscriptions WHERE topic_key = ?

-- name: queue_by_key
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition, q.max_stored_messages,
       q.max_stored_bytes, 'full', q.label, q.deduplication_window_seconds, q.fifo
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.key = ?

-- name: insert_topic_message
INSERT INTO topic_messages (topic_key, message_id, body, content_type, correlation_id,
                            attributes, published_at, cipher, sns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_delivery
INSERT INTO deliveries (subscription_key, message_key, kind, webhook_id, next_attempt_at)
VALUES (?, ?, ?, ?, ?)

-- subscriptions

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
SELECT key FROM subscriptions WHERE topic_key = ? AND queue_key = ?

-- name: existing_http_subscription
-- webhooks and email (url 'mailto:...'): one subscription per endpoint
SELECT key FROM subscriptions WHERE topic_key = ? AND protocol <> 'queue' AND url = ?

-- name: insert_subscription
INSERT INTO subscriptions (topic_key, subscription_id, protocol, status, filter_policy,
                           queue_key, url, policy, signing_secret, challenge, confirm_url,
                           dead_letter_key, created_at, sns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING key

-- name: subscription_key_in_topic
SELECT key FROM subscriptions WHERE topic_key = ? AND subscription_id = ?

-- name: subscription_key_by_id
SELECT key FROM subscriptions WHERE subscription_id = ?

-- name: delete_subscription_deliveries
DELETE FROM deliveries WHERE subscription_key = ? RETURNING message_key

-- name: delete_subscription
DELETE FROM subscriptions WHERE key = ?

-- name: delete_message_if_done
DELETE FROM topic_messages
WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_key = ?1)

-- name: confirm_by_challenge
UPDATE subscriptions SET status = 'confirmed', challenge = NULL, confirm_url = NULL
WHERE challenge = ? AND status = 'pending_confirmation'
RETURNING key, topic_key

-- name: confirm_by_key
UPDATE subscriptions SET status = 'confirmed', challenge = NULL, confirm_url = NULL
WHERE key = ? AND status = 'pending_confirmation'
RETURNING topic_key

-- name: delete_confirmations
DELETE FROM deliveries WHERE subscription_key = ? AND kind = 'confirmation'

-- name: detach_queue_subscriptions
DELETE FROM subscriptions WHERE queue_key = ?

-- name: detach_subscription_dead_letters
UPDATE subscriptions SET dead_letter_key = NULL WHERE dead_letter_key = ?

-- deliveries

-- name: due_subscriptions
SELECT DISTINCT subscription_key FROM deliveries
WHERE next_attempt_at <= ?1 AND lease_until <= ?1
LIMIT ?2

-- name: claim_deliveries
-- lease due deliveries of one subscription
UPDATE deliveries SET lease_until = ?4
WHERE key IN (
    SELECT key FROM deliveries
    WHERE subscription_key = ?1 AND next_attempt_at <= ?2 AND lease_until <= ?2
    ORDER BY next_attempt_at
    LIMIT ?3
)
RETURNING key, kind, webhook_id, attempts, message_key

-- name: release_leases
UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0

-- name: delivery_target
SELECT s.subscription_id, s.url, s.signing_secret, s.policy, s.challenge, s.confirm_url,
       s.status, t.public_id, s.sns
FROM subscriptions s JOIN topics t ON t.key = s.topic_key
WHERE s.key = ?

-- name: topic_message
SELECT message_id, body, content_type, correlation_id, attributes, published_at, cipher, sns
FROM topic_messages WHERE key = ?

-- name: delivery_state
SELECT message_key FROM deliveries WHERE key = ?

-- name: finish_delivery
DELETE FROM deliveries WHERE key = ?

-- name: retry_delivery
UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0
WHERE key = ?

-- name: defer_delivery
UPDATE deliveries SET next_attempt_at = ?, lease_until = 0 WHERE key = ?

-- name: queue_subscription_failed
UPDATE subscriptions SET failed = failed + 1, last_attempt_at = ?, last_error = ?
WHERE key = ?

-- name: count_attempt
UPDATE subscriptions
SET attempts = attempts + 1, last_attempt_at = ?1, last_status = ?2, last_error = ?3,
    delivered = delivered + ?4, failed = failed + ?5,
    last_success_at = CASE WHEN ?6 THEN ?1 ELSE last_success_at END
WHERE key = ?7

-- name: subscription_dead_letter
SELECT dead_letter_key FROM subscriptions WHERE key = ?

-- SQS queue names

-- name: sqs_insert
INSERT INTO sqs_queues (account, name, id_hash, sealed_queue_id, tags, created_at, modified_at,
                        policy)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, name) DO NOTHING

-- name: sqs_get
SELECT account, name, id_hash, sealed_queue_id, created_at, modified_at, tags, policy
FROM sqs_queues WHERE account = ? AND name = ?

-- name: sqs_list
SELECT account, name, id_hash, sealed_queue_id, created_at, modified_at, tags, policy
FROM sqs_queues WHERE account = ?1 AND substr(name, 1, length(?2)) = ?2 AND name > ?3
ORDER BY name LIMIT ?4

-- name: sqs_touch
UPDATE sqs_queues SET modified_at = ?, tags = coalesce(?, tags), policy = coalesce(?, policy)
WHERE account = ? AND name = ?

-- name: sqs_delete
DELETE FROM sqs_queues WHERE account = ? AND name = ?

-- name: update_subscription
UPDATE subscriptions SET filter_policy = ?, policy = ?, dead_letter_key = ?, sns = ?
WHERE key = ?

-- SNS topic names (ems.sns)

-- name: sns_insert
INSERT INTO sns_topics (account, name, id_hash, sealed_topic_id, attributes, tags, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, name) DO NOTHING

-- name: sns_get
SELECT account, name, id_hash, sealed_topic_id, attributes, tags, created_at
FROM sns_topics WHERE account = ? AND name = ?

-- name: sns_list
SELECT account, name, id_hash, sealed_topic_id, attributes, tags, created_at
FROM sns_topics WHERE account = ? AND name > ? ORDER BY name LIMIT ?

-- name: sns_update
UPDATE sns_topics SET attributes = ?, tags = ? WHERE account = ? AND name = ?

-- name: sns_delete
DELETE FROM sns_topics WHERE account = ? AND name = ?

-- the admin console (storage/sqlite/admin.py builds the sorted queue page around these)

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

-- name: storage_size
SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()

-- name: admin_oldest_sent_at
-- the oldest message of a live queue (a retired partition's rows wait for the sweeper)
SELECT m.sent_at FROM messages m WHERE m.partition IN (SELECT partition FROM queues)
ORDER BY m.seq LIMIT 1

-- name: admin_next_attempts
SELECT subscription_key, min(next_attempt_at) FROM deliveries
WHERE subscription_key IN (SELECT key FROM subscriptions WHERE topic_key = ?)
GROUP BY subscription_key

-- name: admin_retry_now
-- pushes waiting for a later attempt become due now; a push being made (leased) is left alone
UPDATE deliveries SET next_attempt_at = ?1
WHERE subscription_key = ?2 AND next_attempt_at > ?1 AND lease_until <= ?1

-- Message move tasks (dead-letter redrive; the rules: ems.core.redrive). Task rows are read as
-- key, handle, source_key, destination_hash, rate, status, to_move, moved, failure, started_at,
-- finished_at, source_label, destination_label.

-- name: move_source
-- a new task's source: key, partition, and whether any queue dead-letters into it
SELECT q.key, q.partition,
       EXISTS (SELECT 1 FROM queues s WHERE s.dead_letter_key = q.key)
FROM queues q WHERE q.id_hash = ?

-- name: move_destination
-- a new task's destination, by an id that may send to it: its full id's hash
SELECT id_hash FROM queues WHERE id_hash = ?1 OR send_hash = ?1

-- name: count_partition
SELECT count(*) FROM messages WHERE partition = ?

-- name: insert_move_task
-- nothing when the source has an active task (move_tasks_active)
INSERT INTO move_tasks (handle, source_key, destination_hash, rate, source_label,
                        destination_label, status, to_move, started_at)
VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?)
ON CONFLICT (source_key) WHERE status IN ('RUNNING', 'CANCELLING') DO NOTHING
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: forget_move_tasks
-- the source's finished tasks beyond the newest ?2
DELETE FROM move_tasks
WHERE source_key = ?1 AND status NOT IN ('RUNNING', 'CANCELLING')
  AND key NOT IN (SELECT key FROM move_tasks
                  WHERE source_key = ?1 AND status NOT IN ('RUNNING', 'CANCELLING')
                  ORDER BY key DESC LIMIT ?2)

-- name: list_move_tasks
SELECT key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
       started_at, finished_at, source_label, destination_label
FROM move_tasks WHERE source_key = (SELECT key FROM queues WHERE id_hash = ?)
ORDER BY key DESC LIMIT ?

-- name: cancel_move_task
UPDATE move_tasks SET status = 'CANCELLING'
WHERE source_key = (SELECT key FROM queues WHERE id_hash = ?1) AND status = 'RUNNING'
  AND (?2 IS NULL OR handle = ?2)
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: claim_move_task
UPDATE move_tasks SET lease_owner = ?1, lease_until = ?2 + ?3
WHERE key = (SELECT key FROM move_tasks
             WHERE status IN ('RUNNING', 'CANCELLING') AND (lease_until < ?2 OR lease_owner = ?1)
             ORDER BY key LIMIT 1)
RETURNING key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
          started_at, finished_at, source_label, destination_label

-- name: move_task_for_step
-- the task, its lease, and its source queue (null columns: the queue was deleted)
SELECT t.status, t.lease_owner, t.lease_until, t.destination_hash, q.key, q.partition,
       q.id_hash, q.retention_seconds
FROM move_tasks t LEFT JOIN queues q ON q.key = t.source_key
WHERE t.key = ?

-- name: movable
-- the oldest visible messages of a partition, whole, with the queue each came from (and the
-- group, which a FIFO message keeps in a FIFO destination)
SELECT seq, source_hash, length(body), message_id, correlation_id, attributes, body, cipher,
       group_id
FROM messages INDEXED BY messages_by_partition
WHERE partition = ? AND visible_at <= ? AND sent_at > ?
ORDER BY seq
LIMIT ?

-- name: queue_for_move
SELECT key, partition FROM queues WHERE id_hash = ?

-- name: delete_moved
DELETE FROM messages WHERE seq = ?

-- name: step_move_task
UPDATE move_tasks SET moved = moved + ?, lease_until = ? WHERE key = ?

-- name: finish_move_task
UPDATE move_tasks SET status = ?, failure = ?, finished_at = ?, lease_owner = NULL,
                      lease_until = 0
WHERE key = ?

-- name: release_move_tasks
UPDATE move_tasks SET lease_until = 0 WHERE lease_owner = ?

-- name: release_move_leases
-- at open: this process owns the file, so every lease left is a dead process's
UPDATE move_tasks SET lease_until = 0 WHERE lease_until > 0

-- name: delete_move_tasks_of_queue
DELETE FROM move_tasks WHERE source_key = ?

-- name: claim_idempotency_key
-- record a send's key unless a live one is recorded (a row back: claimed, the send is new)
INSERT INTO idempotency_keys (queue_key, key_hash, message_id, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (queue_key, key_hash) DO UPDATE
    SET message_id = excluded.message_id, expires_at = excluded.expires_at
    WHERE idempotency_keys.expires_at <= ?5
RETURNING key_hash

-- name: remembered_idempotency_key
SELECT message_id FROM idempotency_keys WHERE queue_key = ? AND key_hash = ?

-- name: drop_idempotency_key
-- a FIFO topic's copy that its queue could not store after all: its key goes with it
DELETE FROM idempotency_keys WHERE queue_key = ? AND key_hash = ?

-- name: forget_idempotency_keys
DELETE FROM idempotency_keys WHERE queue_key = ?

-- name: delete_expired_idempotency_keys
DELETE FROM idempotency_keys WHERE (queue_key, key_hash) IN (
    SELECT queue_key, key_hash FROM idempotency_keys INDEXED BY idempotency_keys_expiry
    WHERE expires_at <= ? ORDER BY expires_at LIMIT ?
)

-- name: fifo_groups
-- up to ?2 + 1 of a FIFO queue's message groups, one index seek each (a skip-scan): a queue with
-- few groups is received from group by group (see ems.storage.sqlite.fifo)
WITH RECURSIVE found(group_id, n) AS (
    SELECT (SELECT min(group_id) FROM messages INDEXED BY messages_grouped
            WHERE partition = ?1 AND group_id IS NOT NULL), 1
    UNION ALL
    SELECT (SELECT min(m.group_id) FROM messages m INDEXED BY messages_grouped
            WHERE m.partition = ?1 AND m.group_id > found.group_id), found.n + 1
    FROM found WHERE found.group_id IS NOT NULL AND found.n <= ?2
)
SELECT group_id FROM found WHERE group_id IS NOT NULL

-- name: fifo_group_head
-- a group's first unexpired messages in send order, with when each is visible
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages INDEXED BY messages_grouped
WHERE partition = ?1 AND group_id = ?2 AND sent_at > ?3
ORDER BY seq
LIMIT ?4

-- name: fifo_receivable
-- a FIFO queue's receivable messages in send order, each only if nothing before it in its group
-- is in flight or delayed (expired messages, never delivered again, block nothing). The groups
-- held back are found first, from the messages that are not visible (a range of the receivable
-- index: the few in flight or delayed), so that each candidate costs one lookup rather than a
-- walk through every message before it in its group
WITH held AS MATERIALIZED (
    SELECT group_id, min(seq) AS first_held
    FROM messages INDEXED BY messages_receivable
    WHERE partition = ?1 AND visible_at > ?2 AND sent_at > ?3 AND group_id IS NOT NULL
    GROUP BY group_id
)
SELECT m.seq, m.message_id, m.body, m.correlation_id, m.attributes, m.receive_count, m.sent_at,
       m.first_received_at, m.cipher, m.group_id, m.visible_at
FROM messages m INDEXED BY messages_by_partition
LEFT JOIN held h ON h.group_id = m.group_id
WHERE m.partition = ?1 AND m.visible_at <= ?2 AND m.sent_at > ?3
  AND (h.first_held IS NULL OR m.seq < h.first_held)
ORDER BY m.seq
LIMIT ?4
