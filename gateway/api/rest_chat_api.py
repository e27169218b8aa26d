"""``POST /api/v1/sessions/{id}/messages``: chat over plain REST, as JSON or as SSE.

With ``Accept: text/event-stream`` the turn streams as server-sent events, each named by its
``type`` and carrying the same JSON as the WebSocket message (``transcriptionUpdate`` deltas,
``toolCall``, then ``turnComplete``); otherwise the answer is one ``ChatReply``. Errors before
the first event are the usual JSON errors (409 when a WebSocket holds the session). A message
for a REST chat another node holds is forwarded to that node (``gateway.api.node_forward``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.auth import requires
from gateway.api.bodies import json_response, read_body
from gateway.api.node_auth import verify_node
from gateway.api.node_forward import forward_message, owner_url
from gateway.api.schemas import ChatMessageRequest, ChatReply, ChatToolCall
from gateway.api.sessions_api import visible_session
from gateway.context import context_of
from gateway.errors import Conflict, Unavailable
from gateway.sessions.protocol import SessionError, SessionTimeout, TurnComplete, encode
from gateway.sessions.rest_chat import ChatEvent, ToolCallNotice
from gateway.sessions.session_spec import session_spec
from gateway.store.models import Session

SSE = "text/event-stream"


def sse_frame(event: ChatEvent) -> bytes:
    """One server-sent event: ``event: <type>`` and the message's JSON."""
    if isinstance(event, ToolCallNotice):
        kind = "toolCall"
        data = json.dumps(
            {
                "type": kind,
                "callId": event.call_id,
                "name": event.name,
                "arguments": event.arguments,
            }
        )
    else:
        kind, data = event.type, encode(event)
    return f"event: {kind}\ndata: {data}\n\n".encode()


@requires("sessions:create", "sessions:write")
async def post_message(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    row = await visible_session(request, "sessions:write")
    body = await read_body(request, ChatMessageRequest)
    if row.status == "active" and not ctx.rest_chats.holds(row.id):
        url = await owner_url(ctx, row.id)  # another node holds it: ask that node
        if url is not None:
            return await forward_message(request, ctx, url, await request.read())
    return await answer_message(request, row, body)


async def internal_message(request: web.Request) -> web.StreamResponse:
    """``POST /internal/v1/sessions/{id}/messages``: a message another node accepted (the
    caller's key was checked there) for a REST chat this node holds."""
    ctx = context_of(request)
    verify_node(request, ctx, await request.read())
    row = await ctx.sessions.get(request.match_info["session_id"])
    return await answer_message(request, row, await read_body(request, ChatMessageRequest))


async def answer_message(
    request: web.Request, row: Session, body: ChatMessageRequest
) -> web.StreamResponse:
    """Run one message of the session's REST chat on this node (claiming it if pending)."""
    ctx = context_of(request)
    greets = False
    if row.status == "pending":
        ctx.drain.refuse_new("connections")
        assistant = await ctx.store.assistants.get(row.assistant_id, include_deleted=True)
        greets = assistant is not None and bool(session_spec(assistant, row).greeting)
    chat = await ctx.rest_chats.open(row, greets=greets)
    async with contextlib.aclosing(chat.ask(body.text, body.metadata)) as events:
        first = await anext(events)  # refusals (busy, ended) are plain JSON errors
        if SSE in request.headers.get("Accept", ""):
            return await _stream(request, first, events)
        return json_response(await _reply(row.id, first, events))


async def _stream(
    request: web.Request, first: ChatEvent, rest: AsyncIterator[ChatEvent]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": SSE, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(sse_frame(first))
    async for event in rest:
        await response.write(sse_frame(event))
    await response.write_eof()
    return response


async def _reply(session_id: str, first: ChatEvent, rest: AsyncIterator[ChatEvent]) -> ChatReply:
    tools: list[ChatToolCall] = []
    event: ChatEvent | None = first
    while event is not None:
        match event:
            case ToolCallNotice(call_id=call_id, name=name, arguments=arguments):
                tools.append(ChatToolCall(call_id=call_id, name=name, arguments=arguments))
            case TurnComplete():
                return ChatReply(
                    session_id=session_id,
                    turn_id=event.turn_id,
                    input=event.full_input,
                    text=event.full_output,
                    interrupted=event.interrupted,
                    latency_ms=event.latency_ms,
                    duration_ms=event.duration_ms,
                    tool_calls=tools,
                )
            case SessionError(error=error):
                raise Unavailable(error)
            case SessionTimeout():
                raise Conflict("the session ended: idle time-out")
        event = await anext(rest, None)
    raise Conflict("the session ended before the answer")
