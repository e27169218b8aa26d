"""An app's audio format per session: chosen at creation or at the first connect, carried by
``audioChunk`` and ``agentAudioChunk``, converted once per direction (or passed through)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import numpy as np
import pytest

from gateway.sessions.audio_format import AudioConverter
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from providers.events import AgentAudio, ResponseDone
from tests.fakes.scripted_provider import CAPABILITIES
from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import connect, receive, receive_until
from tests.providers.local_helpers import speech_clip

# (how the app names it, where: "body" at creation or "query" at connect) → the format
FORMATS: list[tuple[dict[str, Any], str, AudioFormat]] = [
    ({"encoding": "pcm16", "sample_rate": 24000}, "body", PCM16_24K),
    ({"encoding": "pcm16", "sample_rate": 16000}, "query", PCM16_16K),
    ({"encoding": "pcm16", "sample_rate": 8000}, "body", PCM16_8K),
    ({"encoding": "mulaw"}, "query", PCMU_8K),
    ({"encoding": "alaw", "sample_rate": 8000}, "body", PCMA_8K),
    ({"encoding": "mulaw", "sample_rate": 16000}, "query", AudioFormat("pcmu", 16_000)),
    ({"encoding": "alaw", "sample_rate": 24000}, "body", AudioFormat("pcma", 24_000)),
]
FORMAT_IDS = [f"{fmt.encoding}-{fmt.sample_rate_hz}" for *_, fmt in FORMATS]


def _convert(audio: bytes, source: AudioFormat, target: AudioFormat) -> bytes:
    converter = AudioConverter(source, target)
    return converter.convert(audio) + converter.flush()


def _audio_chunk(audio: bytes) -> str:
    return json.dumps({"type": "audioChunk", "audio": base64.b64encode(audio).decode()})


def _query(url: str, fields: dict[str, Any]) -> str:
    return url + "".join(f"&{name}={value}" for name, value in fields.items())


def _similarity(heard: bytes, said: bytes) -> float:
    """Peak normalised cross-correlation of two PCM16 clips (1.0: the same waveform)."""
    a = np.frombuffer(heard, "<i2").astype(np.float64)
    b = np.frombuffer(said, "<i2").astype(np.float64)
    size = len(a) + len(b)
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(a) * np.linalg.norm(b)))


async def _open(gateway: Gateway, fields: dict[str, Any], where: str) -> Any:
    body = {"audio": fields} if where == "body" else {}
    created = await gateway.create_session(mode="voice", **body)
    url = created["websocket_url"] if where == "body" else _query(created["websocket_url"], fields)
    return created, await gateway.http.ws_connect(url)


@pytest.mark.parametrize(
    ("fields", "where", "fmt"),
    FORMATS,
    ids=[f"{f.encoding}-{f.sample_rate_hz}" for *_, f in FORMATS],
)
async def test_each_format_round_trips_through_the_local_provider(
    gateway: Gateway, fields: dict[str, Any], where: str, fmt: AudioFormat
) -> None:
    """The local provider plays the caller's utterance back: what comes back in ``fmt`` is
    the clip that was sent in ``fmt``."""
    created, ws = await _open(gateway, fields, where)
    assert (await receive(ws))["type"] == "sessionOpen"
    await receive_until(ws, "turnComplete")  # the greeting (text only: synthesiser off)
    clip = speech_clip()
    sent = _convert(clip + bytes(24_000 * 2), PCM16_24K, fmt)  # then one second of silence
    chunk_bytes = 40 * fmt.bytes_per_ms
    for start in range(0, len(sent), chunk_bytes):
        await ws.send_str(_audio_chunk(sent[start : start + chunk_bytes]))
    turn, seen = await receive_until(ws, "turnComplete")
    heard = b"".join(base64.b64decode(m["audio"]) for m in seen if m["type"] == "agentAudioChunk")
    clip_s, heard_s = len(clip) / 48_000, len(heard) / (fmt.bytes_per_ms * 1000)
    assert 0.5 * clip_s < heard_s < clip_s + 1.0
    # Compared at 8 kHz, the band every format keeps (G.711's round trip is about 38 dB SNR).
    similarity = _similarity(_convert(heard, fmt, PCM16_8K), _convert(clip, PCM16_24K, PCM16_8K))
    assert similarity > 0.8
    assert turn["interrupted"] is False and isinstance(turn["latencyMs"], int)
    await ws.close()
    row = await gateway.ctx.store.sessions.get(created["session_id"])
    assert row is not None
    assert (row.overrides["audio_encoding"], row.overrides["audio_rate_hz"]) == (
        fmt.encoding,
        fmt.sample_rate_hz,
    )


async def _scripted_session(gateway: Gateway, **body: Any) -> dict[str, Any]:
    return await gateway.create_session(assistant_id=await gateway.use_scripted_assistant(), **body)


async def test_a_format_the_provider_speaks_passes_straight_through(gateway: Gateway) -> None:
    """µ-law 8 kHz on a provider that takes and speaks µ-law (OpenAI's g711_ulaw): the bytes
    the app sends reach the provider as they are, and the provider's come back as they are."""
    from dataclasses import replace

    gateway.scripted.declared = replace(CAPABILITIES, input_audio=PCMU_8K, output_audio=PCMU_8K)
    created = await _scripted_session(gateway, audio={"encoding": "mulaw"})
    ws = await connect(gateway, created)
    await receive(ws)
    said = bytes(range(256)) * 4  # any bytes are valid µ-law, and an odd count is whole samples
    await ws.send_str(_audio_chunk(said[:-1]))
    session = gateway.scripted.sessions[0]
    assert await session.audio_at_least(len(said) - 1) == said[:-1]
    assert session.context.input_audio == PCMU_8K and session.context.output_audio == PCMU_8K
    session.emit(AgentAudio(audio=said, item_id="a1"), ResponseDone(item_id="a1"))
    _, seen = await receive_until(ws, "turnComplete")
    chunks = [base64.b64decode(m["audio"]) for m in seen if m["type"] == "agentAudioChunk"]
    assert b"".join(chunks) == said
    await ws.close()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("encoding=opus", "encoding"),
        ("encoding=mulaw&sample_rate=44100", "sample_rate"),
        ("sample_rate=16k", "sample_rate"),
        ("encoding=PCM16", "encoding"),
        ("encoding=", "encoding"),
        ("sample_rate=" + "9" * 5000, "sample_rate"),
    ],
)
async def test_a_bad_format_is_refused_before_the_upgrade_and_loses_nothing(
    gateway: Gateway, query: str, field: str
) -> None:
    created = await gateway.create_session(mode="voice")
    url = f"{created['websocket_url']}&{query}"
    response = await gateway.http.get(url)  # a plain GET: the error body is readable
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"][0]["field"] == field
    # The token is not spent: the app connects again with a good format.
    ws = await gateway.http.ws_connect(_query(created["websocket_url"], {"encoding": "alaw"}))
    assert (await receive(ws))["type"] == "sessionOpen"
    await ws.close()


