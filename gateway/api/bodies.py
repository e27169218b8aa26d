"""Reading request bodies and query strings into pydantic models, with 400/422 on bad input."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.api.errors import validation_failed
from gateway.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the body as JSON whatever its Content-Type (browsers' fetch often sends
    text/plain), then validate it; 400 for bad JSON, 422 naming each bad field."""
    raw = await request.read()
    try:
        # orjson, not json: it refuses nesting past 1024 levels with a decode error, where the
        # standard parser overflowed the stack (RecursionError, a 500) on 10 KiB of brackets.
        data: Any = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON") from None
    if data is None:
        raise BadRequest("request body is empty: send a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None


def read_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_failed(exc, prefix="query.") from None


def json_response(model: BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=model.model_dump_json(by_alias=True).encode(),
        content_type="application/json",
    )
