-- EMS SQLite schema, version 9: the SNS API (ems.sns).

-- SNS topic names: an account's name for an EMS topic, whose id is sealed; the topic's SNS
-- attributes (JSON) and tags
CREATE TABLE sns_topics (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    id_hash BLOB NOT NULL,
    sealed_topic_id BLOB NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
) WITHOUT ROWID;

-- what an SNS subscription delivers (its ARN, raw or envelope, the signed confirmation), and
-- what an SNS publish carried (topic ARN, subject, per-protocol messages, signatures): JSON,
-- null for native subscriptions and messages
ALTER TABLE subscriptions ADD COLUMN sns TEXT;
ALTER TABLE topic_messages ADD COLUMN sns TEXT;
