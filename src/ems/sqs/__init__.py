"""The SQS wire protocol on EMS: boto3, the AWS CLI and other SQS clients work unchanged.

Both protocols SQS speaks (AWS JSON 1.0 and the older Query protocol) are parsed into one shape
(:mod:`ems.sqs.wire`), checked against SigV4 credentials (:mod:`ems.sqs.sigv4`,
:mod:`ems.sqs.accounts`), and carried out on :class:`~ems.core.queues.QueueService`
(:mod:`ems.sqs.queue_actions`, :mod:`ems.sqs.message_actions`). Each SQS queue is an EMS queue;
see docs/sqs.md.
"""
