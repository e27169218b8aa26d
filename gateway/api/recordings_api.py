"""``GET /api/v1/sessions/{id}/recording``: a session's WAV, streamed (``recordings:read``)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.auth import requires
from gateway.context import context_of
from gateway.errors import NotFound


@requires("recordings:read")
async def get_recording(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    row = await ctx.sessions.get(request.match_info["session_id"])
    storage = ctx.runner.recordings
    path = storage.find(row.id) if storage is not None else None
    if path is None:
        raise NotFound("this session has no recording")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'attachment; filename="{row.id}.wav"',
        },
    )
