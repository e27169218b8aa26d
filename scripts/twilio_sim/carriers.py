"""The carriers the simulator can act as, for the load test and the spawned gateway.

Each carrier's wire behaviour lives in a small module of its own (``webhook`` and
``media_session`` for Twilio, ``telnyx``, ``vonage``, ``plivo``, ``signalwire``);
``call.run_call`` places a call the way the carrier named in ``CallConfig.carrier`` does. This
registry adds what a load test needs besides: new call ids in the carrier's shape, and a fresh
credential pair (what the simulator signs with, and the settings that make a spawned gateway
trust it). Another carrier plugs in with its module, an entry here and its call in
``call.run_call``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from . import plivo, signalwire, telnyx, vonage
from .webhook import CallIdentity


@dataclass(frozen=True)
class SimCarrier:
    name: str
    new_identity: Callable[[str, str], CallIdentity]
    credentials: Callable[[], tuple[str, dict[str, str]]]
    """A new ``(what the simulator signs with, the gateway's settings that trust it)``."""


def _twilio() -> tuple[str, dict[str, str]]:
    token = secrets.token_hex(16)
    return token, {"KURA_TWILIO_AUTH_TOKEN": token}


def _telnyx() -> tuple[str, dict[str, str]]:
    seed = base64.b64encode(secrets.token_bytes(32)).decode()
    public = telnyx.public_key(telnyx.signing_key(seed))
    return seed, {"KURA_TELNYX_PUBLIC_KEY": public, "KURA_TELNYX_API_KEY": secrets.token_hex(16)}


def _vonage() -> tuple[str, dict[str, str]]:
    secret = secrets.token_hex(32)
    return secret, {"KURA_VONAGE_SIGNATURE_SECRET": secret}


def _plivo() -> tuple[str, dict[str, str]]:
    token = secrets.token_hex(20)
    return token, {"KURA_PLIVO_AUTH_ID": "MA" + secrets.token_hex(9).upper(),
                   "KURA_PLIVO_AUTH_TOKEN": token}  # fmt: skip


def _signalwire() -> tuple[str, dict[str, str]]:
    key = "PSK_" + secrets.token_hex(12)
    return key, {"KURA_SIGNALWIRE_TOKEN": key}


CARRIERS = {
    "twilio": SimCarrier("twilio", CallIdentity.new, _twilio),
    "telnyx": SimCarrier("telnyx", telnyx.new_identity, _telnyx),
    "vonage": SimCarrier("vonage", vonage.new_identity, _vonage),
    "plivo": SimCarrier("plivo", plivo.new_identity, _plivo),
    "signalwire": SimCarrier("signalwire", signalwire.new_identity, _signalwire),
}
