"""A fake of Telnyx's TeXML Calls API on loopback (``KURA_TELNYX_API_BASE_URL``), which then
drives each call it placed as Telnyx does: form-encoded TeXML webhooks, Ed25519-signed over
``timestamp|raw body`` with PyNaCl, to the call's ``Url`` (on answer), its ``StatusCallback``,
a ``<Gather>``'s ``action`` when keys were pressed and, when none were, the ``<Redirect>`` that
follows it; and the conferences ``<Dial><Conference>`` documents join.

Placing a call is ``POST /v2/texml/Accounts/{account}/Calls`` with a JSON body and a bearer key
(401 without); an update is ``POST …/Calls/{call_sid}``, form-encoded (``Status=completed``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import aiohttp
import orjson
from aiohttp import web
from nacl.signing import SigningKey

from tests.fakes.loopback import serve
from tests.fakes.twilio_rest import PlacedCall, join_conference

_ids = itertools.count(0x9000)
ACCOUNT_SID = "f5586561-8ff0-4291-a51b-c7dfe4139ff9"


class FakeTexmlRest:
    def __init__(self, key: SigningKey, http: aiohttp.ClientSession) -> None:
        self.key = key
        self.http = http
        self.gateway_url = ""
        self.calls: list[PlacedCall] = []
        self.by_sid: dict[str, PlacedCall] = {}
        self.conferences: dict[str, list[str]] = {}
        self.fail_next: int | None = None
        self.names_calls = True
        """Whether placing a call answers its id (the API reference's example shows none)."""
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        calls = "/v2/texml/Accounts/{account}/Calls"
        app.router.add_post(calls, self._create)
        app.router.add_post(calls + "/{sid}", self._update)
        self._runner, self.url = await serve(app)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"errors": [{"code": "10009"}]}, status=401)
        body = orjson.loads(await request.read())
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return web.json_response({"errors": [{"code": "10015"}]}, status=status)
        sid = f"v3:{next(_ids):040x}"
        form = {key: str(value) for key, value in body.items()}
        placed = PlacedCall(sid, form, time.perf_counter(), account=request.match_info["account"])
        self.calls.append(placed)
        self.by_sid[sid] = placed
        answer = {"from": form["From"], "to": form["To"], "status": "queued"}
        return web.json_response({"call_sid": sid, **answer} if self.names_calls else answer)

    async def _update(self, request: web.Request) -> web.Response:
        placed = self.by_sid.get(request.match_info["sid"])
        if placed is None:
            return web.json_response({"errors": [{"code": "20404"}]}, status=404)
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("Status") == "completed":
            placed.status = "completed"
        placed.updates.append(form)
        placed.updated.set()
        return web.json_response({"sid": placed.sid, "status": placed.status})

    # --- driving a call ----------------------------------------------------------------------

    async def _post(self, url: str, fields: dict[str, str]) -> aiohttp.ClientResponse:
        """A signed webhook to ``url`` (a public URL, sent to the gateway)."""
        body = urlencode(fields).encode()
        stamp = str(int(time.time()))
        signature = self.key.sign(stamp.encode() + b"|" + body).signature
        headers = {
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        parts = urlsplit(url)
        return await self.http.post(self.gateway_url + parts.path, data=body, headers=headers)

    def _fields(self, call: PlacedCall, **extra: str) -> dict[str, str]:
        return {"AccountSid": ACCOUNT_SID, "CallSid": call.sid, "Direction": "outbound-api",
                "From": call.form["From"], "To": call.form["To"], **extra}  # fmt: skip

    async def status(self, call: PlacedCall, status: str) -> int:
        call.sequence += 1
        call.status = status
        fields = self._fields(call, CallStatus=status, SequenceNumber=str(call.sequence))
        return (await self._post(call.form["StatusCallback"], fields)).status

    async def _document(self, url: str, fields: dict[str, str]) -> ElementTree.Element:
        response = await self._post(url, fields)
        assert response.status == 200, await response.text()
        return ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's

    async def answer(self, call: PlacedCall) -> ElementTree.Element:
        """The callee picks up: Telnyx fetches the call's TeXML from its ``Url``."""
        return await self._document(call.form["Url"], self._fields(call, CallStatus="in-progress"))

    async def press(
        self, call: PlacedCall, document: ElementTree.Element, digits: str
    ) -> ElementTree.Element:
        """Keys pressed during the ``<Gather>`` (``""``: none before its timeout, so TeXML goes
        on to the next verb, a ``<Redirect>``); the TeXML that follows, whose
        ``<Dial><Conference>`` the call joins."""
        gather = document.find("Gather")
        assert gather is not None, "no <Gather> to press keys in"
        fields = self._fields(call, CallStatus="in-progress")
        if digits:
            answer = await self._document(gather.attrib["action"], {**fields, "Digits": digits})
        else:
            redirect = document.find("Redirect")
            assert redirect is not None and redirect.text, "no input, and nothing after it"
            answer = await self._document(redirect.text, fields)
        self.join(call.sid, answer)
        return answer

    def join(self, call_sid: str, document: ElementTree.Element) -> str | None:
        return join_conference(self.conferences, call_sid, document)

    async def next_update(self, call: PlacedCall, timeout_s: float = 5.0) -> dict[str, str]:
        await asyncio.wait_for(call.updated.wait(), timeout_s)
        return call.updates[-1]
