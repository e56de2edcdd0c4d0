-- Named queries of the SQLite store. Each starts with a "-- name: <name>" line.

-- name: queue_by_hash
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.id_hash = ?

-- name: queue_for_send
SELECT key, partition, delay_seconds, max_message_bytes FROM queues WHERE id_hash = ?

-- name: queue_key_by_hash
SELECT key FROM queues WHERE id_hash = ?

-- name: new_partition
INSERT INTO partitions DEFAULT VALUES

-- name: retire_partition
UPDATE partitions SET retired = 1 WHERE id = ?

-- name: insert_queue
INSERT INTO queues (id_hash, partition, visibility_timeout, retention_seconds,
                    max_message_bytes, delay_seconds, receive_wait_seconds, dead_letter_key,
                    max_receives, dead_letter_sealed, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: update_queue
UPDATE queues SET visibility_timeout = ?, retention_seconds = ?, max_message_bytes = ?,
                  delay_seconds = ?, receive_wait_seconds = ?, dead_letter_key = ?,
                  max_receives = ?, dead_letter_sealed = ?
WHERE key = ?

-- name: repartition_queue
UPDATE queues SET partition = ? WHERE key = ?

-- name: delete_queue
DELETE FROM queues WHERE key = ?

-- name: detach_dead_letter_sources
UPDATE queues SET dead_letter_key = NULL, max_receives = NULL, dead_letter_sealed = NULL
WHERE dead_letter_key = ?
RETURNING id_hash

-- name: insert_message
INSERT INTO messages (partition, visible_at, sent_at, message_id, correlation_id, attributes, body)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: receivable
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at
FROM messages INDEXED BY messages_receivable
WHERE partition = ? AND visible_at <= ? AND sent_at > ?
ORDER BY visible_at
LIMIT ?

-- name: receivable_correlated
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at
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
UPDATE messages SET partition = ?, visible_at = ?, receive_count = 0, first_received_at = NULL
WHERE seq = ?

-- name: delete_receipt
DELETE FROM messages WHERE seq = ? AND partition = ? AND receive_count = ?

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
       first_received_at, visible_at
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

-- name: delete_expired_chunk
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages INDEXED BY messages_by_partition WHERE partition = ?
    ORDER BY seq LIMIT ?
) AND sent_at <= ?

-- name: meta_insert
INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)

-- name: meta_get
SELECT value FROM meta WHERE name = ?

-- topics

-- name: topic_by_hash
SELECT key, public_id, max_message_bytes, created_at FROM topics WHERE id_hash = ?

-- name: insert_topic
INSERT INTO topics (id_hash, public_id, max_message_bytes, created_at) VALUES (?, ?, ?, ?)

-- name: topic_stats
SELECT
    sum(protocol = 'queue'),
    sum(protocol = 'http' AND status = 'confirmed'),
    sum(protocol = 'http' AND status <> 'confirmed'),
    (SELECT count(*) FROM deliveries d JOIN subscriptions s2 ON s2.key = d.subscription_key
     WHERE s2.topic_key = ? AND d.kind = 'notification')
FROM subscriptions WHERE topic_key = ?

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
SELECT key, protocol, status, filter_policy, queue_key FROM subscriptions WHERE topic_key = ?

-- name: queue_by_key
SELECT q.key, q.partition, q.visibility_timeout, q.retention_seconds, q.max_message_bytes,
       q.delay_seconds, q.receive_wait_seconds, q.dead_letter_key, d.id_hash, q.max_receives,
       q.dead_letter_sealed, q.created_at, d.partition
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE q.key = ?

-- name: insert_topic_message
INSERT INTO topic_messages (topic_key, message_id, body, content_type, correlation_id,
                            attributes, published_at)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: insert_delivery
INSERT INTO deliveries (subscription_key, message_key, kind, webhook_id, next_attempt_at)
VALUES (?, ?, ?, ?, ?)

-- subscriptions

-- name: subscription_columns
SELECT s.key, s.subscription_id, s.protocol, s.status, s.filter_policy, s.created_at,
       s.sealed_queue_id, s.url, s.policy, s.signing_secret, s.sealed_dead_letter_id,
       s.delivered, s.failed,
       (SELECT count(*) FROM deliveries d WHERE d.subscription_key = s.key
        AND d.kind = 'notification'),
       s.attempts, s.last_attempt_at, s.last_status, s.last_error, s.last_success_at
FROM subscriptions s

-- name: existing_queue_subscription
SELECT key FROM subscriptions WHERE topic_key = ? AND queue_key = ?

-- name: existing_http_subscription
SELECT key FROM subscriptions WHERE topic_key = ? AND protocol = 'http' AND url = ?

-- name: insert_subscription
INSERT INTO subscriptions (topic_key, subscription_id, protocol, status, filter_policy,
                           queue_key, sealed_queue_id, url, policy, signing_secret, challenge,
                           confirm_url, dead_letter_key, sealed_dead_letter_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: subscription_key_in_topic
SELECT key FROM subscriptions WHERE topic_key = ? AND subscription_id = ?

-- name: delete_subscription_deliveries
DELETE FROM deliveries WHERE subscription_key = ? RETURNING message_key

-- name: delete_subscription
DELETE FROM subscriptions WHERE key = ?

-- name: delete_message_if_done
DELETE FROM topic_messages
WHERE key = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_key = ?)

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
UPDATE subscriptions SET dead_letter_key = NULL, sealed_dead_letter_id = NULL
WHERE dead_letter_key = ?

-- deliveries

-- name: due_subscriptions
SELECT DISTINCT subscription_key FROM deliveries
WHERE next_attempt_at <= ? AND lease_until <= ?
LIMIT ?

-- name: due_deliveries
SELECT key, kind, webhook_id, attempts, message_key FROM deliveries
WHERE subscription_key = ? AND next_attempt_at <= ? AND lease_until <= ?
ORDER BY next_attempt_at
LIMIT ?

-- name: lease_delivery
UPDATE deliveries SET lease_until = ? WHERE key = ?

-- name: release_leases
UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0

-- name: delivery_target
SELECT s.subscription_id, s.url, s.signing_secret, s.policy, s.challenge, s.confirm_url,
       s.status, t.public_id
FROM subscriptions s JOIN topics t ON t.key = s.topic_key
WHERE s.key = ?

-- name: topic_message
SELECT message_id, body, content_type, correlation_id, attributes, published_at
FROM topic_messages WHERE key = ?

-- name: delivery_state
SELECT message_key FROM deliveries WHERE key = ?

-- name: finish_delivery
DELETE FROM deliveries WHERE key = ?

-- name: retry_delivery
UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0
WHERE key = ?

-- name: count_attempt
UPDATE subscriptions
SET attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?,
    delivered = delivered + ?, failed = failed + ?,
    last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END
WHERE key = ?

-- name: subscription_dead_letter
SELECT dead_letter_key FROM subscriptions WHERE key = ?
