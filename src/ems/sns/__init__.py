"""The SNS wire protocol on EMS: boto3, the AWS CLI and SNS-style webhooks work unchanged.

SNS's Query requests share the SQS endpoint, credentials and development mode
(:mod:`ems.sns.handler`). Each SNS topic is an EMS topic (:mod:`ems.sns.names`); subscriptions
are EMS subscriptions to queues (by SQS ARN) or webhooks, delivered through the durable outbox
with SNS's envelope, headers and signatures (:mod:`ems.sns.signing`,
:mod:`ems.core.sns_envelopes`). See docs/sns.md.
"""
