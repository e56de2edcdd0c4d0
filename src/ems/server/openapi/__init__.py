"""EMS's native API as an OpenAPI 3.1 document, served at ``/ems/openapi.json``.

Built from code (bounds from ``ems.core.limits``, problem types from the server's catalogue), so
it cannot drift from what the handlers enforce; tests check it against the router both ways.
"""

from __future__ import annotations

import json
from functools import cache
from http import HTTPStatus
from typing import Any

from ems.server.openapi.admin_paths import admin_components, admin_paths, console_paths
from ems.server.openapi.operation import Operation
from ems.server.openapi.queue_paths import queue_paths
from ems.server.openapi.redrive_paths import redrive_paths, redrive_schemas
from ems.server.openapi.schemas import components, ref
from ems.server.openapi.service_paths import crypto_paths, operations_paths, page_paths
from ems.server.openapi.stream_paths import stream_paths
from ems.server.openapi.topic_paths import topic_paths
from ems.server.openapi.topic_schemas import topic_components
from ems.version import __version__

# the statuses problems are answered with, as reusable responses
PROBLEM_STATUSES = (400, 401, 403, 404, 408, 409, 413, 429, 431, 503, 507)

_DESCRIPTION = """\
Durable queues, topics with webhook push, and a crypto service, over plain HTTP: `curl` is a
complete client.

**Ids are capabilities.** Creating a queue or topic answers its secret id; whoever knows it may
use it, and nothing lists them. A queue's `send_id` may only send; its `receive_id` may only
receive, delete and change visibility.

**Errors** are RFC 9457 problems (`application/problem+json`); a failed request changes nothing.
Branch on `type` or `status`. **Message attributes** travel as `EMS-Attribute-<Name>` headers.
"""


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def paths() -> dict[str, dict[str, Operation]]:
    """Every operation; tests/api/test_openapi.py checks they are exactly what is served."""
    return {
        **queue_paths(),
        **redrive_paths(),
        **topic_paths(),
        **stream_paths(),
        **crypto_paths(),
        **operations_paths(),
        **admin_paths(),
        **page_paths(),
        **console_paths(),
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EMS, the Easy Message Service",
            "version": __version__,
            "description": _DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "Queues", "description": "Create, inspect, change and delete queues."},
            {"name": "Messages", "description": "Send, receive, delete, change visibility."},
            {"name": "Topics", "description": "Fan out to queues; push to webhooks."},
            {"name": "Crypto", "description": "Random keys, encryption and decryption."},
            {"name": "Operations", "description": "Health, readiness, metrics, problems."},
            {"name": "Admin", "description": "Only when the server has EMS_ADMIN_TOKEN."},
            {"name": "Pages", "description": "The playground, this reference and its assets."},
        ],
        "paths": paths(),
        "components": {
            "schemas": {
                **components(),
                **topic_components(),
                **admin_components(),
                **redrive_schemas(),
            },
            "responses": {f"Problem{s}": _problem_response(s) for s in PROBLEM_STATUSES},
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key, when the server requires one to create queues "
                    "and topics (EMS_API_KEYS).",
                },
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "EMS_ADMIN_TOKEN.",
                },
            },
        },
    }


@cache
def document_bytes() -> bytes:
    return (json.dumps(document(), ensure_ascii=False, indent=1) + "\n").encode()
