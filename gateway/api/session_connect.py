"""``GET /api/v1/sessions/{id}/connect``: open an app session, or resume one after a drop.

A first connect (``?api_key=``) claims the session and starts it in a task of its own (an
``AppSession``, which outlives the socket). A resume (``?resume=<token>&lastSeq=<n>``, with
``replayAudio=false`` to skip the agent audio missed) plugs a new socket into the running
session. Both check everything they can before the upgrade, so a refusal is a plain HTTP error:
401 for a wrong or spent resume token, 400 for a bad ``lastSeq``, 409 while another socket is
attached or when the messages to replay are no longer held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, web
from multidict import MultiMapping

from gateway.api.app_audio import AppAudioCodec, connect_format, with_format
from gateway.api.app_session import APP_SESSIONS, AppSession
from gateway.api.errors import error_response
from gateway.api.node_auth import verify_node
from gateway.api.node_forward import forward_resume, owner_url, with_forwarded_error
from gateway.api.replay import ReplayGap
from gateway.api.sequence import events_asked
from gateway.api.session_socket import (
    CLOSE_CODES,
    RESUME_RACE_CLOSE,
    SHUTDOWN_CLOSE_WAIT_S,
    AppSocketClient,
    authorize_connect,
    check_origin,
)
from gateway.api.socket_backpressure import bound_send_buffers
from gateway.context import GatewayContext, context_of
from gateway.errors import BadRequest, Conflict, GatewayError, Unauthorized
from gateway.sessions.session_spec import overrides_of
from gateway.store.models import Assistant, Session

log = logging.getLogger(__name__)


async def connect_session(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    if "resume" in request.query:
        return await resume_session(request, ctx)
    ctx.drain.refuse_new("connections")
    row = await authorize_connect(request, ctx)
    audio, fixes_audio = connect_format(row, request.query)
    fixed = with_format(overrides_of(row), audio) if fixes_audio else None
    row = await ctx.sessions.claim(row, fixed)
    ws = await _upgrade(request, ctx)
    turn_events = overrides_of(row).turn_events or "turns" in events_asked(
        request.query.get("events")
    )
    # Read here for its grace period, and handed to the runner, which would read it anyway.
    assistant = await ctx.store.assistants.get(row.assistant_id, include_deleted=True)
    session = AppSession(
        row.id,
        turn_events=turn_events,
        audio_bytes=ctx.settings.resume_buffer_bytes,
        grace_s=grace_of(ctx, row, assistant),
        clock=ctx.clock,
        draining=ctx.drain.started,
        audio=AppAudioCodec(audio),
    )
    link = AppSocketClient(ws, request.transport)
    session.attach(link)
    request.app[APP_SESSIONS].start(ctx.runner, row, session, assistant)
    return await _serve(ws, link)


def grace_of(ctx: GatewayContext, row: Session, assistant: Assistant | None) -> float:
    """The session's own ``resume_grace_s``, else its assistant's, else the gateway's."""
    own = overrides_of(row).resume_grace_s
    if own is not None:
        return own
    if assistant is not None and assistant.resume_grace_s is not None:
        return assistant.resume_grace_s
    return ctx.settings.resume_grace_s


async def internal_resume(request: web.Request) -> web.StreamResponse:
    """``GET /internal/v1/sessions/{id}/resume``: a resume another node received (and checked
    the session and ``Origin`` of) for a session this node holds. A refusal carries its JSON
    error in a header too, as the forwarding node's WebSocket client sees no body."""
    ctx = context_of(request)
    verify_node(request, ctx)
    try:
        last_seq, audio = resume_params(request.query)
        return await _resume_here(request, ctx, request.match_info["session_id"], last_seq, audio)
    except GatewayError as exc:
        return with_forwarded_error(error_response(exc))


async def resume_session(request: web.Request, ctx: GatewayContext) -> web.StreamResponse:
    """Plug a new socket into a session whose socket dropped (docs/protocol.md, §2); a session
    another node holds is reached through that node."""
    row = await ctx.sessions.get(request.match_info["session_id"])
    await check_origin(request, ctx, row)
    last_seq, audio = resume_params(request.query)
    if request.app[APP_SESSIONS].get(row.id) is None and row.status == "active":
        url = await owner_url(ctx, row.id)
        if url is not None:
            return await forward_resume(request, ctx, url)
    return await _resume_here(request, ctx, row.id, last_seq, audio)


async def _resume_here(
    request: web.Request, ctx: GatewayContext, session_id: str, last_seq: int, audio: bool
) -> web.StreamResponse:
    session = request.app[APP_SESSIONS].get(session_id)
    # One answer for a wrong token and for a session not running here: a guessed token must
    # not tell a live session from an ended one.
    if session is None or not session.token_matches(request.query.get("resume", "")):
        raise Unauthorized("invalid or spent resume token")
    _check(session, last_seq, audio=audio)
    ws = await _upgrade(request, ctx)
    link = AppSocketClient(ws, request.transport)
    try:
        replayed = session.resume(link, last_seq, audio=audio)
    except (GatewayError, ValueError, ReplayGap) as exc:
        await ws.close(code=RESUME_RACE_CLOSE, message=str(exc).encode()[:120])
        return ws
    log.info("app session resumed", extra={"session_id": session_id, "replayed": replayed})
    return await _serve(ws, link)


def resume_params(query: MultiMapping[str]) -> tuple[int, bool]:
    """``lastSeq`` (required, an integer ≥ 0) and ``replayAudio`` (``true`` unless ``false``)."""
    raw = query.get("lastSeq", "")
    if not raw.isdigit() or len(raw) > 12:
        raise BadRequest("lastSeq must be the seq of the last message received (an integer ≥ 0)")
    replay_audio = query.get("replayAudio", "true").lower()
    if replay_audio not in ("true", "false"):
        raise BadRequest("replayAudio must be true or false")
    return int(raw), replay_audio == "true"


def _check(session: AppSession, last_seq: int, *, audio: bool) -> None:
    """The resume's refusals as HTTP errors, before the upgrade. A gap in non-audio messages
    can never be resumed, so it also ends the session rather than leave it to the grace
    period."""
    try:
        session.check_resume(last_seq, audio=audio)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    except ReplayGap as exc:
        if not exc.audio_only and session.conversation is not None:
            session.conversation.end("client_lost")
        raise Conflict(str(exc)) from None


async def _upgrade(request: web.Request, ctx: GatewayContext) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=ctx.settings.ws_max_message_bytes, heartbeat=30)
    await ws.prepare(request)
    bound_send_buffers(request.transport)
    return ws


async def _serve(ws: web.WebSocketResponse, link: AppSocketClient) -> web.WebSocketResponse:
    """Write the session's messages to ``ws`` until the session ends (close with its reason)
    or the socket is no longer the session's (it dropped)."""
    reason: str | None = None
    try:
        async with link.running():
            reason = await link.finished
    finally:
        await _close(ws, reason)
    return ws


async def _close(ws: web.WebSocketResponse, reason: str | None) -> None:
    if reason is None:  # the client went: nothing to tell it
        await ws.close()
        return
    code = CLOSE_CODES.get(reason, WSCloseCode.OK)
    closing = ws.close(code=code, message=reason.encode()[:120])
    if reason == "shutdown":
        # aiohttp stops reading every connection once shutdown begins, so the client's close
        # reply can never arrive: send our close frame, then drop the connection.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing, SHUTDOWN_CLOSE_WAIT_S)
    else:
        await closing
