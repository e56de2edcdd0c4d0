"""Building blocks of the API description's operations: parameters, bodies, responses."""

from __future__ import annotations

from typing import Any, Final

from ems.server.openapi.schemas import CORRELATION_ID, STRING, Schema, ref

Operation = dict[str, Any]

JSON: Final = "application/json"
# every API call may meet these: a malformed query, an address not allowed, a rate limit, a
# database that is down or a server that is stopping
# any request may also be refused by a connection limit (408, 431, 503) or a full disk (507)
COMMON_ERRORS: Final = (400, 403, 408, 429, 431, 503, 507)
BINARY: Final[Schema] = {"type": "string", "format": "binary"}
# the "next" value of a previous page; at most 2**63 - 1
CURSOR: Final[Schema] = {"type": "string", "pattern": "^[0-9]{1,19}$"}


def param(
    name: str, where: str, schema: Schema, description: str, *, required: bool = False
) -> Any:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


QUEUE_ID: Final = param(
    "queue_id", "path", STRING, "The queue's id, or its send_id / receive_id where they may act."
)
TOPIC_ID: Final = param("topic_id", "path", STRING, "The topic's id (a secret capability).")
RECEIPT_HANDLE: Final = param(
    "receipt_handle", "path", STRING, "The handle of the message's latest receive."
)
CORRELATION: Final = param("correlation_id", "query", CORRELATION_ID, "A correlation id.")
IDEMPOTENCY_KEY: Final = param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
    "A repeat within 5 minutes stores nothing and answers 200 with the original message_id "
    "and `EMS-Duplicate: true`. On a batch: entry i is keyed `<key>#<i>`.",
)
DUPLICATE_HEADER: Final = {
    "EMS-Duplicate": {
        "description": "`true`: a repeat of an earlier send's idempotency key; nothing stored.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
API_KEY: Final[list[dict[str, list[str]]]] = [{}, {"apiKey": []}]


def json_response(schema_name: str, description: str, **extra: Any) -> Any:
    return {"description": description, "content": {JSON: {"schema": ref(schema_name)}}, **extra}


def body_of(content: dict[str, Schema], *, required: bool = True) -> Any:
    return {"required": required, "content": {kind: {"schema": s} for kind, s in content.items()}}


def json_body(schema_name: str, *, required: bool = True) -> Any:
    return body_of({JSON: ref(schema_name)}, required=required)


NO_CONTENT: Final = {"description": "Done; no body."}
LOCATION: Final = {"Location": {"schema": STRING, "description": "The new resource's path."}}


def op(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[int, Any],
    *,
    errors: tuple[int, ...] = (),
    parameters: tuple[Any, ...] = (),
    body: Any = None,
    description: str = "",
    security: list[dict[str, list[str]]] | None = None,
) -> Operation:
    answers: dict[str, Any] = {str(status): r for status, r in responses.items()}
    for status in sorted({*errors, *COMMON_ERRORS}):
        answers.setdefault(str(status), {"$ref": f"#/components/responses/Problem{status}"})
    operation: Operation = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": answers,
    }
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation
