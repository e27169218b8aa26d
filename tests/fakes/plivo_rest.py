"""A fake Plivo Voice REST API on loopback, which the gateway dials through
(``KURA_PLIVO_API_BASE_URL``), and which then drives each call as Plivo does: form callbacks to
the call's ring, answer, hangup and machine-detection URLs, signed V3 (HMAC-SHA256 with a nonce,
by the ``plivo`` SDK's own functions), each naming the ``CallUUID`` and the ``RequestUUID``.

It records every dial (the JSON body the SDK's ``calls.create`` would send) and every hang-up
(``DELETE …/Call/{uuid}/`` or the cancel ``DELETE …/Request/{request_uuid}/``), and answers as
Plivo does: 201 ``{"api_id", "message": "call fired", "request_uuid"}``; ``fail_next`` makes it
refuse with Plivo's ``{"api_id", "error"}``; 401 without basic auth.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import aiohttp
import orjson
from aiohttp import web
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3

from tests.fakes.loopback import serve


@dataclass
class PlivoCall:
    """One dial, and what the fake learned of it."""

    request_uuid: str
    body: dict[str, Any]
    call_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    deleted: list[tuple[str, str]] = field(default_factory=list)
    """``("Call" | "Request", uuid)`` of each hang-up request."""
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)


class FakePlivoRest:
    def __init__(self, auth_id: str, auth_token: str, http: aiohttp.ClientSession) -> None:
        self.auth_id, self.auth_token, self.http = auth_id, auth_token, http
        self.gateway_url = ""
        self.calls: list[PlivoCall] = []
        self.fail_next: int | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/Account/{auth_id}/Call/", self._dial)
        app.router.add_delete("/v1/Account/{auth_id}/{kind:Call|Request}/{uuid}/", self._delete)
        self._runner, self.url = await serve(app)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        credentials = base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        expected = f"Basic {credentials}"
        return auth == expected and request.match_info["auth_id"] == self.auth_id

    async def _dial(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = orjson.loads(await request.read())
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return web.json_response(
                {"api_id": str(uuid.uuid4()), "error": "invalid destination number"}, status=status
            )
        call = PlivoCall(str(uuid.uuid4()), body)
        self.calls.append(call)
        return web.json_response(
            {"api_id": str(uuid.uuid4()), "message": "call fired",
             "request_uuid": call.request_uuid}, status=201,
        )  # fmt: skip

    async def _delete(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        kind, target = request.match_info["kind"], request.match_info["uuid"]
        for call in self.calls:
            if target in (call.call_uuid, call.request_uuid):
                right = target == (call.request_uuid if kind == "Request" else call.call_uuid)
                if right:
                    call.deleted.append((kind, target))
                    call.hung_up.set()
                    return web.Response(status=204)
        return web.json_response({"error": "not found"}, status=404)

    # --- driving a call ----------------------------------------------------------------------

    def fields(self, call: PlivoCall, **extra: str) -> dict[str, str]:
        return {"CallUUID": call.call_uuid, "RequestUUID": call.request_uuid,
                "From": call.body["from"], "To": call.body["to"], "Direction": "outbound",
                **extra}  # fmt: skip

    async def callback(
        self, call: PlivoCall, url_field: str, **extra: str
    ) -> aiohttp.ClientResponse:
        """A signed callback to the URL the dial gave in ``url_field``."""
        return await self.post(call.body[url_field], self.fields(call, **extra))

    async def post(self, url: str, fields: dict[str, str]) -> aiohttp.ClientResponse:
        """A signed request to ``url`` (a public URL, sent to the gateway), as Plivo makes
        for its callbacks and for the ``action`` and ``<Redirect>`` URLs of its XML."""
        nonce = uuid.uuid4().hex
        base = construct_post_url(url, dict(fields)).decode()
        signature = get_signature_v3(self.auth_token.encode(), base, nonce.encode()).decode()
        parts = urlsplit(url)
        return await self.http.post(
            self.gateway_url + parts.path + "?" + parts.query, data=fields,
            headers={"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce},
        )  # fmt: skip

    async def status(
        self, call: PlivoCall, status: str, url_field: str = "hangup_url", **extra: str
    ) -> int:
        response = await self.callback(call, url_field, CallStatus=status, **extra)
        return response.status

    async def answer(self, call: PlivoCall) -> ElementTree.Element:
        response = await self.callback(
            call, "answer_url", CallStatus="in-progress", Event="StartApp"
        )
        assert response.status == 200, await response.text()
        return ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's
