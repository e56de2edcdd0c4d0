"""The crypto service, operations (health, metrics, problems) and the pages."""

from __future__ import annotations

from ems.server.openapi.operation import (
    BINARY,
    JSON,
    Operation,
    body_of,
    json_response,
    op,
    param,
)
from ems.server.openapi.schemas import STRING, ref


def crypto_paths() -> dict[str, dict[str, Operation]]:
    key = param("Crypto-Key", "header", STRING, "A Fernet key.", required=True)
    text = {"text/plain": {"schema": STRING}}
    return {
        "/ems/crypto/random-key": {
            "get": op(
                "randomKey",
                "Crypto",
                "A new random Fernet key",
                {
                    200: {
                        "description": "The key: text, or JSON with Accept: application/json.",
                        "content": {**text, JSON: {"schema": ref("RandomKey")}},
                    }
                },
            )
        },
        "/ems/crypto/encryption": {
            "post": op(
                "encrypt",
                "Crypto",
                "Encrypt the body",
                {200: {"description": "A Fernet token.", "content": text}},
                errors=(413,),
                parameters=(key,),
                body=body_of({"application/octet-stream": BINARY, "text/plain": STRING}),
            )
        },
        "/ems/crypto/decryption": {
            "post": op(
                "decrypt",
                "Crypto",
                "Decrypt a Fernet token",
                {
                    200: {
                        "description": "The original bytes.",
                        "content": {"application/octet-stream": {"schema": BINARY}},
                    }
                },
                errors=(413,),
                parameters=(key,),
                body=body_of({"text/plain": STRING}),
            )
        },
    }


def operations_paths() -> dict[str, dict[str, Operation]]:
    probe = "Health probes are never refused by the allow-list or the rate limit."
    return {
        "/healthz": {
            "get": op(
                "health",
                "Operations",
                "Liveness",
                {200: json_response("Health", "Serving.")},
                description=probe,
            )
        },
        "/readyz": {
            "get": op(
                "ready",
                "Operations",
                "Readiness",
                {
                    200: json_response("Ready", "Ready."),
                    503: json_response(
                        "Ready", "Starting, stopping, or the database cannot be written."
                    ),
                },
                description=probe,
            )
        },
        "/metrics": {
            "get": op(
                "metrics",
                "Operations",
                "Prometheus metrics",
                {
                    200: {
                        "description": "Text format.",
                        "content": {"text/plain": {"schema": STRING}},
                    }
                },
            )
        },
        "/ems/problems/{type}": {
            "get": op(
                "describeProblem",
                "Operations",
                "Describe a problem type",
                {200: json_response("ProblemType", "The problem type.")},
                errors=(404,),
                parameters=(param("type", "path", STRING, "The slug, as in invalid-request."),),
            )
        },
    }


def page_paths() -> dict[str, dict[str, Operation]]:
    html = {"text/html": {"schema": STRING}}

    def page(operation_id: str, summary: str) -> Operation:
        return {
            "operationId": operation_id,
            "tags": ["Pages"],
            "summary": summary,
            "responses": {
                "200": {"description": "The page.", "content": html},
                "404": {"$ref": "#/components/responses/Problem404"},
            },
        }

    assets = {kind: {"schema": STRING} for kind in ("text/javascript", "text/css", "image/svg+xml")}
    return {
        "/": {"get": page("playground", "The playground")},
        "/ems/playground": {"get": page("playgroundPage", "The playground")},
        "/ems/docs": {"get": page("apiReference", "This API reference")},
        "/ems/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["Pages"],
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/ems/static/{name}": {
            "get": {
                "operationId": "staticAsset",
                "tags": ["Pages"],
                "summary": "A script, style sheet or image of the pages",
                "parameters": [param("name", "path", STRING, "The file name.")],
                "responses": {
                    "200": {"description": "The file.", "content": assets},
                    "304": {"description": "Not modified (If-None-Match)."},
                    "404": {"$ref": "#/components/responses/Problem404"},
                },
            }
        },
    }
