"""A fake Telnyx Call Control API (v2) on loopback, which the gateway dials through
(``KURA_TELNYX_API_BASE_URL``), and which then drives each call as Telnyx does: JSON events to
the call's ``webhook_url``, Ed25519-signed over ``timestamp|raw body`` with PyNaCl, each
carrying the ``client_state`` the dial set.

It records every dial and every command (``/v2/calls/{id}/actions/{action}``) with its JSON
body, and answers as Telnyx does: ``{"data": {"call_control_id": …}}`` for a dial, an
``{"errors": [{"code", "title", "detail"}]}`` body for a refusal (``fail_next``), 401 without
a bearer key, 422 for a command on a call that is over.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web
from nacl.signing import SigningKey

from tests.fakes.loopback import serve

_ids = itertools.count(0x7000)


@dataclass
class DialedCall:
    """One dial, and what the fake learned of it."""

    call_control_id: str
    body: dict[str, Any]
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acted: asyncio.Event = field(default_factory=asyncio.Event)
    over: bool = False

    def action_bodies(self, name: str) -> list[dict[str, Any]]:
        return [body for action, body in self.actions if action == name]


class FakeTelnyxRest:
    def __init__(self, key: SigningKey, http: aiohttp.ClientSession) -> None:
        self.key = key
        self.http = http
        self.gateway_url = ""
        self.calls: list[DialedCall] = []
        self.by_id: dict[str, DialedCall] = {}
        self.fail_next: int | None = None  # an HTTP status to answer the next dial with
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/calls", self._dial)
        app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", self._action)
        self._runner, self.url = await serve(app)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _error(status: int, code: str, title: str) -> web.Response:
        body = {"errors": [{"code": code, "title": title, "detail": title}]}
        return web.json_response(body, status=status)

    async def _dial(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return self._error(401, "10009", "Authentication failed")
        body = orjson.loads(await request.read())
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return self._error(status, "10015", "Invalid 'to' phone number")
        call_control_id = f"v3:{next(_ids):040x}"
        call = DialedCall(call_control_id, body)
        self.calls.append(call)
        self.by_id[call_control_id] = call
        data = {"call_control_id": call_control_id, "call_leg_id": str(uuid.uuid4()),
                "call_session_id": str(uuid.uuid4()), "client_state": body.get("client_state"),
                "is_alive": False, "record_type": "call"}  # fmt: skip
        return web.json_response({"data": data})

    async def _action(self, request: web.Request) -> web.Response:
        call = self.by_id.get(request.match_info["call_control_id"])
        if call is None:
            return self._error(404, "10005", "Resource not found")
        if call.over:
            return self._error(422, "90018", "Call has already ended")
        call.actions.append((request.match_info["action"], orjson.loads(await request.read())))
        call.acted.set()
        return web.json_response({"data": {"result": "ok"}})

    # --- driving a call ----------------------------------------------------------------------

    def signed(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = self.key.sign(stamp.encode() + b"|" + body).signature
        return {
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }

    def event_body(self, call: DialedCall, event_type: str, **payload: Any) -> bytes:
        dialed = call.body
        fields = {
            "call_control_id": call.call_control_id, "call_leg_id": str(uuid.uuid4()),
            "call_session_id": str(uuid.uuid4()), "client_state": dialed.get("client_state"),
            "connection_id": dialed["connection_id"], "from": dialed["from"],
            "to": dialed["to"], "direction": "outgoing", **payload,
        }  # fmt: skip
        data = {"event_type": event_type, "id": str(uuid.uuid4()), "record_type": "event",
                "occurred_at": datetime.now(UTC).isoformat(), "payload": fields}  # fmt: skip
        return orjson.dumps({"data": data, "meta": {"attempt": 1, "delivered_to": "…"}})

    async def post(self, call: DialedCall, body: bytes, key: SigningKey | None = None) -> int:
        """``body`` to the call's ``webhook_url`` (a public URL, sent to the gateway)."""
        headers = FakeTelnyxRest(key, self.http).signed(body) if key else self.signed(body)
        path = urlsplit(call.body["webhook_url"]).path
        async with self.http.post(self.gateway_url + path, data=body, headers=headers) as sent:
            return sent.status

    async def event(self, call: DialedCall, event_type: str, **payload: Any) -> int:
        if event_type == "call.hangup":
            call.over = True
        return await self.post(call, self.event_body(call, event_type, **payload))

    async def answer(self, call: DialedCall) -> dict[str, Any]:
        """The callee picks up: ``call.answered``, then the gateway's ``streaming_start``."""
        assert await self.event(call, "call.answered", state="answered") == 200
        (started,) = call.action_bodies("streaming_start")
        return started
