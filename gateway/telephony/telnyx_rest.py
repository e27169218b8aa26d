"""Telnyx's Call Control REST API (v2), over aiohttp: dial, start a media stream, hang up; and
two TeXML Calls API requests (place a TeXML call, end one) for warm transfers' human legs.

No SDK: three JSON requests with a bearer API key do not justify one. Every command carries a
``command_id`` where Telnyx takes one, so a retried request is not carried out twice. The base
URL is ``KURA_TELNYX_API_BASE_URL`` (a loopback fake in tests). Request bodies carry phone
numbers, so nothing here logs a body, only statuses and Telnyx's error codes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from gateway.errors import CarrierFailed

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0


def _error_code(body: Any) -> str:
    """The first error's ``code`` of a Telnyx error body (``{"errors": [{"code": ...}]}``)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", "?"))[:16]
    return "?"


class TelnyxCallControl:
    """One API key's Call Control client; the HTTP session opens on first use."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._base_url = base_url.rstrip("/") + "/v2"
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout, headers=self._headers)
        return self._http

    async def _post(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        async with self._session().post(
            self._base_url + path,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        ) as response:
            raw = await response.read()
        try:
            return response.status, orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return response.status, {}

    async def dial(self, body: Mapping[str, Any]) -> str:
        """``POST /v2/calls``; the new call's ``call_control_id``."""
        try:
            status, answer = await self._post("/calls", body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("telnyx unreachable", extra={"error": type(exc).__name__})
            raise CarrierFailed("the carrier could not be reached") from None
        data = answer.get("data") if isinstance(answer, dict) else None
        call_control_id = data.get("call_control_id") if isinstance(data, dict) else None
        if status // 100 != 2 or not isinstance(call_control_id, str) or not call_control_id:
            code = _error_code(answer)
            log.warning("telnyx refused the call", extra={"status": status, "code": code})
            raise CarrierFailed(f"the carrier refused the call (Telnyx error {code})")
        return call_control_id

    async def action(self, call_control_id: str, action: str, body: Mapping[str, Any]) -> bool:
        """``POST /v2/calls/{id}/actions/{action}``; ``False`` if Telnyx refused or could not
        be reached (the caller decides; a call already over answers 422)."""
        path = f"/calls/{quote(call_control_id, safe='')}/actions/{action}"
        try:
            status, answer = await self._post(path, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("telnyx unreachable", extra={"error": type(exc).__name__})
            return False
        if status // 100 != 2:
            log.warning(
                "telnyx refused a call command",
                extra={"action": action, "status": status, "code": _error_code(answer)},
            )
            return False
        return True

    async def texml_call(self, account_sid: str, body: Mapping[str, Any]) -> str:
        """``POST /v2/texml/Accounts/{account}/Calls``; the new call's id (``""`` when the
        answer names none: the leg's first signed webhook then tells it)."""
        path = f"/texml/Accounts/{quote(account_sid, safe='')}/Calls"
        try:
            status, answer = await self._post(path, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("telnyx unreachable", extra={"error": type(exc).__name__})
            raise CarrierFailed("the carrier could not be reached") from None
        if status // 100 != 2 or not isinstance(answer, dict):
            code = _error_code(answer)
            log.warning("telnyx refused the call", extra={"status": status, "code": code})
            raise CarrierFailed(f"the carrier refused the call (Telnyx error {code})")
        data = answer.get("data", answer)
        call_sid = data.get("call_sid") or data.get("sid") if isinstance(data, dict) else None
        return call_sid if isinstance(call_sid, str) else ""

    async def texml_update(
        self, account_sid: str, call_sid: str, fields: Mapping[str, str]
    ) -> bool:
        """``POST /v2/texml/Accounts/{account}/Calls/{call}`` (form-encoded, as Telnyx asks);
        ``False`` if Telnyx refused or could not be reached."""
        path = f"/texml/Accounts/{quote(account_sid, safe='')}/Calls/{quote(call_sid, safe='')}"
        try:
            async with self._session().post(self._base_url + path, data=dict(fields)) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("telnyx unreachable", extra={"error": type(exc).__name__})
            return False
        if status // 100 != 2:
            log.warning("telnyx refused a call update", extra={"status": status})
            return False
        return True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
