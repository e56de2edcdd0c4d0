-- EMS PostgreSQL schema, version 8: FIFO topics (see ems.core.fifo_topics).

-- a FIFO topic's settings as JSON (content_based_deduplication, deduplication_scope,
-- throughput_limit); null: a standard topic
ALTER TABLE topics ADD COLUMN fifo text;
