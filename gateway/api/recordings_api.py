"""``GET /api/v1/sessions/{id}/recording``: a session's WAV, streamed (``recordings:read``)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.auth import requires
from gateway.context import context_of
from gateway.errors import NotFound
from gateway.sessions.recordings_store import RecordingStorage


def _storage(request: web.Request) -> RecordingStorage:
    storage = context_of(request).runner.recordings
    if storage is None:
        raise NotFound("this session has no recording")
    return storage


@requires("recordings:read")
async def get_recording(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    row = await ctx.sessions.get(request.match_info["session_id"])
    path = _storage(request).find(row.id)
    if path is None:
        raise NotFound("this session has no recording")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'attachment; filename="{row.id}.wav"',
        },
    )


@requires("sessions:write")
async def delete_recording(request: web.Request) -> web.Response:
    """Erase a session's recording (its transcript and row stay)."""
    row = await context_of(request).sessions.get(request.match_info["session_id"])
    if not _storage(request).delete(row.id):
        raise NotFound("this session has no recording")
    return web.Response(status=204)
