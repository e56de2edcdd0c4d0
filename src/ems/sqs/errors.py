"""SQS errors: the shape name (JSON ``__type``), the legacy Query code, status and fault.

boto3 reads ``__type`` for the exception class and ``x-amzn-query-error`` for ``Error.Code``;
the Query protocol shows the legacy code in its ErrorResponse.
"""

from __future__ import annotations

from typing import Final

from ems.core import errors as ems


class SqsError(Exception):
    def __init__(
        self,
        shape: str,
        message: str,
        *,
        code: str | None = None,
        status: int = 400,
        sender: bool = True,
    ) -> None:
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.code = code or shape
        self.status = status
        self.sender = sender


_LEGACY: Final = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
}
_STATUS: Final = {
    "ReceiptHandleIsInvalid": 404,
    "ResourceNotFoundException": 404,
    "OverLimit": 403,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "MissingAuthenticationToken": 403,
    "AccessDenied": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "InternalFailure": 500,
}


def error(shape: str, message: str) -> SqsError:
    """An error by its SQS shape name, with the legacy code and status SQS gives it."""
    status = _STATUS.get(shape, 400)
    return SqsError(shape, message, code=_LEGACY.get(shape, shape), status=status,
                    sender=status < 500)  # fmt: skip


def invalid(message: str) -> SqsError:
    return error("InvalidParameterValue", message)


def missing(parameter: str) -> SqsError:
    return error("MissingParameter", f"The request must contain the parameter {parameter}.")


def no_queue() -> SqsError:
    return error("QueueDoesNotExist", "The specified queue does not exist.")


def from_ems(failure: ems.EmsError) -> SqsError:
    """What an SQS client is told when the queue service refuses."""
    detail = failure.detail
    if isinstance(failure, ems.QueueNotFound | ems.WrongCapability):
        return no_queue()
    if isinstance(failure, ems.InvalidReceiptHandle | ems.StaleReceiptHandle):
        return error("ReceiptHandleIsInvalid", detail)
    if isinstance(failure, ems.MessageNotFound):
        return error("MessageNotInflight", detail)
    if isinstance(failure, ems.QueueFull | ems.QuotaExceeded):
        return error("OverLimit", detail)
    if isinstance(failure, ems.InvalidAttribute):
        return error("InvalidAttributeValue", detail)
    if isinstance(failure, ems.RateLimited):
        return error("RequestThrottled", detail)
    if isinstance(failure, ems.ClientNotAllowed | ems.Unauthorized):
        return error("AccessDenied", detail)
    if isinstance(failure, ems.StorageUnavailable):
        return error("ServiceUnavailable", detail)
    if isinstance(failure, ems.InvalidRequest | ems.MessageTooLarge | ems.RequestTooLarge):
        return invalid(detail)
    return error("InternalFailure", "The request could not be completed; retry it.")
