"""Signature checks against the self-computed vectors in protocols.md §1.4."""

from __future__ import annotations

from multidict import MultiDict
from pydantic import SecretStr

from config import Settings
from gateway.telephony.signatures import TwilioSignatures

TOKEN = "test_auth_token"
VOICE_PARAMS = {
    "AccountSid": "AC00000000000000000000000000000001",
    "CallSid": "CA00000000000000000000000000000001",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+15550001111",
    "To": "+15550002222",
}
VOICE_SIGNATURE = "oLo9RECK5fd3Z4cxP07pBBIECHU="
MEDIA_SIGNATURE = "o70tYwRDCiyxAU8BNU30s/uVKpk="


def test_webhook_vector() -> None:
    signatures = TwilioSignatures(TOKEN, "https://gw.example.com")
    assert signatures.webhook_is_valid("/twilio/voice", VOICE_PARAMS, VOICE_SIGNATURE)
    assert signatures.webhook_is_valid("/twilio/voice", MultiDict(VOICE_PARAMS), VOICE_SIGNATURE)
    # Twilio sometimes signs with the explicit default port; both spellings are accepted.
    with_port = TwilioSignatures(TOKEN, "https://gw.example.com:443")
    assert with_port.webhook_is_valid("/twilio/voice", VOICE_PARAMS, VOICE_SIGNATURE)


def test_webhook_rejections() -> None:
    signatures = TwilioSignatures(TOKEN, "https://gw.example.com")
    tampered = dict(VOICE_PARAMS, From="+15550009999")
    assert not signatures.webhook_is_valid("/twilio/voice", tampered, VOICE_SIGNATURE)
    assert not signatures.webhook_is_valid("/twilio/voice", VOICE_PARAMS, None)
    assert not signatures.webhook_is_valid("/twilio/voice", VOICE_PARAMS, "")
    assert not signatures.webhook_is_valid("/twilio/voice", VOICE_PARAMS, "x" * 500)
    assert not signatures.webhook_is_valid("/twilio/voice?x=1", VOICE_PARAMS, VOICE_SIGNATURE)
    http = TwilioSignatures(TOKEN, "http://gw.example.com")
    assert not http.webhook_is_valid("/twilio/voice", VOICE_PARAMS, VOICE_SIGNATURE)
    other_token = TwilioSignatures("another_token", "https://gw.example.com")
    assert not other_token.webhook_is_valid("/twilio/voice", VOICE_PARAMS, VOICE_SIGNATURE)


def test_media_handshake_vector_is_over_wss() -> None:
    signatures = TwilioSignatures(TOKEN, "https://gw.example.com")
    assert signatures.media_url("/twilio/media") == "wss://gw.example.com/twilio/media"
    assert signatures.media_handshake_is_valid(MEDIA_SIGNATURE, "/twilio/media")
    assert not signatures.media_handshake_is_valid(MEDIA_SIGNATURE, "/twilio/media2")
    assert not signatures.media_handshake_is_valid(None, "/twilio/media")
    # Signing the https:// form of the same URL must not pass as the wss:// handshake.
    https_signature = signatures._validator.compute_signature(
        "https://gw.example.com/twilio/media", {}
    )
    assert not signatures.media_handshake_is_valid(https_signature, "/twilio/media")


def test_from_settings_needs_a_token() -> None:
    bare = Settings(_env_file=None)  # type: ignore[call-arg]
    assert TwilioSignatures.from_settings(bare) is None
    empty = Settings(_env_file=None, twilio_auth_token=SecretStr(""))  # type: ignore[call-arg]
    assert TwilioSignatures.from_settings(empty) is None
    configured = Settings(
        _env_file=None,  # type: ignore[call-arg]
        twilio_auth_token=SecretStr(TOKEN),
        public_url="https://gw.example.com/",
    )
    signatures = TwilioSignatures.from_settings(configured)
    assert signatures is not None
    assert signatures.http_url("/a?b=c%20d") == "https://gw.example.com/a?b=c%20d"
    assert signatures.media_url() == "wss://gw.example.com/telephony/twilio/media"
