"""A fake Twilio REST API on loopback, which the ``twilio`` SDK is pointed at
(``KURA_TWILIO_API_BASE_URL``), and which then drives each call as Twilio would: signed status
callbacks, the answer webhook (whose TwiML opens the media stream), AMD verdicts, a
``<Gather>``'s key press, and the conferences that ``<Dial><Conference>`` documents join.

It records every create and update request (form fields as sent, and when it got them), and
answers as Twilio does (201 with a call resource; ``fail_next`` makes it refuse like Twilio).
An update's ``Status`` (``canceled``, ``completed``) becomes the call's status, as on Twilio.

``FakeTwilioRest.signalwire`` is SignalWire's LaML API instead: the same resources under
``/api/laml`` (the space URL), UUID call SIDs, callbacks signed with the project's Signing Key in
``X-SignalWire-Signature``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.loopback import serve

_sids = itertools.count(0x5000)


def twilio_sid() -> str:
    return f"CA{next(_sids):032x}"


def signalwire_sid() -> str:
    return str(uuid.UUID(int=next(_sids), version=4))


@dataclass
class PlacedCall:
    """One create request, and what the fake learned of it."""

    sid: str
    form: dict[str, str]
    received_s: float
    sequence: int = 0
    status: str = "queued"
    account: str = ""
    """The account (SignalWire: project) in the request's path."""
    updates: list[dict[str, str]] = field(default_factory=list)
    updated: asyncio.Event = field(default_factory=asyncio.Event)


