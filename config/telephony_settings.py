"""The carriers' and calls' settings, a part of ``Settings`` kept in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


def url_problem(value: str, schemes: tuple[str, ...], example: str) -> str | None:
    """Why ``value`` is not a URL with one of ``schemes`` and a host, or None if it is."""
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        return f"must start with {wanted} and name a host, e.g. {example} (got {value!r})"
    if parts.query or parts.fragment:
        return f"must have no query or fragment (got {value!r})"
    return None


class TelephonySettings(BaseSettings):
    """Carrier credentials, call media and call limits; every field maps to ``KURA_<FIELD>``."""

    twilio_account_sid: str | None = Field(default=None, description="Twilio account SID.")
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Twilio auth token; checks webhook signatures (webhooks answer 503 "
        "without it).",
    )
    telnyx_public_key: str | None = Field(
        default=None,
        description="Telnyx account public key (base64 Ed25519, from Keys & Credentials); "
        "checks webhook signatures (Telnyx webhooks answer 503 without it).",
    )
    telnyx_api_key: SecretStr | None = Field(
        default=None,
        description="Telnyx API key; also keys the Telnyx calls' media tokens so that every "
        "node issues the same ones.",
    )
    telnyx_connection_id: str | None = Field(
        default=None,
        description="Telnyx Call Control application (connection) id: with the API key and "
        "the public key, outbound calls are placed through Call Control (`POST /v2/calls`).",
    )
    telnyx_account_sid: str | None = Field(
        default=None,
        description="Telnyx account id (the `AccountSid` of TeXML webhooks): with "
        "`KURA_TELNYX_TEXML_APPLICATION_ID` and the API key, warm transfers of TeXML calls "
        "ring the human through the TeXML Calls API.",
    )
    telnyx_texml_application_id: str | None = Field(
        default=None,
        description="The TeXML application the gateway's Telnyx numbers use; a warm transfer's "
        "human leg is placed as its call (`ApplicationSid`).",
    )
    telnyx_stream_codec: Literal["PCMU", "PCMA"] = Field(
        default="PCMU",
        description="The codec a Telnyx TeXML call streams in, both ways: `PCMA` for numbers "
        "whose legs are A-law (Europe, India) passes them to an A-law provider unconverted.",
    )
    plivo_auth_id: str | None = Field(
        default=None, description="Plivo auth ID (the account the gateway's numbers are on)."
    )
    plivo_auth_token: SecretStr | None = Field(
        default=None,
        description="Plivo auth token; checks its V3 webhook signatures (Plivo webhooks answer "
        "503 without it).",
    )
    signalwire_project_id: str | None = Field(
        default=None, description="SignalWire project ID (from the space's API page)."
    )
    signalwire_token: SecretStr | None = Field(
        default=None,
        description="SignalWire signing key (API page: Signing Key, not the API token); checks "
        "webhook signatures (SignalWire webhooks answer 503 without it).",
    )
    signalwire_space_url: str | None = Field(
        default=None,
        description="SignalWire space URL, such as `example.signalwire.com` (a full "
        "`http(s)://` URL is taken as given: a loopback fake in tests); outbound calls are "
        "placed through its LaML REST API.",
    )
    signalwire_api_token: SecretStr | None = Field(
        default=None,
        description="SignalWire API token (`PT…`, not the Signing Key): with the project ID "
        "and space URL, places and hangs up outbound calls.",
    )
    vonage_signature_secret: SecretStr | None = Field(
        default=None,
        description="Vonage account signature secret (Dashboard, API settings); checks the "
        "HS256 JWT on every Vonage webhook (Vonage webhooks answer 503 without it).",
    )
    vonage_application_id: str | None = Field(
        default=None,
        description="Vonage Voice application id: signed webhooks must name it, and the "
        "Voice REST API (hang-up, transfer) is called as it.",
    )
    vonage_private_key_path: Path | None = Field(
        default=None,
        description="The Vonage application's private key (PEM); signs the RS256 JWTs of "
        "Voice REST API calls (hang-up, transfer). Without it, Vonage calls cannot be "
        "transferred.",
    )
    vonage_api_url: str = Field(
        default="https://api.nexmo.com",
        description="Base URL of Vonage's Voice REST API.",
    )
    vonage_audio_rate: Literal["auto", "16000", "24000"] = Field(
        default="auto",
        description="L16 rate asked of Vonage for a call's audio. `auto`: per call, from its "
        "assistant's provider: 8000, companded to µ-law at the edge, for one that takes and "
        "speaks µ-law (OpenAI, the local demo), else the rate it takes with the least "
        "resampling (24000; 16000 for Gemini's input). 16000 or 24000 force a wideband stream.",
    )
    call_noise_suppression: bool = Field(
        default=True,
        description="Denoise callers' audio (speexdsp) before barge-in detection and the "
        "provider, so background noise neither interrupts the assistant nor reaches the model "
        "at full level.",
    )
    call_media_token_ttl_s: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="Lifetime of the single-use token a call's media stream presents.",
    )
    webhook_answer_deadline_s: float = Field(
        default=4.0,
        gt=0,
        le=14,
        description="Past this, a carrier webhook answers a degraded document (voice: an "
        "apology; status: empty; action: an apology) and finishes its work in the background "
        "(Twilio waits 15 s; the answer must reach it within 5 s).",
    )

    twilio_api_base_url: str = Field(
        default="https://api.twilio.com",
        description="Base URL of Twilio's REST API, used to place and hang up calls (a "
        "loopback fake in tests); needs `KURA_TWILIO_ACCOUNT_SID` and the auth token.",
    )

    telnyx_api_base_url: str = Field(
        default="https://api.telnyx.com",
        description="Base URL of Telnyx's REST API (Call Control), used to place, stream and "
        "hang up outbound calls (a loopback fake in tests).",
    )

    plivo_api_base_url: str = Field(
        default="https://api.plivo.com",
        description="Base URL of Plivo's REST API, used to place and hang up outbound calls "
        "(a loopback fake in tests); needs `KURA_PLIVO_AUTH_ID` and the auth token.",
    )

    # Calls (outbound and limits)
    max_concurrent_calls: int | None = Field(
        default=None,
        ge=1,
        description="Calls (inbound and outbound) this deployment carries at once, across "
        "every node; unset: no global cap (per assistant and per number caps still apply).",
    )
    call_max_duration_s: int = Field(
        default=3600,
        ge=10,
        le=4 * 3600,
        description="Hard limit of a call that sets none itself (outbound `max_duration_s`, "
        "or its assistant's); the call is hung up on time.",
    )
    call_limit_retry_after_s: int = Field(
        default=30,
        ge=1,
        description="`Retry-After` of a `POST /api/v1/calls` refused because a call limit is "
        "reached.",
    )
    outbound_ring_timeout_s: int = Field(
        default=30,
        ge=5,
        le=600,
        description="How long an outbound call rings before it is `no-answer`.",
    )
    outbound_allow_premium: bool = Field(
        default=False,
        description="Allow outbound calls to premium-rate, shared-cost and short-code "
        "numbers (refused by default).",
    )
    early_provider_connect: bool = Field(
        default=True,
        description="Open a call's AI provider session when the voice webhook arrives, not "
        "when the media stream does, so the greeting is ready when the call connects (an "
        "unused one is closed after 30 s).",
    )
    greeting_cache_mb: float = Field(
        default=16.0,
        ge=0,
        description="Memory for greetings' audio: a call whose greeting (same provider, model, "
        "voice, text, audio format and assistant instructions) was said word for word on an "
        "earlier call hears it at once, while its provider connects (`0`: off, every call "
        "waits for its provider).",
    )
    greeting_cache_dir: Path | None = Field(
        default=None,
        description="Directory that keeps the greeting cache across restarts (read at start, "
        "written as greetings are kept), so the first call of each assistant after a restart "
        "does not wait for its provider; unset: memory only.",
    )
    greeting_cache_disk_mb: float = Field(
        default=64.0,
        gt=0,
        description="Bound of `KURA_GREETING_CACHE_DIR`: past it the least recently played "
        "greetings' files are removed.",
    )
    transfer_ring_timeout_s: int = Field(
        default=25, ge=5, le=120,
        description="How long a warm transfer rings the human before the caller goes back to "
        "the assistant (an assistant's `transfer_ring_timeout_s` overrides it).",
    )  # fmt: skip
    transfer_whisper_timeout_s: int = Field(
        default=10, ge=3, le=60,
        description="How long the human has, once the whisper is over, to press 1 and accept "
        "a warm transfer (no key: declined).",
    )  # fmt: skip

    @field_validator("twilio_api_base_url", "telnyx_api_base_url", "plivo_api_base_url")
    @classmethod
    def _api_base_url(cls, value: str) -> str:
        if problem := url_problem(value, ("https", "http"), "https://api.example.com"):
            raise ValueError(problem)
        return value.rstrip("/")

    @field_validator("vonage_private_key_path")
    @classmethod
    def _vonage_key_exists(cls, value: Path | None) -> Path | None:
        # Said at start-up, not at the first transfer of the first Vonage call.
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value
