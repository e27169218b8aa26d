"""``/api/v1/admin/contacts``: the callers the gateway knows, their sessions and their names."""

from __future__ import annotations

from aiohttp import web

from gateway.api.admin_schemas import (
    ContactDetail,
    ContactFields,
    ContactPage,
    ContactQuery,
    ContactView,
)
from gateway.api.auth import requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.ids import path_id
from gateway.api.views import assistant_ref, session_view
from gateway.context import GatewayContext, context_of
from gateway.errors import NotFound
from gateway.sessions.phone import to_e164
from gateway.store.models import Contact

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
async def update_contact(request: web.Request) -> web.Response:
    ctx = context_of(request)
    contact_id = path_id(request, "contact_id", "contact")
    body = await read_body(request, ContactFields)
    row = await ctx.store.contacts.rename(contact_id, body.name)
    if row is None:
        raise NotFound("no contact with this id")
    return json_response(await contact_detail(ctx, row))