class FakeTwilioRest:
    def __init__(
        self,
        auth_token: str,
        gateway_url: str,
        http: aiohttp.ClientSession,
        *,
        prefix: str = "",
        signature_header: str = "X-Twilio-Signature",
        new_sid: Callable[[], str] = twilio_sid,
    ) -> None:
        self.prefix = prefix
        self.signature_header = signature_header
        self.new_sid = new_sid
        self.auth_token = auth_token
        self.gateway_url = gateway_url.rstrip("/")
        self.http = http
        self.calls: list[PlacedCall] = []
        self.by_sid: dict[str, PlacedCall] = {}
        self.created = asyncio.Event()
        self.fail_next: int | None = None  # an HTTP status to answer the next create with
        self.stall_create_s = 0.0
        self.conferences: dict[str, list[str]] = {}
        """Each conference's participants (CallSids), in the order they joined."""
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        calls = self.prefix + "/2010-04-01/Accounts/{account}/Calls"
        app.router.add_post(calls + ".json", self._create)
        app.router.add_post(calls + "/{sid}.json", self._update)
        self._runner, self.url = await serve(app)

    @classmethod
    def signalwire(
        cls, signing_key: str, gateway_url: str, http: aiohttp.ClientSession
    ) -> FakeTwilioRest:
        """SignalWire's LaML API; its ``url`` is the space URL (``KURA_SIGNALWIRE_SPACE_URL``)."""
        return cls(
            signing_key, gateway_url, http, prefix="/api/laml",
            signature_header="X-SignalWire-Signature", new_sid=signalwire_sid,
        )  # fmt: skip

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        received = time.perf_counter()
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not request.headers.get("Authorization", "").startswith("Basic "):
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return web.json_response(
                {"code": 21211, "message": "Invalid 'To' Phone Number", "status": status},
                status=status,
            )
        sid = self.new_sid()
        placed = PlacedCall(sid, form, received, account=request.match_info["account"])
        self.calls.append(placed)
        self.by_sid[sid] = placed
        self.created.set()
        return web.json_response(
            {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")},
            status=201,
        )

    async def _update(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        placed = self.by_sid.get(request.match_info["sid"])
        if placed is None:
            return web.json_response({"code": 20404, "message": "not found"}, status=404)
        if form.get("Status") in ("canceled", "completed"):
            if form["Status"] == "canceled" and placed.status not in ("queued", "ringing"):
                # Twilio cancels only a call that is not answered yet (error 21220)
                return web.json_response({"code": 21220, "message": "not ringing"}, status=400)
            placed.status = form["Status"]
        form["_received_s"] = str(time.perf_counter())
        placed.updates.append(form)
        placed.updated.set()
        return web.json_response({"sid": placed.sid, "status": form.get("Status", "in-progress")})

    async def next_call(self, timeout_s: float = 5.0) -> PlacedCall:
        count = len(self.calls)
        while len(self.calls) <= count:
            self.created.clear()
            await asyncio.wait_for(self.created.wait(), timeout_s)
        return self.calls[count]

    # --- driving a call ----------------------------------------------------------------------

    async def _post(self, url: str, params: Mapping[str, str]) -> aiohttp.ClientResponse:
        """A signed webhook to ``url`` (a public URL: signed as given, sent to the gateway)."""
        signature = RequestValidator(self.auth_token).compute_signature(url, dict(params))
        parts = urlsplit(url)
        target = self.gateway_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.http.post(target, data=dict(params),
                                    headers={self.signature_header: signature})  # fmt: skip

    def _fields(self, call: PlacedCall, **extra: str) -> dict[str, str]:
        return {"AccountSid": "AC" + "0" * 31 + "1", "CallSid": call.sid, "ApiVersion":
                "2010-04-01", "Direction": "outbound-api", "From": call.form["From"],
                "To": call.form["To"], **extra}  # fmt: skip

    async def status(self, call: PlacedCall, status: str, **extra: str) -> int:
        call.sequence += 1
        call.status = status
        fields = self._fields(call, CallStatus=status, SequenceNumber=str(call.sequence), **extra)
        response = await self._post(call.form["StatusCallback"], fields)
        return response.status

    async def answer(self, call: PlacedCall) -> ElementTree.Element:
        """The callee picks up: fetch the call's TwiML, as Twilio does on answer."""
        response = await self._post(call.form["Url"], self._fields(call, CallStatus="in-progress"))
        assert response.status == 200, await response.text()
        return ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's

    async def press(
        self, call: PlacedCall, document: ElementTree.Element, digits: str
    ) -> ElementTree.Element:
        """Keys pressed during ``document``'s ``<Gather>`` (``""``: it timed out, and with
        ``actionOnEmptyResult`` the action is requested with no digits); the action's TwiML.
        A ``<Dial><Conference>`` in it joins the call to that conference."""
        gather = document.find("Gather")
        assert gather is not None, "no <Gather> to press keys in"
        if not digits:
            assert gather.attrib.get("actionOnEmptyResult") == "true"
        fields = self._fields(call, CallStatus="in-progress", Digits=digits)
        if digits:
            fields["FinishedOnKey"] = ""
        response = await self._post(gather.attrib["action"], fields)
        assert response.status == 200, await response.text()
        answer = ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's
        self.join(call.sid, answer)
        return answer

    def join(self, call_sid: str, document: ElementTree.Element) -> str | None:
        return join_conference(self.conferences, call_sid, document)

    async def machine_verdict(self, call: PlacedCall, answered_by: str) -> int:
        fields = self._fields(call, AnsweredBy=answered_by, MachineDetectionDuration="2100")
        response = await self._post(call.form["AsyncAmdStatusCallback"], fields)
        return response.status

    @staticmethod
    def form_of(call: PlacedCall) -> dict[str, Any]:
        return call.form


def join_conference(
    conferences: dict[str, list[str]], call_sid: str, document: ElementTree.Element
) -> str | None:
    """Follow ``document`` as Twilio (and Telnyx's TeXML, which copies it) would into
    ``<Dial><Conference>``: the name joined, with ``call_sid`` added to its members."""
    conference = document.find("./Dial/Conference")
    if conference is None or conference.text is None:
        return None
    conferences.setdefault(conference.text, []).append(call_sid)
    return conference.text
