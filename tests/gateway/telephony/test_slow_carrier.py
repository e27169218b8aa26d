"""A carrier that stops reading its media socket is cut, not left holding the agent's audio
in our send buffers for the rest of the call (reliability.md row 28, carrier side)."""

from __future__ import annotations

import asyncio
import time

import pytest

from providers.events import AgentAudio
from tests.gateway.telephony.conftest import FakeTwilio
from tests.gateway.telephony.test_media_stream import (
    SCRIPTED_NUMBER,
    dial,
    provider_session,
    scripted_line,
)

__all__ = ["scripted_line"]

AGENT_1S = b"\x10\x27" * 24_000  # a second of PCM16 24 kHz
CUT_WITHIN_S = 10.0
"""The carrier's receive buffers (aiohttp's queue and the kernel's window) absorb a few seconds
of audio before acknowledgements stop; then ``NO_PROGRESS_S`` (3 s)."""


@pytest.mark.slow
async def test_a_carrier_that_stops_reading_is_cut(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    assert stream._reader is not None
    stream._reader.cancel()  # the carrier reads no more; aiohttp soon stops reading its socket
    started = time.monotonic()
    caller_20ms = bytes([0xFF]) * 160
    sent = 0
    # The caller's frames keep coming (the line is not quiet, so only back-pressure can end
    # it), and the agent talks faster than real time to fill the carrier's buffers quickly.
    while not session.closed.is_set() and time.monotonic() - started < CUT_WITHIN_S + 5:
        if sent % 5 == 0:
            session.emit(AgentAudio(AGENT_1S, f"a{sent}"))
        sent += 1
        try:
            await stream.send_ulaw(caller_20ms)
        except ConnectionError:
            break
        await asyncio.sleep(0.02)
    cut_after_s = time.monotonic() - started
    print(f"carrier cut {cut_after_s:.1f} s after it stopped reading")
    await asyncio.wait_for(session.closed.wait(), 5)
    assert cut_after_s <= CUT_WITHIN_S, cut_after_s
    await stream.aclose()
