"""Recordings in an S3-compatible bucket, against a loopback fake of the S3 API."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from gateway.sessions.recordings_s3 import S3Location, S3Recordings
from kinds.clock import SystemClock
from tests.fakes.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, FakeS3
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.test_media_stream import until
from tests.gateway.ws_helpers import receive

SESSION = "6c2b4a0e-8d8e-4f4f-9d1c-0b9f3f2b1a11"


@pytest.fixture
async def fake_s3() -> AsyncIterator[tuple[FakeS3, str]]:
    s3 = FakeS3()
    server = TestServer(s3.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield s3, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _location(url: str, secret: str = SECRET_ACCESS_KEY, key: str = ACCESS_KEY_ID) -> S3Location:
    return S3Location("kura", "rec/", url, "us-east-1", key, secret)


async def test_store_fetch_list_delete(fake_s3: tuple[FakeS3, str], tmp_path: Path) -> None:
    s3, url = fake_s3
    storage = S3Recordings(_location(url), tmp_path)
    spool = storage.spool_path(SESSION)
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.write_bytes(b"RIFF-fake-wav" * 1000)
    await storage.stored(SESSION)
    assert not spool.exists()  # uploaded, then the spool file removed
    assert s3.objects[("kura", f"rec/{SESSION}.wav")].content_type == "audio/wav"
    fetched = await storage.fetch(SESSION)
    assert fetched is not None and fetched.size_bytes == 13_000
    assert b"".join([c async for c in fetched.chunks]) == b"RIFF-fake-wav" * 1000
    assert [session_id for session_id, _ in await storage.recorded()] == [SESSION]
    assert await storage.delete(SESSION)
    assert not await storage.delete(SESSION)
    assert await storage.fetch(SESSION) is None
    assert await storage.recorded() == []


async def test_a_wrong_key_is_refused(fake_s3: tuple[FakeS3, str], tmp_path: Path) -> None:
    _, url = fake_s3
    storage = S3Recordings(_location(url, key="AKIDSOMEONEELSE"), tmp_path)
    with pytest.raises(Exception, match=r"AccessDenied|403"):
        await storage.recorded()


async def test_a_session_recorded_into_a_bucket_is_served_from_it(
    fake_s3: tuple[FakeS3, str], tmp_path: Path
) -> None:
    s3, url = fake_s3
    running = start_gateway(
        tmp_path,
        SystemClock(),
        recordings_dir=str(tmp_path / "spool"),
        recordings_s3_bucket="kura",
        recordings_s3_endpoint_url=url,
        recordings_s3_access_key_id=ACCESS_KEY_ID,
        recordings_s3_secret_access_key=SecretStr(SECRET_ACCESS_KEY),
    )
    gw: Gateway = await anext(running)
    try:
        assistant_id = await gw.use_scripted_assistant(recording="mono")
        created = await gw.create_session(assistant_id=assistant_id, mode="voice")
        app = await gw.http.ws_connect(created["websocket_url"])
        assert (await receive(app))["type"] == "sessionOpen"
        chunk = base64.b64encode(b"\x10\x00" * 2400).decode()  # 100 ms
        for _ in range(3):
            await app.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
        await gw.scripted.sessions[-1].audio_at_least(3 * 4800)
        await app.send_str(json.dumps({"type": "stopSession"}))
        await app.close()
        await until(lambda: len(gw.ctx.live) == 0)
        key = ("kura", f"recordings/{created['session_id']}.wav")
        assert key in s3.objects
        assert list((tmp_path / "spool").glob("*.wav")) == []
        path = f"/api/v1/sessions/{created['session_id']}/recording"
        response = await gw.request("GET", path)
        assert response.status == 200
        with wave.open(io.BytesIO(await response.read())) as wav:
            assert (wav.getnchannels(), wav.getnframes()) == (1, 7200)
    finally:
        await running.aclose()
