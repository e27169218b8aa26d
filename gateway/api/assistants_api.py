"""``/api/v1/assistants``: read for apps, create/update/delete for admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.auth import requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.ids import path_id
from gateway.api.schemas import (
    AssistantFields,
    AssistantList,
    AssistantQuery,
    CreateAssistantRequest,
)
from gateway.api.views import assistant_view
from gateway.context import GatewayContext, context_of
from gateway.errors import NotFound, ValidationFailed
from gateway.sessions.phone import to_e164
from gateway.store.models import Assistant

_REQUIRED = ("name", "provider", "language_code", "idle_timeout_s")
_NULL_MEANS_EMPTY: dict[str, Any] = {
    "recording": "off",
    "tools": [],
    "transfer_destinations": [],
    "turn_detection": {},
    "interruption": {},
    "instructions": "",
}


def _assistant_id(request: web.Request) -> int:
    return path_id(request, "assistant_id", "assistant")


async def _find(ctx: GatewayContext, assistant_id: int) -> Assistant:
    row = await ctx.store.assistants.get(assistant_id)
    if row is None:
        raise NotFound("no assistant with this id")
    return row


def checked_fields(body: AssistantFields, provider_names: list[str]) -> dict[str, Any]:
    """The fields the client set, checked against what this gateway can run (the API and the
    CLI both store assistants through this, so neither accepts what the other refuses)."""
    fields = body.model_dump(exclude_unset=True)
    for field in ("provider", "fallback_provider"):
        provider = fields.get(field)
        if provider is not None and provider not in provider_names:
            known = ", ".join(provider_names)
            raise ValidationFailed(
                f"unknown {field.replace('_', ' ')} {provider!r}",
                details=[{"field": field, "message": f"expected one of {known}"}],
            )
    if fields.get("transfer_number"):
        fields["transfer_number"] = to_e164(fields["transfer_number"], field="transfer_number")
    for destination in fields.get("transfer_destinations") or []:
        destination["number"] = to_e164(destination["number"], field="transfer_destinations")
    names = [d["name"].casefold() for d in fields.get("transfer_destinations") or []]
    if len(names) != len(set(names)):
        raise ValidationFailed(
            "transfer destination names must differ",
            details=[{"field": "transfer_destinations", "message": "duplicate name"}],
        )
    for name in _REQUIRED:
        if name in fields and fields[name] is None:
            raise ValidationFailed(
                f"{name} cannot be null", details=[{"field": name, "message": "may not be null"}]
            )
    for name, empty in _NULL_MEANS_EMPTY.items():
        if name in fields and fields[name] is None:
            fields[name] = empty
    return fields


@requires("assistants:read")
async def list_assistants(request: web.Request) -> web.Response:
    query = read_query(request, AssistantQuery)
    rows, total = await context_of(request).store.assistants.page(
        limit=query.limit, offset=query.offset
    )
    data = [assistant_view(row) for row in rows]
    page = AssistantList(data=data, total=total, limit=query.limit, offset=query.offset)
    return json_response(page)


@requires("assistants:read")
async def get_assistant(request: web.Request) -> web.Response:
    row = await _find(context_of(request), _assistant_id(request))
    return json_response(assistant_view(row))


@requires("assistants:write")
async def create_assistant(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await read_body(request, CreateAssistantRequest)
    fields = checked_fields(body, ctx.providers.names())
    row = await ctx.store.assistants.create(fields, ctx.clock.now())
    return json_response(assistant_view(row), status=201)


@requires("assistants:write")
async def update_assistant(request: web.Request) -> web.Response:
    ctx = context_of(request)
    assistant_id = _assistant_id(request)
    body = await read_body(request, AssistantFields)
    fields = checked_fields(body, ctx.providers.names())
    row = await ctx.store.assistants.update(assistant_id, fields, ctx.clock.now())
    if row is None:
        raise NotFound("no assistant with this id")
    return json_response(assistant_view(row))


@requires("assistants:write")
async def delete_assistant(request: web.Request) -> web.Response:
    ctx = context_of(request)
    assistant_id = _assistant_id(request)
    if not await ctx.store.assistants.delete(assistant_id, ctx.clock.now()):
        raise NotFound("no assistant with this id")
    await ctx.sessions.end_for_assistant(assistant_id, "assistant_deleted")
    return web.Response(status=204)
