"""``/api/v1/sessions``: create, list, read, end, and transcripts."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.app_audio import app_format
from gateway.api.auth import has_permission, is_publishable, key_of, publishable, requires
from gateway.api.bodies import json_response, read_body, read_query
from gateway.api.doc_fields import E164
from gateway.api.ids import IsoDatetime, Offset, QueryRowId
from gateway.api.publishable import check_session_scope
from gateway.api.schemas import (
    CreateSessionRequest,
    SessionCreated,
    SessionPage,
    Transcript,
)
from gateway.api.views import assistant_ref, session_view, turn_view
from gateway.context import GatewayContext, context_of
from gateway.errors import NotFound
from gateway.sessions.overrides import SessionOverrides
from gateway.sessions.phone import to_e164
from gateway.sessions.service import NewSession
from gateway.store.models import ApiKey, Session
from gateway.store.sessions import SessionFilter


class SessionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "active", "ended", "expired"] | None = None
    phone_number: E164 | None = None
    assistant_id: QueryRowId | None = None
    channel: Literal["api", "phone"] | None = None
    created_after: IsoDatetime | None = None
    created_before: IsoDatetime | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Offset = 0


def overrides_of_request(body: CreateSessionRequest) -> SessionOverrides:
    audio = app_format(body.audio.encoding, body.audio.sample_rate) if body.audio else None
    return SessionOverrides(
        instructions=body.instructions,
        greeting=body.greeting,
        voice=body.voice,
        tools=tuple(body.tools) if body.tools is not None else None,
        max_turns=body.max_turns,
        context_window=body.context_window,
        vad_threshold=body.vad_threshold,
        silence_ms=body.silence_ms,
        resume_grace_s=body.resume_grace_s,
        turn_events="turns" in (body.events or ()),
        audio_encoding=audio.encoding if audio else None,
        audio_rate_hz=audio.sample_rate_hz if audio else None,
    )


def connect_url(ctx: GatewayContext, session_id: str, token: str) -> str:
    return f"{ctx.settings.public_ws_url}/api/v1/sessions/{session_id}/connect?api_key={token}"


@publishable
@requires("sessions:create")
async def create_session(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.drain.refuse_new("sessions")
    body = await read_body(request, CreateSessionRequest)
    if is_publishable(key_of(request)):
        check_session_scope(key_of(request), body)
    created = await ctx.sessions.create(
        NewSession(
            assistant_id=body.assistant_id,
            mode=body.mode,
            phone_number=body.phone_number,
            language_code=body.language_code,
            metadata=body.metadata or {},
            api_key_id=key_of(request).id,
            overrides=overrides_of_request(body),
        )
    )
    session = created.session
    payload = SessionCreated(
        session_id=session.id,
        mode=body.mode,
        websocket_url=connect_url(ctx, session.id, created.connect_token),
        expires_at=session.expires_at,
        assistant=assistant_ref(created.assistant),
    )
    return json_response(payload, status=201)


async def visible_session(request: web.Request, admin_permission: str) -> Session:
    """The session named in the path, if this key may see it; otherwise 404 (never 403, so
    ids of other keys' sessions cannot be probed)."""
    ctx = context_of(request)
    row = await ctx.sessions.get(request.match_info["session_id"])
    key: ApiKey = key_of(request)
    if not has_permission(key, admin_permission) and row.api_key_id != key.id:
        raise NotFound("no session with this id")
    return row


class SessionDetailQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include: Literal["history"] | None = None


async def _respond(ctx: GatewayContext, row: Session, *, history: bool = False) -> web.Response:
    assistant = await ctx.store.assistants.get(row.assistant_id, include_deleted=True)
    assert assistant is not None
    latency = (await ctx.store.sessions.mean_latencies([row.id])).get(row.id)
    view = session_view(row, assistant_ref(assistant), mean_latency_ms=latency)
    if history:
        view.history = [turn_view(t) for t in await ctx.store.sessions.turns(row.id)]
    return json_response(view)


@requires("sessions:create", "sessions:read")
async def get_session(request: web.Request) -> web.Response:
    query = read_query(request, SessionDetailQuery)
    row = await visible_session(request, "sessions:read")
    return await _respond(context_of(request), row, history=query.include == "history")


@requires("sessions:create", "sessions:write")
async def delete_session(request: web.Request) -> web.Response:
    ctx = context_of(request)
    row = await visible_session(request, "sessions:write")
    ended = await ctx.sessions.end(row.id, "api_delete")
    return await _respond(ctx, ended)


@requires("sessions:read")
async def list_sessions(request: web.Request) -> web.Response:
    ctx = context_of(request)
    query = read_query(request, SessionQuery)
    phone = to_e164(query.phone_number, field="query.phone_number") if query.phone_number else None
    await ctx.sessions.expire_due()
    rows, total = await ctx.store.sessions.search(
        SessionFilter(
            status=query.status,
            phone_number=phone,
            assistant_id=query.assistant_id,
            channel=query.channel,
            created_after=query.created_after,
            created_before=query.created_before,
        ),
        limit=query.limit,
        offset=query.offset,
    )
    refs = {a.id: assistant_ref(a) for a in await ctx.store.assistants.list_all()}
    latencies = await ctx.store.sessions.mean_latencies([row.id for row in rows])
    views = []
    for row in rows:
        if row.assistant_id not in refs:
            deleted = await ctx.store.assistants.get(row.assistant_id, include_deleted=True)
            assert deleted is not None
            refs[row.assistant_id] = assistant_ref(deleted)
        latency = latencies.get(row.id)
        views.append(session_view(row, refs[row.assistant_id], mean_latency_ms=latency))
    page = SessionPage(data=views, total=total, limit=query.limit, offset=query.offset)
    return json_response(page)


@requires("sessions:create", "sessions:read")
async def get_transcript(request: web.Request) -> web.Response:
    """A key that created the session may read its transcript; others need sessions:read."""
    ctx = context_of(request)
    row = await visible_session(request, "sessions:read")
    turns = await ctx.store.sessions.turns(row.id)
    return json_response(Transcript(session_id=row.id, turns=[turn_view(t) for t in turns]))
