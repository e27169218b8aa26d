"""Session recordings: a dual WAV of what was said each way, without what a barge-in cut."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from gateway.sessions.recording_retention import sweep_recordings
from kinds.clock import SystemClock
from providers.events import AgentAudio
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.test_media_stream import until
from tests.gateway.ws_helpers import receive, receive_until

CALLER = np.full(480, 1000, dtype=np.int16).tobytes()  # 20 ms at 24 kHz
AGENT = np.full(4800, -2000, dtype=np.int16).tobytes()  # 200 ms at 24 kHz


@pytest.fixture
async def recording_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(tmp_path, SystemClock(), recordings_dir=str(tmp_path / "rec")):
        yield gw


async def _wrapped_up(gw: Gateway) -> None:
    """Every session's runner is done: its recording is closed and stored."""
    await until(lambda: len(gw.ctx.live) == 0)


async def _speak(ws: object, frames: int) -> None:
    chunk = json.dumps({"type": "audioChunk", "audio": base64.b64encode(CALLER).decode()})
    for _ in range(frames):
        await ws.send_str(chunk)  # type: ignore[attr-defined]


async def test_a_dual_recording_holds_what_each_side_heard(recording_gateway: Gateway) -> None:
    gw = recording_gateway
    assistant_id = await gw.use_scripted_assistant(recording="dual")
    created = await gw.create_session(assistant_id=assistant_id, mode="voice")
    app = await gw.http.ws_connect(created["websocket_url"])
    assert (await receive(app))["type"] == "sessionOpen"
    provider = gw.scripted.sessions[-1]
    await _speak(app, 5)  # 100 ms of the caller
    await provider.audio_at_least(5 * len(CALLER))
    provider.emit(AgentAudio(audio=AGENT, item_id="a1"))  # 200 ms of the agent...
    await receive_until(app, "agentAudioChunk")
    await _speak(app, 5)
    await app.send_str(json.dumps({"type": "interrupt", "playedMs": 100}))  # ...half heard
    await _speak(app, 5)
    await provider.audio_at_least(15 * len(CALLER))
    await app.send_str(json.dumps({"type": "stopSession"}))
    await app.close()
    path = f"/api/v1/sessions/{created['session_id']}/recording"
    await _wrapped_up(gw)
    response = await gw.request("GET", path)
    assert response.status == 200, await response.text()
    assert response.content_type == "audio/wav"
    with wave.open(io.BytesIO(await response.read())) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24_000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    left, right = stereo[0::2], stereo[1::2]
    assert len(left) == 7200 and (left == 1000).all()  # every caller frame, in order
    assert (right[:2400] == 0).all()  # silence while the caller spoke first
    assert (right[2400:4800] == -2000).all()  # the 100 ms the caller heard
    assert (right[4800:] == 0).all()  # the cut half is not in the recording
    reader = await gw.create_key(["sessions:read"])
    assert (await gw.request("GET", path, key=reader)).status == 403


async def test_no_recording_unless_the_assistant_asks(recording_gateway: Gateway) -> None:
    gw = recording_gateway
    assistant_id = await gw.use_scripted_assistant()
    created = await gw.create_session(assistant_id=assistant_id, mode="voice")
    app = await gw.http.ws_connect(created["websocket_url"])
    assert (await receive(app))["type"] == "sessionOpen"
    await _speak(app, 3)
    await gw.scripted.sessions[-1].audio_at_least(3 * len(CALLER))
    await app.send_str(json.dumps({"type": "stopSession"}))
    await app.close()
    await _wrapped_up(gw)
    path = f"/api/v1/sessions/{created['session_id']}/recording"
    assert (await gw.request("GET", path)).status == 404


async def test_the_retention_sweep_keeps_each_assistant_s_days(recording_gateway: Gateway) -> None:
    gw = recording_gateway
    storage = gw.ctx.runner.recordings
    assert storage is not None
    short = await gw.use_scripted_assistant(recording="dual", recording_retention_days=2)
    old_short = (await gw.create_session(assistant_id=short))["session_id"]
    young_short = (await gw.create_session(assistant_id=short))["session_id"]
    old_default = (await gw.create_session())["session_id"]  # the demo assistant: 30 days
    young_default = (await gw.create_session())["session_id"]
    now = time.time()
    ages_days = {old_short: 3, young_short: 1.5, old_default: 31, young_default: 10}
    for session_id, days in ages_days.items():
        path = storage.spool_path(session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        os.utime(path, (now - days * 86400, now - days * 86400))
    deleted = await sweep_recordings(gw.ctx.store, storage, gw.clock, default_days=30)
    assert deleted == 2
    kept = {session_id for session_id, _ in await storage.recorded()}
    assert kept == {young_short, young_default}
    response = await gw.request("DELETE", f"/api/v1/sessions/{young_short}/recording")
    assert response.status == 204
    assert await storage.fetch(young_short) is None
    assert (await gw.request("GET", f"/api/v1/sessions/{young_short}/recording")).status == 404
