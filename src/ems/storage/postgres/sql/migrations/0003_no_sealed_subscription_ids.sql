-- EMS PostgreSQL schema, version 3: subscriptions no longer keep the ids they were made with.

-- A subscription's queue and webhook dead-letter queue were kept sealed under the topic id, to
-- be shown back in listings: to anyone holding the topic id. Listings now show a reference
-- derived from the queue instead (see ems.core.capabilities.reference). The columns stay, always
-- null, so that nodes of the previous version still running during a rolling upgrade keep
-- working; a later version drops them.
UPDATE subscriptions SET sealed_queue_id = NULL, sealed_dead_letter_id = NULL;
