"""Placing calls through Plivo's Voice REST API (``POST /v1/Account/{auth_id}/Call/``).

The request is the Plivo SDK's ``calls.create`` as JSON (basic auth ``auth_id:auth_token``),
sent with aiohttp so the event loop never blocks (the SDK is synchronous). Our answer, hangup
(and ring) and machine-detection callbacks sit under ``/telephony/plivo/outbound/``, each with
the call's session id in its query string, which Plivo's V3 signature covers. Plivo answers a
dial with a ``request_uuid``; the call's own ``CallUUID`` arrives with its first callback,
which also names the ``RequestUUID``, so the call is re-bound to its ``CallUUID`` then
(``OutboundProgress.adopt``). A call still ringing is cancelled by its request
(``DELETE …/Request/{request_uuid}/``), an answered one hung up (``DELETE …/Call/{uuid}/``).
Plivo's machine detection says machine or not: ``detect`` is offered, ``leave_message`` is not.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson

from gateway.errors import CarrierFailed
from gateway.store.models import Call
from gateway.telephony.compat_dialer import OutboundPaths
from gateway.telephony.dialing import DialCapabilities
from gateway.telephony.plivo_signatures import PlivoSignatures

log = logging.getLogger(__name__)

PLIVO_PATHS = OutboundPaths("/telephony/plivo")
CAPABILITIES = DialCapabilities("plivo", "Plivo", frozenset({"detect"}))
REQUEST_TIMEOUT_S = 10.0
TIME_LIMIT_MARGIN_S = 5  # Plivo's own limit, a backstop should this node die, is a bit later


def plivo_number(e164: str) -> str:
    """Plivo writes ``14155550100`` for ``+14155550100``."""
    return e164.removeprefix("+")


class PlivoDialer:
    """One Plivo account's outbound calls."""

    def __init__(
        self, auth_id: str, auth_token: str, base_url: str, signatures: PlivoSignatures
    ) -> None:
        credentials = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode()
        self._headers = {"Authorization": f"Basic {credentials}"}
        self._account_url = f"{base_url.rstrip('/')}/v1/Account/{quote(auth_id, safe='')}"
        self._signatures = signatures
        self._http: aiohttp.ClientSession | None = None

    @property
    def capabilities(self) -> DialCapabilities:
        return CAPABILITIES

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout, headers=self._headers)
        return self._http

    def params(self, call: Call, ring_timeout_s: int) -> dict[str, Any]:
        url = self._signatures.http_url
        query = "?" + urlencode({"session": call.session_id})
        params: dict[str, Any] = {
            "from": plivo_number(call.from_number or ""), "to": plivo_number(call.to_number or ""),
            "answer_url": url(PLIVO_PATHS.answer + query), "answer_method": "POST",
            "ring_url": url(PLIVO_PATHS.status + query), "ring_method": "POST",
            "hangup_url": url(PLIVO_PATHS.status + query), "hangup_method": "POST",
            "ring_timeout": ring_timeout_s,
            "time_limit": (call.max_duration_s or 0) + TIME_LIMIT_MARGIN_S,
        }  # fmt: skip
        if call.machine_detection == "detect":
            params.update(
                machine_detection="true", machine_detection_method="POST",
                machine_detection_url=url(PLIVO_PATHS.amd + query),
            )  # fmt: skip
        return params

    async def dial(self, call: Call, *, ring_timeout_s: int) -> str:
        """The call's ``request_uuid`` (its ``CallUUID`` comes with the first callback)."""
        return await self.create(self.params(call, ring_timeout_s))

    async def create(self, params: dict[str, Any]) -> str:
        """Place a call (``POST …/Call/`` with ``params``); its ``request_uuid``.
        ``CarrierFailed`` if Plivo refused or could not be reached."""
        try:
            async with self._session().post(
                self._account_url + "/Call/", data=orjson.dumps(params),
                headers={"Content-Type": "application/json"},
            ) as response:  # fmt: skip
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("plivo unreachable", extra={"error": type(exc).__name__})
            raise CarrierFailed("the carrier could not be reached") from None
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = {}
        request_uuid = answer.get("request_uuid") if isinstance(answer, dict) else None
        if status // 100 != 2 or not isinstance(request_uuid, str) or not request_uuid:
            log.warning("plivo refused the call", extra={"status": status})
            raise CarrierFailed(f"the carrier refused the call (Plivo status {status})")
        return request_uuid

    async def _delete(self, kind: str, uuid: str) -> bool:
        try:
            async with self._session().delete(
                f"{self._account_url}/{kind}/{quote(uuid, safe='')}/"
            ) as response:
                if response.status // 100 == 2:
                    return True
                log.warning("plivo refused a hang-up", extra={"status": response.status})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("plivo unreachable", extra={"error": type(exc).__name__})
        return False

    async def hang_up(self, call: Call, *, ringing: bool) -> None:
        await self.end(call.call_sid, ringing=ringing)

    async def end(self, uuid: str, *, ringing: bool) -> bool:
        """End a call by the id we hold of it; ``False`` if Plivo refused."""
        # While it rings, the id may still be the request's: cancel that. An answered call
        # (or a request id that is no longer one) is hung up by its CallUUID.
        if ringing and await self._delete("Request", uuid):
            return True
        return await self._delete("Call", uuid)

    async def leave_message(self, call: Call, message: str) -> bool:
        return False  # never asked: ``leave_message`` is refused up front (CAPABILITIES)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
