"""``/api/v1/admin/contacts``: the callers the gateway knows, their sessions and their names."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.api.admin_schemas import (
    ContactDetail,
    ContactErased,
    ContactFields,
    ContactPage,
    ContactQuery,
    ContactView,
    EraseQuery,
)
from gateway.api.auth import requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.ids import path_id
from gateway.api.views import assistant_ref, session_view
from gateway.context import GatewayContext, context_of
from gateway.errors import NotFound, ValidationFailed
from gateway.sessions.phone import to_e164
from gateway.store.models import Contact

log = logging.getLogger(__name__)

CONTACT_SESSIONS_SHOWN = 50  # a contact's page shows recent history; GET /sessions pages it all


def contact_view(row: Contact) -> ContactView:
    return ContactView(
        id=row.id,
        phone_number=row.phone_number,
        name=row.name,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        session_count=row.session_count,
    )


async def contact_detail(ctx: GatewayContext, row: Contact) -> ContactDetail:
    sessions = await ctx.store.contacts.sessions(row.id, limit=CONTACT_SESSIONS_SHOWN)
    views = []
    for session in sessions:
        assistant = await ctx.store.assistants.get(session.assistant_id, include_deleted=True)
        assert assistant is not None  # a foreign key
        views.append(session_view(session, assistant_ref(assistant)))
    return ContactDetail(**contact_view(row).model_dump(), sessions=views)


@requires("contacts:read", "contacts:write")
async def list_contacts(request: web.Request) -> web.Response:
    ctx = context_of(request)
    query = read_query(request, ContactQuery)
    phone = to_e164(query.phone_number, field="query.phone_number") if query.phone_number else None
    rows, total = await ctx.store.contacts.search(
        phone_number=phone, name=query.name, limit=query.limit, offset=query.offset
    )
    page = ContactPage(
        data=[contact_view(row) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )
    return json_response(page)


@requires("contacts:read", "contacts:write")
async def get_contact(request: web.Request) -> web.Response:
    ctx = context_of(request)
    row = await ctx.store.contacts.get(path_id(request, "contact_id", "contact"))
    if row is None:
        raise NotFound("no contact with this id")
    return json_response(await contact_detail(ctx, row))


@requires("contacts:write")
async def erase_contact(request: web.Request) -> web.Response:
    """Erase a contact and what its sessions said: live sessions are ended first (so their
    last turns are written, then erased), then one transaction deletes the transcripts, strips
    the sessions of number, contact and metadata, and deletes the contact."""
    ctx = context_of(request)
    contact_id = path_id(request, "contact_id", "contact")
    if not read_query(request, EraseQuery).erase:
        raise ValidationFailed(
            "deleting a contact erases its transcripts for good: confirm with ?erase=true",
            details=[{"field": "query.erase", "message": "must be true"}],
        )
    if await ctx.store.contacts.get(contact_id) is None:
        raise NotFound("no contact with this id")
    live = await ctx.store.contacts.live_sessions(contact_id)
    for session_id in live:
        await ctx.sessions.end(session_id, "contact_erased")
    await ctx.live.wait_gone(live)
    await ctx.transcripts.drain()
    erased = await ctx.store.contacts.erase(contact_id, ctx.clock.now())
    if erased is None:
        raise NotFound("no contact with this id")
    log.info(
        "contact erased",
        extra={"contact_id": contact_id, "sessions": erased[0], "turns": erased[1]},
    )
    return json_response(
        ContactErased(contact_id=contact_id, sessions_erased=erased[0], turns_deleted=erased[1])
    )


@requires("contacts:write")
async def update_contact(request: web.Request) -> web.Response:
    ctx = context_of(request)
    contact_id = path_id(request, "contact_id", "contact")
    body = await read_body(request, ContactFields)
    row = await ctx.store.contacts.rename(contact_id, body.name)
    if row is None:
        raise NotFound("no contact with this id")
    return json_response(await contact_detail(ctx, row))
