"""Vonage's Voice REST API: place a call, and what a call needs once its stream is over (hang
up or transfer).

Requests are authenticated as the Voice application: an RS256 JWT (``application_id``,
``iat``, ``exp``, ``jti``) signed with the application's private key, sent as a bearer token.
``PUT /v1/calls/{uuid}`` with ``{"action": "hangup"}`` ends a call; with ``{"action":
"transfer", "destination": {"type": "ncco", "ncco": [...]}}`` it replaces the call's NCCO (a
``connect`` to the transfer number), which also ends our websocket leg. The numbers go in
Vonage's form (E.164 without the ``+``) and never into a log.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import jwt

from config import Settings
from gateway.errors import CarrierFailed
from kinds.clock import Clock

log = logging.getLogger(__name__)

TOKEN_TTL_S = 300
REQUEST_TIMEOUT_S = 5.0


class VonageConfigError(ValueError):
    """The configured private key cannot be read or is not a PEM private key."""


def vonage_number(e164: str) -> str:
    """``+447700900000`` → ``447700900000`` (Vonage writes numbers without the plus)."""
    return e164.removeprefix("+")


class VonageVoiceApi:
    """Hang-up and transfer of live calls, as one Vonage Voice application."""

    def __init__(self, application_id: str, private_key_pem: bytes, base_url: str, clock: Clock):
        self._application_id = application_id
        self._private_key = private_key_pem
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None
        self.application_token()  # a key PyJWT cannot sign with fails now, not mid-call

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> VonageVoiceApi | None:
        """``None`` unless both the application id and its private key are configured."""
        path = settings.vonage_private_key_path
        if not settings.vonage_application_id or path is None:
            return None
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise VonageConfigError(f"KURA_VONAGE_PRIVATE_KEY_PATH cannot be read: {exc}") from exc
        try:
            return cls(settings.vonage_application_id, pem, settings.vonage_api_url, clock)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            problem = "KURA_VONAGE_PRIVATE_KEY_PATH is not a PEM private key"
            raise VonageConfigError(problem) from exc

    def application_token(self) -> str:
        """A fresh application JWT (RS256) for one request."""
        now = int(self._clock.now().timestamp())
        claims = {
            "application_id": self._application_id,
            "iat": now,
            "exp": now + TOKEN_TTL_S,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._private_key, algorithm="RS256")

    async def create_call(self, body: dict[str, Any]) -> str:
        """``POST /v1/calls``; the new call leg's ``uuid``. ``CarrierFailed`` if Vonage refused
        or could not be reached."""
        headers = {"Authorization": f"Bearer {self.application_token()}"}
        try:
            async with self._session().post(
                f"{self._base_url}/v1/calls", json=body, headers=headers
            ) as reply:
                status = reply.status
                answer = await reply.json(content_type=None) if status // 100 == 2 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("vonage unreachable", extra={"error": type(exc).__name__})
            raise CarrierFailed("the carrier could not be reached") from None
        call_uuid = answer.get("uuid") if isinstance(answer, dict) else None
        if not isinstance(call_uuid, str) or not call_uuid:
            log.warning("vonage refused the call", extra={"status": status})
            raise CarrierFailed(f"the carrier refused the call (Vonage status {status})")
        return call_uuid

    async def hang_up(self, call_uuid: str) -> bool:
        return await self._modify(call_uuid, {"action": "hangup"})

    async def transfer(self, call_uuid: str, to_e164: str, from_e164: str | None) -> bool:
        """Connect the caller to ``to_e164`` (our number ``from_e164`` as the caller ID)."""
        connect: dict[str, Any] = {
            "action": "connect",
            "endpoint": [{"type": "phone", "number": vonage_number(to_e164)}],
        }
        if from_e164:
            connect["from"] = vonage_number(from_e164)
        return await self.replace_ncco(call_uuid, [connect])

    async def replace_ncco(self, call_uuid: str, ncco: list[dict[str, Any]]) -> bool:
        """Run ``ncco`` on the call instead of what it runs (a transfer to an NCCO)."""
        destination = {"type": "ncco", "ncco": ncco}
        return await self._modify(call_uuid, {"action": "transfer", "destination": destination})

    async def _modify(self, call_uuid: str, body: dict[str, Any]) -> bool:
        """``PUT /v1/calls/{uuid}``; whether Vonage accepted it (a call already over is not an
        error worth more than a log line)."""
        url = f"{self._base_url}/v1/calls/{call_uuid}"
        headers = {"Authorization": f"Bearer {self.application_token()}"}
        try:
            async with self._session().put(url, json=body, headers=headers) as reply:
                ok = reply.status in (200, 204)
                if not ok:
                    log.warning(
                        "vonage call update refused",
                        extra={"call_sid": call_uuid, "action": body["action"],
                               "status": reply.status},
                    )  # fmt: skip
                return ok
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "vonage call update failed",
                extra={"call_sid": call_uuid, "action": body["action"],
                       "error": type(exc).__name__},
            )  # fmt: skip
            return False

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
