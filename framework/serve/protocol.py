"""What `labelwise serve` takes and gives on the wire: the request body, parsed and
checked (pydantic: untrusted input enters here), and the OpenAPI description.

    request = parse_request(body_bytes, default_deadline_ms=30_000)   # or BadRequest
    request.items, request.deadline_ms

A body is `{"rows": [{"id": ..., "text": ...}, ...], "deadline_ms": N?}` or one row
`{"id": ..., "text": ..., "deadline_ms": N?}`; a row without an id gets its position
("0", "1", ...). Anything else is a BadRequest whose one line names the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from framework.records import Item

__all__ = ["DEADLINE_HEADER", "BadRequest", "ServeRequest", "openapi", "parse_request"]

DEADLINE_HEADER = "X-Deadline-Ms"  # the request's deadline, as the field deadline_ms


class BadRequest(Exception):
    """A request the service refuses: its HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str | int | None = None
    text: str


class _Rows(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    rows: list[_Row] = Field(min_length=1)
    deadline_ms: int | None = Field(default=None, gt=0)


class _OneRow(_Row):
    deadline_ms: int | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class ServeRequest:
    items: tuple[Item, ...]
    deadline_ms: int


def parse_request(
    body: bytes, *, default_deadline_ms: int, header_deadline: str | None = None, max_rows: int
) -> ServeRequest:
    """The rows and deadline of a POST /v1/classify body, or a BadRequest (400, 422)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(400, f"the body is not JSON ({error}); send {_SHAPE}") from None
    if not isinstance(data, dict):
        raise BadRequest(422, f"the body is a JSON {type(data).__name__}; send {_SHAPE}")
    try:
        if "rows" in data:
            many = _Rows.model_validate(data)
            rows, deadline = many.rows, many.deadline_ms
        else:
            one = _OneRow.model_validate(data)
            rows, deadline = [one], one.deadline_ms
    except ValidationError as error:
        raise BadRequest(422, _first_problem(error)) from None
    if len(rows) > max_rows:
        raise BadRequest(
            413, f"{len(rows)} rows in one request; at most {max_rows}: split it in several"
        )
    if deadline is None and header_deadline is not None:
        deadline = _header_deadline(header_deadline)
    items = tuple(
        Item(str(row.id) if row.id is not None else str(n), row.text) for n, row in enumerate(rows)
    )
    return ServeRequest(items, deadline or default_deadline_ms)


_SHAPE = '{"rows": [{"id": "1", "text": "..."}]} or {"id": "1", "text": "..."}'


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "the body"
    kind = problem["type"]
    if kind == "extra_forbidden":
        return f"{where}: not a known field; a row has id and text, a body rows and deadline_ms"
    if kind == "missing":
        return f"{where}: required; send {_SHAPE}"
    return f"{where}: {problem['msg']}"


def _header_deadline(value: str) -> int:
    try:
        deadline = int(value)
    except ValueError:
        deadline = 0
    if deadline <= 0:
        raise BadRequest(400, f"{DEADLINE_HEADER}: {value!r} is not a positive number of ms")
    return deadline


def openapi(title: str, labels: list[str]) -> dict[str, Any]:
    """The service's OpenAPI 3.1 description (GET /openapi.json)."""
    row_fields: dict[str, Any] = {
        "id": {"type": ["string", "integer"], "description": "default: the row's position"},
        "text": {"type": "string"},
    }
    row_in = {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": row_fields,
    }
    row_out = {
        "type": "object",
        "description": "A results.jsonl row (docs/serve.md lists its fields)",
        "required": ["id", "labels", "status"],
        "properties": {
            "id": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "string", "enum": labels}},
            "status": {"type": "string", "enum": ["ok", "failed"]},
            "error": {"type": "string"},
            "error_kind": {"type": "string"},
            "confidence": {"type": "object", "additionalProperties": {"type": "number"}},
            "taxonomy": {"type": "string"},
            "taxonomy_hash": {"type": "string"},
            "path": {"type": "string"},
            "attempts": {"type": "integer"},
            "cost": {"type": ["number", "null"]},
            "cache_hits": {"type": "integer"},
        },
    }
    deadline = {"type": "integer", "minimum": 1, "description": "ms; or the X-Deadline-Ms header"}
    error = {
        "description": "refused",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
            }
        },
    }
    body = {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["rows"],
                "properties": {
                    "rows": {"type": "array", "minItems": 1, "items": row_in},
                    "deadline_ms": deadline,
                },
            },
            {**row_in, "properties": {**row_fields, "deadline_ms": deadline}},
        ]
    }
    answer = {"type": "object", "properties": {"rows": {"type": "array", "items": row_out}}}
    classify = {
        "summary": "Label rows",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {
                "description": "one row out per row in, in order",
                "content": {"application/json": {"schema": answer}},
            },
            **{status: {**error, "description": why} for status, why in _REFUSALS.items()},
        },
    }
    plain = {"responses": {"200": {"description": "ok"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/classify": {"post": classify},
            "/health": {"get": plain},
            "/metrics": {"get": {"summary": "Prometheus text format", **plain}},
            "/openapi.json": {"get": plain},
        },
    }


_REFUSALS = {
    "400": "malformed JSON or a bad X-Deadline-Ms",
    "401": "missing or wrong bearer token",
    "413": "body over the size cap, or too many rows",
    "422": "a field missing, of the wrong type, or not known",
    "429": "too many rows in flight; retry after Retry-After seconds",
    "503": "the provider is not answering, or the budget is spent",
    "504": "no row finished before the deadline",
}
