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