async def test_a_connect_naming_another_format_than_the_sessions_is_409(gateway: Gateway) -> None:
    created = await gateway.create_session(audio={"encoding": "mulaw"})
    for asked in ({"encoding": "pcm16"}, {"encoding": "mulaw", "sample_rate": 16000}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gateway.http.ws_connect(_query(created["websocket_url"], asked))
        assert refused.value.status == 409
    ws = await gateway.http.ws_connect(_query(created["websocket_url"], {"encoding": "mulaw"}))
    assert (await receive(ws))["type"] == "sessionOpen"
    await ws.close()


async def test_the_first_connect_fixes_the_format_for_later_connects(gateway: Gateway) -> None:
    """The default too is stored at the first connect: a later connect (after a drop) must
    name the same format or none."""
    from gateway.api.app_audio import connect_format

    created = await gateway.create_session()
    ws = await connect(gateway, created)
    await receive(ws)
    row = await gateway.ctx.store.sessions.get(created["session_id"])
    assert row is not None
    assert connect_format(row, {}) == (PCM16_24K, False)
    assert connect_format(row, {"encoding": "pcm16"}) == (PCM16_24K, False)
    with pytest.raises(Exception, match="pcm16 at 24000 Hz"):
        connect_format(row, {"encoding": "alaw"})
    await ws.close()


async def test_a_chat_session_takes_no_audio_format(gateway: Gateway) -> None:
    body = {"assistant_id": 1, "mode": "chat", "audio": {"encoding": "mulaw"}}
    response = await gateway.request("POST", "/api/v1/sessions", json=body)
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "audio"
    created = await gateway.create_session(mode="chat")
    response = await gateway.http.get(f"{created['websocket_url']}&encoding=pcm16")
    assert response.status == 422
    ws = await connect(gateway, created)  # without a format it connects as ever
    assert (await receive(ws))["mode"] == "chat"
    await ws.close()


@pytest.mark.parametrize(
    "audio",
    [{"encoding": "opus"}, {"sample_rate": 44100}, {"encoding": "mulaw", "channels": 2}],
)
async def test_a_bad_audio_field_at_creation_is_422(gateway: Gateway, audio: Any) -> None:
    body = {"assistant_id": 1, "audio": audio}
    response = await gateway.request("POST", "/api/v1/sessions", json=body)
    assert response.status == 422, await response.text()


async def test_split_samples_are_refused_only_for_pcm16(gateway: Gateway) -> None:
    created = await _scripted_session(gateway, audio={"encoding": "pcm16", "sample_rate": 16000})
    ws = await connect(gateway, created)
    await receive(ws)
    await ws.send_str(
        json.dumps({"type": "audioChunk", "audio": base64.b64encode(b"abc").decode()})
    )
    error = await receive(ws)
    assert error["type"] == "sessionError" and "16-bit samples" in error["error"]
    await ws.close()
    await asyncio.sleep(0)
