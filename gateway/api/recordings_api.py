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
    recording = await _storage(request).fetch(row.id)
    if recording is None:
        raise NotFound("this session has no recording")
    response = web.StreamResponse(
        headers={
            "Content-Type": "audio/wav",
            "Content-Length": str(recording.size_bytes),
            "Content-Disposition": f'attachment; filename="{row.id}.wav"',
        }
    )
    await response.prepare(request)
    async for chunk in recording.chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


@requires("sessions:write")
async def delete_recording(request: web.Request) -> web.Response:
    """Erase a session's recording (its transcript and row stay)."""
    row = await context_of(request).sessions.get(request.match_info["session_id"])
    if not await _storage(request).delete(row.id):
        raise NotFound("this session has no recording")
    return web.Response(status=204)
