"""Warm-transfer legs on Telnyx: the human is rung as a TeXML call of the gateway's TeXML
application (the TeXML Calls API), so the whisper, the key and the conference are TeXML, as
the caller's own call is. Its webhooks are Telnyx's, signed with Ed25519 like every other.

Only a TeXML call can be bridged this way: its ``<Redirect>`` after the stream joins the caller
to the conference. A Call Control call we placed has no markup to go on with, so a warm
transfer there goes cold (``bridges``).
"""

from __future__ import annotations

from config import Settings
from gateway.store.models import Call
from gateway.telephony.telnyx_rest import TelnyxCallControl
from gateway.telephony.telnyx_signatures import TELNYX_PREFIX, TelnyxSignatures
from gateway.telephony.telnyx_texml import render, say_and_hang_up
from gateway.telephony.transfer_legs import LEG_STATUS_EVENTS, LegPlan, transfer_path

SETTINGS_HINT = "KURA_TELNYX_API_KEY, KURA_TELNYX_ACCOUNT_SID, KURA_TELNYX_TEXML_APPLICATION_ID"


class TexmlLegs:
    """One Telnyx account's warm-transfer legs, placed as calls of its TeXML application."""

    def __init__(
        self,
        api: TelnyxCallControl,
        account_sid: str,
        application_id: str,
        signatures: TelnyxSignatures,
    ) -> None:
        self._api = api
        self._account_sid = account_sid
        self._application_id = application_id
        self._signatures = signatures

    @classmethod
    def from_settings(
        cls, settings: Settings, signatures: TelnyxSignatures | None
    ) -> TexmlLegs | None:
        """``None`` unless the API key, the account, the TeXML application and the public key
        (which checks the leg's webhooks) are all configured."""
        key = settings.telnyx_api_key
        if key is None or not key.get_secret_value() or signatures is None:
            return None
        if not settings.telnyx_account_sid or not settings.telnyx_texml_application_id:
            return None
        api = TelnyxCallControl(key.get_secret_value(), settings.telnyx_api_base_url)
        return cls(
            api, settings.telnyx_account_sid, settings.telnyx_texml_application_id, signatures
        )

    @property
    def carrier(self) -> str:
        return "telnyx"

    def hook_url(self, transfer_id: str, hook: str) -> str:
        return self._signatures.http_url(transfer_path(TELNYX_PREFIX, transfer_id, hook))

    def bridges(self, call: Call) -> bool:
        return call.direction != "outbound"  # our outbound calls are Call Control's

    async def place(self, leg: LegPlan) -> str:
        body = {
            "ApplicationSid": self._application_id, "To": leg.to, "From": leg.from_,
            "Url": leg.answer_url, "UrlMethod": "POST",
            "StatusCallback": leg.status_url, "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": " ".join(LEG_STATUS_EVENTS), "Timeout": leg.ring_timeout_s,
        }  # fmt: skip
        return await self._api.texml_call(self._account_sid, body)

    async def hang_up(self, leg_sid: str, *, answered: bool) -> bool:
        # TeXML documents one way to end a call, ringing or answered: ``Status=completed``.
        return await self._api.texml_update(self._account_sid, leg_sid, {"Status": "completed"})

    async def see_out(self, call_sid: str, goodbye: str) -> bool:
        document = render(say_and_hang_up(goodbye))  # TeXML's update takes inline ``Texml``
        return await self._api.texml_update(self._account_sid, call_sid, {"Texml": document})

    async def aclose(self) -> None:
        await self._api.aclose()
