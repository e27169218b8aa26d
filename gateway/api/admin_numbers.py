"""``/api/v1/admin/numbers``: which carrier number is answered by which assistant."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from gateway.api.admin_schemas import (
    AssignNumberRequest,
    Carrier,
    NumberFields,
    NumberPage,
    NumberView,
    PageQuery,
)
from gateway.api.auth import requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.ids import path_id
from gateway.api.views import assistant_ref
from gateway.context import GatewayContext, context_of
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.sessions.phone import to_e164
from gateway.store.models import PhoneNumber


async def number_view(ctx: GatewayContext, row: PhoneNumber) -> NumberView:
    assistant = await ctx.store.assistants.get(row.assistant_id, include_deleted=True)
    assert assistant is not None  # a foreign key
    return NumberView(
        id=row.id,
        number=row.number,
        carrier=cast(Carrier, row.carrier),
        assistant=assistant_ref(assistant),
        label=row.label,
        enabled=row.enabled,
        max_concurrent_calls=row.max_concurrent_calls,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def checked_number_fields(ctx: GatewayContext, body: NumberFields) -> dict[str, Any]:
    """The fields the client set, with the number in E.164 and the assistant checked."""
    fields = body.model_dump(exclude_unset=True)
    if "number" in fields:
        fields["number"] = to_e164(fields["number"], field="number")
    for name in ("assistant_id", "carrier", "enabled"):
        if name in fields and fields[name] is None:
            raise ValidationFailed(
                f"{name} cannot be null", details=[{"field": name, "message": "may not be null"}]
            )
    if "assistant_id" in fields and await ctx.store.assistants.get(fields["assistant_id"]) is None:
        raise ValidationFailed(
            "assistant_id names no assistant",
            details=[{"field": "assistant_id", "message": "no assistant with this id"}],
        )
    return fields


@requires("numbers:read", "numbers:write")
async def list_numbers(request: web.Request) -> web.Response:
    ctx = context_of(request)
    query = read_query(request, PageQuery)
    rows, total = await ctx.store.numbers.search(limit=query.limit, offset=query.offset)
    views = [await number_view(ctx, row) for row in rows]
    page = NumberPage(data=views, total=total, limit=query.limit, offset=query.offset)
    return json_response(page)


@requires("numbers:read", "numbers:write")
async def get_number(request: web.Request) -> web.Response:
    ctx = context_of(request)
    row = await ctx.store.numbers.get(path_id(request, "number_id", "number"))
    if row is None:
        raise NotFound("no number with this id")
    return json_response(await number_view(ctx, row))


@requires("numbers:write")
async def assign_number(request: web.Request) -> web.Response:
    ctx = context_of(request)
    fields = await checked_number_fields(ctx, await read_body(request, AssignNumberRequest))
    row = await ctx.store.numbers.create(fields, ctx.clock.now())
    if row is None:
        raise Conflict("this number is already assigned: PATCH it to change the assistant")
    return json_response(await number_view(ctx, row), status=201)


@requires("numbers:write")
async def update_number(request: web.Request) -> web.Response:
    ctx = context_of(request)
    number_id = path_id(request, "number_id", "number")
    fields = await checked_number_fields(ctx, await read_body(request, NumberFields))
    row = await ctx.store.numbers.update(number_id, fields, ctx.clock.now())
    if row is None:
        raise NotFound("no number with this id")
    return json_response(await number_view(ctx, row))


@requires("numbers:write")
async def unassign_number(request: web.Request) -> web.Response:
    ctx = context_of(request)
    if not await ctx.store.numbers.delete(path_id(request, "number_id", "number")):
        raise NotFound("no number with this id")
    return web.Response(status=204)
