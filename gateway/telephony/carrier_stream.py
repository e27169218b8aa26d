"""Watching a call's carrier stream: when it has gone quiet, and when the last words have played.

Kept apart from the bridge's media handling: these read the socket only to know whether the
call is still there, never to move the caller's or the agent's audio.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType

from gateway.telephony.bridge_ports import CallCounters, CarrierSocket
from gateway.telephony.carriers.codec import CarrierCodec
from gateway.telephony.carriers.events import MarkEchoed, StreamStopped
from kinds.clock import Clock
from media.chains import OutboundChain

log = logging.getLogger(__name__)

PLAYOUT_GRACE_S = 2.0  # after the last queued audio should have played, give the echo this long
# ERROR: aiohttp already closed the socket (a frame over max_msg_size: 1009).
CLOSED_TYPES = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def until_silent(clock: Clock, counters: CallCounters, silence_s: float) -> None:
    """Return once no carrier message has come for ``silence_s`` (carriers stream a frame
    every 20 ms, silence included: a quiet stream is a dead peer or a half-open socket)."""
    seen = -1
    while seen != counters.messages_in:
        seen = counters.messages_in
        await clock.sleep(silence_s)


async def wait_for_playout(
    ws: CarrierSocket, codec: CarrierCodec, outbound: OutboundChain, *, binary_in: bool
) -> None:
    """Read mark echoes until everything sent has played (bounded), or the caller hangs up."""
    deadline_s = outbound.tracker.queued_ms / 1000 + PLAYOUT_GRACE_S
    try:
        async with asyncio.timeout(deadline_s):
            while outbound.audible:
                frame = await ws.receive()
                kind = frame.type
                if kind is not WSMsgType.TEXT and not (kind is WSMsgType.BINARY and binary_in):
                    return
                event = codec.decode(frame.data)
                if isinstance(event, MarkEchoed):
                    outbound.on_mark(event.name)
                elif isinstance(event, StreamStopped):
                    return
    except TimeoutError:
        log.info("playout not confirmed before closing")
