"""``/api/v1/calls``: place an outbound call, list and read calls (both directions), hang up."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from gateway.api.auth import has_permission, key_of, requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.call_schemas import (
    CallPage,
    CallQuery,
    CallStatus,
    CallView,
    CreateCallRequest,
    TransferView,
)
from gateway.api.ids import path_id
from gateway.context import context_of
from gateway.errors import NotFound, ValidationFailed
from gateway.sessions.phone import to_e164
from gateway.store.calls import CallFilter
from gateway.store.models import Call, CallTransfer
from gateway.telephony.outbound import OutboundRequest, is_provisional
from gateway.telephony.outbound_rules import callee_number
from gateway.telephony.service import TELEPHONY

IDEMPOTENCY_HEADER = "Idempotency-Key"
_STATUS_NAMES = {"initiated": "queued", "answered": "in-progress"}


def call_view(row: Call) -> CallView:
    return CallView(
        id=row.id,
        session_id=row.session_id,
        status=cast(CallStatus, _STATUS_NAMES.get(row.status, row.status)),
        direction="outbound" if row.direction == "outbound" else "inbound",
        from_=row.from_number,
        to=row.to_number,
        carrier=row.carrier,
        call_sid=None if is_provisional(row) else row.call_sid,
        assistant_id=row.assistant_id,
        answered_by=row.answered_by,
        machine_detection=row.machine_detection,
        end_reason=row.end_reason,
        duration_s=row.duration_s,
        max_duration_s=row.max_duration_s,
        created_at=row.created_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
    )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 characters",
            details=[{"field": "header.Idempotency-Key", "message": "1 to 255 characters"}],
        )
    return key


@requires("calls:create")
async def create_call(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.drain.refuse_new("calls")
    body = await read_body(request, CreateCallRequest)
    placed = await request.app[TELEPHONY].outbound.place(
        OutboundRequest(
            assistant_id=body.assistant_id,
            to=callee_number(body.to, allow_premium=ctx.settings.outbound_allow_premium),
            from_number=to_e164(body.from_, field="from"),
            metadata=body.metadata or {},
            greeting=body.greeting,
            instructions=body.instructions,
            machine_detection=body.machine_detection,
            voicemail_message=body.voicemail_message,
            max_duration_s=body.max_duration_s,
            api_key_id=key_of(request).id,
            idempotency_key=_idempotency_key(request),
        )
    )
    response = json_response(call_view(placed.call), status=201)
    if placed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def _visible_call(request: web.Request, admin_permission: str) -> Call:
    """The call in the path, if this key may see it (its own outbound calls, or any with the
    admin permission); otherwise 404, so ids of other keys' calls cannot be probed."""
    row = await context_of(request).store.calls.get(path_id(request, "call_id", "call"))
    key = key_of(request)
    if row is None or not (has_permission(key, admin_permission) or row.api_key_id == key.id):
        raise NotFound("no call with this id")
    return row


@requires("calls:create", "calls:read")
async def get_call(request: web.Request) -> web.Response:
    row = await _visible_call(request, "calls:read")
    transfers = await context_of(request).store.transfers.of_call(row.call_sid)
    view = call_view(row)
    view.transfers = [transfer_view(t) for t in transfers]
    return json_response(view)


def transfer_view(row: CallTransfer) -> TransferView:
    return TransferView(
        mode="warm" if row.mode == "warm" else "cold",
        destination=row.destination_number,
        destination_name=row.destination_name,
        outcome=row.state,
        started_at=row.started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
    )


@requires("calls:create", "calls:write")
async def hang_up_call(request: web.Request) -> web.Response:
    row = await _visible_call(request, "calls:write")
    ended = await request.app[TELEPHONY].outbound.hang_up(row, "api_hangup")
    return json_response(call_view(ended))


@requires("calls:read")
async def list_calls(request: web.Request) -> web.Response:
    ctx = context_of(request)
    query = read_query(request, CallQuery)
    number = to_e164(query.number, field="query.number") if query.number else None
    rows, total = await ctx.store.calls.search(
        CallFilter(
            status=query.status,
            direction=query.direction,
            number=number,
            assistant_id=query.assistant_id,
            created_after=query.created_after,
            created_before=query.created_before,
        ),
        limit=query.limit,
        offset=query.offset,
    )
    page = CallPage(data=[call_view(r) for r in rows], total=total, limit=query.limit,
                    offset=query.offset)  # fmt: skip
    return json_response(page)
