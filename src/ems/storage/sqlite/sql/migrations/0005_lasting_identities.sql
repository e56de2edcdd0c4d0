-- EMS SQLite schema, version 5: message identities are never reused, and subscriptions no
-- longer keep the ids they were made with.

-- A message's seq is its identity in receipt handles. SQLite gives a new row max(seq) + 1, so
-- deleting the newest message handed its number, and its first receipt handle, to the next
-- message sent: a retried delete with the old handle removed the new message. From this version
-- EMS numbers messages from a high-water mark kept here that only grows (across deletes, purges
-- and restarts; see SqliteBase._insert_messages). (AUTOINCREMENT would do the same, at the cost
-- of a sqlite_sequence update per row: about 6 % of an insert.)
--
-- Numbers handed out before this version may be above every row left (their messages were
-- deleted), and a consumer may still hold a handle for one: numbering continues far above
-- anything the old scheme can have reached (2^48 messages is 89 years at 100,000 a second).
INSERT OR REPLACE INTO meta (name, value)
VALUES ('next_message_seq', max(coalesce((SELECT max(seq) FROM messages), 0) + 1,
                                281474976710656));

-- A subscription's queue and webhook dead-letter queue were kept sealed under the topic id,
-- to be shown back in listings: to anyone holding the topic id. Listings now show a reference
-- derived from the queue instead (see ems.core.capabilities.reference).
ALTER TABLE subscriptions DROP COLUMN sealed_queue_id;
ALTER TABLE subscriptions DROP COLUMN sealed_dead_letter_id;
