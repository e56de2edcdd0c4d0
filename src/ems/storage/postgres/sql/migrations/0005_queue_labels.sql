-- EMS PostgreSQL schema, version 5: queues may carry a label.

-- A label is a human name an operator sees in the console and in /metrics (opt-in); it is not
-- secret and grants nothing. The index serves the console's sort by label.
ALTER TABLE queues ADD COLUMN label text;
CREATE INDEX queues_label ON queues (label) WHERE label IS NOT NULL;
