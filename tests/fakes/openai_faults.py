"""Faults for the fake OpenAI Realtime (reliability.md rows 7-11), injected into its default
behaviour: the fake greets, hears the caller with its energy VAD and answers, until the reply
to caller turn ``at_turn``, where the fault strikes instead. Later connections are healthy
(they answer the ``response.create`` the gateway sends after a reconnect).

Shared by ``tests/reliability/test_phone_faults.py`` (virtual clock, replies at once) and
``scripts/provider_faults.py`` (a spawned gateway, real time, the default 300 ms think time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode

from tests.fakes.openai_realtime import FakeConnection, Response, Script
from tests.fakes.openai_realtime_default import DefaultBehaviour

Fault = Callable[[FakeConnection, Response], Awaitable[None]]
"""What the fake does instead of a reply (the response is already ``response.created``)."""


async def _partial_reply(conn: FakeConnection, response: Response) -> None:
    await conn.audio_item(response, "Let me see, we have", audio_ms=400)


async def drop_1011(conn: FakeConnection, response: Response) -> None:
    """Row 8: a server error close in the middle of a reply."""
    await _partial_reply(conn, response)
    await conn.close(WSCloseCode.INTERNAL_ERROR)


async def tcp_reset(conn: FakeConnection, response: Response) -> None:
    """Row 8: the TCP connection is reset in the middle of a reply: no close frame at all."""
    await _partial_reply(conn, response)
    assert conn.transport is not None
    conn.transport.abort()


async def go_silent(conn: FakeConnection, response: Response) -> None:
    """Row 10 mid-call: the socket stays open, the reply never comes."""


def fatal_error(code: str) -> Fault:
    """Row 9: an error no retry can fix (``invalid_api_key``, ``insufficient_quota``)."""

    async def fault(conn: FakeConnection, response: Response) -> None:
        await conn.error(code)
        await conn.close()

    return fault


async def close_1008(conn: FakeConnection, response: Response) -> None:
    """Row 9: a policy-violation close (pipecat #3711's endless loop)."""
    await conn.close(WSCloseCode.POLICY_VIOLATION)


async def session_expired(conn: FakeConnection, response: Response) -> None:
    """Row 11: the 60-minute cap strikes just after the caller's turn was heard."""
    await conn.error("session_expired")
    await conn.close(WSCloseCode.GOING_AWAY)


MID_CALL: dict[str, Fault] = {
    "drop-1011": drop_1011,
    "tcp-reset": tcp_reset,
    "silent": go_silent,
    "invalid_api_key": fatal_error("invalid_api_key"),
    "insufficient_quota": fatal_error("insufficient_quota"),
    "close-1008": close_1008,
    "session_expired": session_expired,
}


class FaultyBehaviour(DefaultBehaviour):
    """The default fake, with ``fault`` in place of its reply to caller turn ``at_turn``
    (1: the first turn its VAD ends; a greeting or a reply the client asks for after a
    reconnect is no caller turn, so a gateway that plays a cached greeting changes nothing)."""

    def __init__(self, conn: FakeConnection, fault: Fault | None, at_turn: int) -> None:
        super().__init__(conn)
        self._fault = fault
        self._at_turn = at_turn
        self._turns = 0
        self._hearing = False

    async def _on_audio(self, audio: bytes) -> None:
        self._hearing = True  # a reply started from here answers a caller turn
        try:
            await super()._on_audio(audio)
        finally:
            self._hearing = False

    async def _start_reply(self, verbatim: str | None = None) -> None:
        self._turns += self._hearing
        if self._fault is None or not self._hearing or self._turns != self._at_turn:
            await super()._start_reply(verbatim)
            return
        # The fault strikes at once, in place of the (thinking, then spoken) reply.
        response = self.response = await self.conn.start_response()
        await self._fault(self.conn, response)


def faulty_script(fault: Fault | None, at_turn: int = 1) -> Script:
    """A connection that runs the default behaviour with ``fault`` at caller turn ``at_turn``."""

    async def script(conn: FakeConnection) -> None:
        behaviour = FaultyBehaviour(conn, fault, at_turn)
        conn.handler = behaviour.on_event
        await conn.session_created()
        try:
            while await conn.next_event(timeout_s=None) is not None:
                pass
        finally:
            behaviour.aclose()

    return script


async def blackhole(conn: FakeConnection) -> None:
    """Row 7: the upgrade is accepted, ``session.created`` never comes."""
    while await conn.next_event(timeout_s=None) is not None:
        pass


async def accept_then_silence(conn: FakeConnection) -> None:
    """Rows 7 and 10: ``session.created``, then nothing, not even the greeting."""
    await conn.session_created()
    while await conn.next_event(timeout_s=None) is not None:
        pass
