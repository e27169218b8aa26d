"""Twilio's REST API, through the ``twilio`` SDK: place a call, hang it up, replace its TwiML.
SignalWire's LaML API is the same API under another base URL, so one class serves both.

The SDK's asynchronous client (``AsyncTwilioHttpClient``, aiohttp) is used, so placing a call
never blocks the event loop. Its API domain is pointed at ``KURA_TWILIO_API_BASE_URL``
(``client.api.base_url``: the SDK builds every Voice URL from it), which lets tests and the
simulator run a loopback fake of Twilio. The SDK logs each request's parameters (the numbers
called) at INFO, so it gets a logger of its own that only passes warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

# The SDK imports its Voice modules lazily, on the first ``client.calls``: about 40 ms that
# would land on the first POST /api/v1/calls. Imported here, they cost the start-up instead.
import twilio.rest.api.v2010.account.call  # noqa: F401
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from config import Settings
from gateway.errors import CarrierFailed

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0
_SDK_LOG = logging.getLogger("kura.twilio_sdk")
_SDK_LOG.setLevel(logging.WARNING)  # its INFO lines carry the parameters: numbers called


class TwilioRest:
    """One account's REST client; the HTTP session opens on first use (in the event loop)."""

    def __init__(
        self, account_sid: str, auth_token: str, base_url: str, *, title: str = "Twilio"
    ) -> None:
        self._title = title
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._base_url = base_url.rstrip("/")
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioRest | None:
        """``None`` unless both the account SID and the auth token are configured."""
        token = settings.twilio_auth_token
        if not settings.twilio_account_sid or token is None or not token.get_secret_value():
            return None
        return cls(
            settings.twilio_account_sid, token.get_secret_value(), settings.twilio_api_base_url
        )

    def _calls(self) -> Any:
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_S, logger=_SDK_LOG)
            self._client = Client(
                self._account_sid, self._auth_token, http_client=self._http, environment={}
            )
            self._client.api.base_url = self._base_url
        return self._client.calls

    async def create_call(self, params: Mapping[str, Any]) -> str:
        """Place a call (``params`` are ``calls.create`` keyword arguments); its CallSid."""
        try:
            call = await self._calls().create_async(**params)
        except TwilioRestException as exc:
            log.warning(
                "carrier refused the call",
                extra={"carrier": self._title, "status": exc.status, "code": exc.code},
            )
            raise CarrierFailed(
                f"the carrier refused the call ({self._title} error {exc.code})"
            ) from None
        except (TwilioException, OSError, TimeoutError) as exc:
            log.warning(
                "carrier unreachable", extra={"carrier": self._title, "error": type(exc).__name__}
            )
            raise CarrierFailed("the carrier could not be reached") from None
        return str(call.sid)

    async def update_call(self, call_sid: str, **fields: str) -> bool:
        """Change a live call (``status="completed"`` hangs it up, ``twiml=`` replaces what it
        does); ``False`` if Twilio refused or could not be reached (the caller decides)."""
        try:
            await self._calls()(call_sid).update_async(**fields)
        except TwilioRestException as exc:
            log.warning(
                "carrier refused a call update",
                extra={"carrier": self._title, "status": exc.status},
            )
            return False
        except (TwilioException, OSError, TimeoutError) as exc:
            log.warning(
                "carrier unreachable", extra={"carrier": self._title, "error": type(exc).__name__}
            )
            return False
        return True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
