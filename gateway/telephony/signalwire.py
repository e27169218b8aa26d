"""SignalWire: Twilio's webhooks, TwiML (cXML) and media streams, with its own signing key.

SignalWire's compatibility API is Twilio's wire protocol, so its calls reuse the Twilio codec
and webhook code with a few values changed: webhooks are signed with Twilio's algorithm keyed by
the project's Signing Key (``KURA_SIGNALWIRE_TOKEN``), in ``X-SignalWire-Signature`` (with
``X-Twilio-Signature`` beside it, which we also accept); and the ``<Stream codec>`` is chosen per
call for the assistant's provider (``stream_codec``). A provider that speaks PCM16 and not µ-law
gets ``L16@24000h`` (or ``L16@16000h`` for one that takes 16 kHz), the caller's audio as it came
and no resampling either way; a provider that takes and speaks µ-law gets SignalWire's default,
µ-law 8 kHz, which passes straight through both ways as on Twilio. L16 at 24 kHz is the same
8 kHz call SignalWire resampled, in six times the bytes: each frame is 1,280 base64 characters
instead of 216, and the VAD decimates it back to 8 kHz, so on a µ-law provider it cost about
twice the codec and chain work of a µ-law call (``scripts/bench_carriers.py``) for no gain in
what the caller said. The start event's ``mediaFormat`` says what the stream really carries,
and the bridge builds its chains from that, per call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from config import Settings
from gateway.telephony import twilio_codec
from gateway.telephony.carriers.codec import CarrierCapabilities
from gateway.telephony.signatures import TwilioSignatures
from gateway.telephony.twilio_rest import TwilioRest
from gateway.telephony.vonage_codec import preferred_rate
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMU_8K, AudioFormat
from providers.capabilities import ProviderCapabilities

SIGNALWIRE_PREFIX = "/telephony/signalwire"
VOICE_PATH = f"{SIGNALWIRE_PREFIX}/voice"
STATUS_PATH = f"{SIGNALWIRE_PREFIX}/status"
ACTION_PATH = f"{SIGNALWIRE_PREFIX}/action"
MEDIA_PATH = f"{SIGNALWIRE_PREFIX}/media"
SIGNATURE_HEADERS = ("X-SignalWire-Signature", "X-Twilio-Signature")
STREAM_CODEC = "L16@24000h"
"""What a call asks for when its provider is not known (and what a PCM16 24 kHz one gets)."""
REST_HINT = "KURA_SIGNALWIRE_PROJECT_ID, KURA_SIGNALWIRE_API_TOKEN and KURA_SIGNALWIRE_SPACE_URL"
LAML_PATH = "/api/laml"  # the Twilio SDK appends /2010-04-01/Accounts/{project}/Calls.json
# SignalWire's CallSids are UUIDs; allow any id of that alphabet and a sane length.
CALL_SID = re.compile(r"^[A-Za-z0-9-]{16,64}$")

CAPABILITIES = CarrierCapabilities(
    name="signalwire",
    audio=PCM16_24K,  # what the <Stream codec> asks for
    frame_ms=20,
    marks=True,  # Twilio's semantics: echoed once played; a clear echoes the pending ones
    clear=True,
    dtmf=True,
    frames="text",
    formats=(PCMU_8K, PCM16_8K, PCM16_16K),  # the default codec, and L16's other rates
    warm_transfer=True,  # Twilio's flow through the LaML REST API and cXML (transfer_legs)
)

decode = twilio_codec.decode
open_codec = twilio_codec.TwilioCodec.for_stream


def stream_codec(
    inputs: Sequence[AudioFormat], outputs: Sequence[AudioFormat]
) -> tuple[str | None, AudioFormat]:
    """The ``<Stream codec>`` for a provider taking ``inputs`` and speaking ``outputs`` (``None``:
    SignalWire's default, µ-law 8 kHz), and the audio the call's stream then carries."""
    if PCMU_8K in inputs and PCMU_8K in outputs:
        return None, PCMU_8K
    rate_hz = preferred_rate(inputs, outputs)  # the rate it takes as is first, then speaks
    return f"L16@{rate_hz}h", AudioFormat("pcm16", rate_hz)


def codec_for(provider: ProviderCapabilities | None) -> tuple[str | None, AudioFormat]:
    """``stream_codec`` for a call's provider; ``STREAM_CODEC`` when it is not known."""
    if provider is None:
        return STREAM_CODEC, PCM16_24K
    return stream_codec(provider.input_formats, provider.output_formats)


def signing_key(settings: Settings) -> str | None:
    """The configured Signing Key, or ``None`` (the doors then answer 503)."""
    token = settings.signalwire_token
    if token is None or not token.get_secret_value():
        return None
    return token.get_secret_value()


def signatures(settings: Settings) -> TwilioSignatures | None:
    """Twilio's algorithm keyed by the Signing Key, on SignalWire's paths and headers; ``None``
    without the key."""
    key = signing_key(settings)
    if key is None:
        return None
    return TwilioSignatures(
        key, settings.effective_public_url, prefix=SIGNALWIRE_PREFIX, headers=SIGNATURE_HEADERS
    )


def rest_client(settings: Settings) -> TwilioRest | None:
    """The LaML (Twilio-compatible) REST client of the project, basic auth project:API token;
    ``None`` unless the project, the API token and the space are all configured."""
    token = settings.signalwire_api_token
    space = (settings.signalwire_space_url or "").strip().rstrip("/")
    if not settings.signalwire_project_id or token is None or not token.get_secret_value():
        return None
    if not space:
        return None
    base = space if space.startswith(("https://", "http://")) else f"https://{space}"
    return TwilioRest(
        settings.signalwire_project_id, token.get_secret_value(), base + LAML_PATH,
        title="SignalWire",
    )  # fmt: skip
