"""The outbound leg of the simulator: Twilio's REST API as a loopback fake, through which the
gateway places its calls, and Twilio's side of each call once placed.

``FakeCarrier`` answers ``POST /2010-04-01/Accounts/{sid}/Calls.json`` (the request the
``twilio`` SDK sends) with a call resource and records when each request arrived; call
updates (hang-ups) are recorded the same way. The simulator then plays the callee: the signed
answer webhook, whose TwiML opens the media stream (the inbound simulator's ``MediaSession``),
status callbacks and the AMD verdict.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

ACCOUNT_SID = "AC" + uuid.uuid5(uuid.NAMESPACE_URL, "kura-sim").hex


@dataclass
class Placed:
    """One create-call request as the carrier got it."""

    sid: str
    form: dict[str, str]
    received_at: float  # time.monotonic()
    updates: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    updated: asyncio.Event = field(default_factory=asyncio.Event)


class FakeCarrier:
    """Twilio's REST API for calls, on 127.0.0.1."""

    def __init__(self) -> None:
        self.calls: dict[str, Placed] = {}  # by the number called
        self.by_sid: dict[str, Placed] = {}
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._create)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}"

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        form = {k: str(v) for k, v in (await request.post()).items()}
        placed = Placed("CA" + uuid.uuid4().hex, form, received)
        self.calls[form.get("To", "")] = placed
        self.by_sid[placed.sid] = placed
        async with self.arrived:
            self.arrived.notify_all()
        return web.json_response({"sid": placed.sid, "status": "queued"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        form = {k: str(v) for k, v in (await request.post()).items()}
        placed = self.by_sid.get(request.match_info["sid"])
        if placed is None:
            return web.json_response({"code": 20404, "message": "not found"}, status=404)
        placed.updates.append((received, form))
        placed.updated.set()
        return web.json_response({"sid": placed.sid, "status": form.get("Status", "")})

    async def wait_for(self, to: str, timeout_s: float = 10.0) -> Placed:
        async with asyncio.timeout(timeout_s), self.arrived:
            await self.arrived.wait_for(lambda: to in self.calls)
        return self.calls[to]


def callback_fields(placed: Placed, status: str, sequence: int, **extra: str) -> dict[str, str]:
    """A status (or AMD) callback's fields, as Twilio posts them for an outbound-api call."""
    return {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": placed.sid,
        "CallStatus": status, "Direction": "outbound-api", "From": placed.form["From"],
        "To": placed.form["To"], "SequenceNumber": str(sequence), **extra,
    }  # fmt: skip
