-- EMS PostgreSQL schema, version 7: the SNS API (ems.sns).

-- SNS topic names: an account's name for an EMS topic, whose id is sealed; the topic's SNS
-- attributes (JSON) and tags
CREATE TABLE sns_topics (
    account text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    id_hash bytea NOT NULL,
    sealed_topic_id bytea NOT NULL,
    attributes text NOT NULL,
    tags text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (account, name)
);

-- what an SNS subscription delivers (its ARN, raw or envelope, the signed confirmation), and
-- what an SNS publish carried (topic ARN, subject, per-protocol messages, signatures): JSON,
-- null for native subscriptions and messages
ALTER TABLE subscriptions ADD COLUMN sns text;
ALTER TABLE topic_messages ADD COLUMN sns text;
