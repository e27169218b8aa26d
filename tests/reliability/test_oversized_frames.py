"""Row 26 (size rule): a frame over 64 KiB closes the app socket and the carrier's media
socket with 1009, on the default settings, whatever its size up to aiohttp's own cap; a frame
just under the bound (a second of 24 kHz audio) is taken."""

from __future__ import annotations

import base64
import json

import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import FakeTelnyx, FakeTwilio
from tests.gateway.telephony.test_media_stream import dial
from tests.gateway.telephony.test_telnyx_calls import dial as telnyx_dial
from tests.gateway.telephony.test_telnyx_calls import line
from tests.gateway.ws_helpers import closed, connect, receive

__all__ = ["line"]  # the Telnyx fixture, routed to a scripted assistant

LIMIT_BYTES = 64 * 1024  # row 26's bound
SIZES = [LIMIT_BYTES + 1, 100 * 1024, 512 * 1024, 1024 * 1024 - 1]


def test_the_default_app_socket_bound_is_64_kib(gateway: Gateway) -> None:
    assert gateway.ctx.settings.ws_max_message_bytes == LIMIT_BYTES


@pytest.mark.parametrize("size", SIZES)
async def test_app_socket_frames_over_64_kib_close_with_1009(gateway: Gateway, size: int) -> None:
    created = await gateway.create_session(mode="voice")
    ws = await connect(gateway, created)
    await receive(ws)  # sessionOpen
    frame = json.dumps({"type": "audioChunk", "audio": ""})
    await ws.send_str(frame[:-2] + "A" * (size - len(frame)) + '"}')
    assert await closed(ws) == 1009


async def test_a_second_of_audio_fits_under_the_bound(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="voice")
    ws = await connect(gateway, created)
    await receive(ws)
    audio = base64.b64encode(bytes(48_000)).decode()  # 1 s of PCM16 at 24 kHz
    frame = json.dumps({"type": "audioChunk", "audio": audio})
    assert len(frame) < LIMIT_BYTES
    await ws.send_str(frame)
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000


@pytest.mark.parametrize("size", SIZES)
async def test_carrier_frames_over_64_kib_close_with_1009(twilio: FakeTwilio, size: int) -> None:
    stream = await dial(twilio)
    await stream.send_raw("x" * size)
    await stream.wait_closed()
    assert stream.ws.close_code == 1009
    await stream.aclose()


@pytest.mark.parametrize("size", [LIMIT_BYTES + 1, 512 * 1024])
async def test_telnyx_frames_over_64_kib_close_with_1009(line: FakeTelnyx, size: int) -> None:
    stream = await telnyx_dial(line)
    await stream.send_raw("x" * size)
    await stream.wait_closed()
    assert stream.ws.close_code == 1009
    await stream.aclose()
