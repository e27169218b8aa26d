"""Property tests on the parsers hostile input reaches first (rows 1, 5, 26, 27): Twilio and
Telnyx signatures (0 false accepts or rejects), app socket messages and REST bodies (nothing
but the parser's own error, whatever the input)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any, cast

from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from gateway.api.admin_schemas import AssignNumberRequest
from gateway.api.bodies import read_body
from gateway.api.key_schemas import CreateKeyRequest
from gateway.api.schemas import CreateAssistantRequest, CreateSessionRequest
from gateway.api.session_socket import decode_client_event
from gateway.errors import BadRequest, ValidationFailed
from gateway.sessions.protocol import ProtocolError
from gateway.telephony.signatures import TwilioSignatures
from gateway.telephony.telnyx_signatures import TOLERANCE_S, TelnyxSignatures
from tests.virtual_clock import VirtualClock

TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "https://gw.example.com"
VOICE_PATH = "/telephony/twilio/voice"
NO_SURROGATES = st.characters(blacklist_categories=("Cs",))
FIELD_NAMES = st.text(NO_SURROGATES, min_size=1, max_size=20)
FIELD_VALUES = st.text(NO_SURROGATES, max_size=60)
SIGNED_PARAMS = st.dictionaries(FIELD_NAMES, FIELD_VALUES, min_size=1, max_size=12)


def examples(count: int) -> settings:
    """A fixed example budget, no per-example deadline (CI machines are shared)."""
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` (modulo its length) changed."""
    at = index % len(text)
    changed = "b" if text[at] == "a" else "a"
    return text[:at] + changed + text[at + 1 :]


@examples(1000)
@given(SIGNED_PARAMS, st.integers(min_value=0), st.integers(min_value=0))
def test_twilio_signatures_have_no_false_accepts_or_rejects(
    params: dict[str, str], which: int, where: int
) -> None:
    """Row 1: 1,000 parameter sets signed by Twilio's own library are accepted; the same with
    one character changed (in a value or in the signature) are refused."""
    signatures = TwilioSignatures(TOKEN, PUBLIC_URL)
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC_URL + VOICE_PATH, params)
    assert signatures.webhook_is_valid(VOICE_PATH, params, signature)
    assert not signatures.webhook_is_valid(VOICE_PATH, params, _flip(signature, where))
    name = sorted(params)[which % len(params)]
    if params[name]:
        tampered = {**params, name: _flip(params[name], where)}
        assert not signatures.webhook_is_valid(VOICE_PATH, tampered, signature)
    assert not signatures.webhook_is_valid(VOICE_PATH, params, None)


TELNYX_KEY = SigningKey.generate()
TELNYX_PUBLIC = base64.b64encode(bytes(TELNYX_KEY.verify_key)).decode()


@examples(300)
@given(st.binary(max_size=2000), st.integers(min_value=0), st.integers(-1000, 1000))
def test_telnyx_signatures_have_no_false_accepts_or_rejects(
    body: bytes, where: int, skew_s: int
) -> None:
    """Row 5: a body signed at a time within ±300 s is accepted; one changed byte, a wrong
    timestamp, a time outside the window or another spelling of the signature is refused."""
    clock = VirtualClock()
    signatures = TelnyxSignatures(TELNYX_PUBLIC, PUBLIC_URL, clock)
    stamp = str(int(clock.now().timestamp()) + skew_s)
    signed = TELNYX_KEY.sign(stamp.encode() + b"|" + body).signature
    signature = base64.b64encode(signed).decode()
    within = abs(skew_s) <= TOLERANCE_S
    assert signatures.is_valid(stamp, signature, body) is within
    if body:
        at = where % len(body)
        tampered = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
        assert not signatures.is_valid(stamp, signature, tampered)
    assert not signatures.is_valid(str(int(stamp) + 1), signature, body)
    assert not signatures.is_valid(stamp, _flip(signature, where), body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
CLIENT_TYPES = st.sampled_from(["audioChunk", "textMessage", "interrupt", "stopSession", "x"])
CLIENT_OBJECTS = st.builds(
    lambda kind, rest: json.dumps({**rest, "type": kind}),
    CLIENT_TYPES,
    st.dictionaries(st.sampled_from(["audio", "text", "playedMs", "reason"]), JSON_VALUES),
)


@examples(500)
@given(st.one_of(st.text(max_size=300), CLIENT_OBJECTS), st.sampled_from(["chat", "voice"]))
def test_app_socket_messages_never_raise_anything_but_a_protocol_error(raw: str, mode: Any) -> None:
    """Row 26: any text frame is an event or a ``ProtocolError`` (a ``sessionError``)."""
    with contextlib.suppress(ProtocolError):
        decode_client_event(raw, mode)


class _Body:
    """The one thing ``read_body`` asks of a request."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    async def read(self) -> bytes:
        return self._raw


MODELS = [CreateSessionRequest, CreateAssistantRequest, AssignNumberRequest, CreateKeyRequest]
REST_BODIES = st.one_of(
    st.binary(max_size=500),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(
        st.sampled_from(
            ["assistant_id", "mode", "phone_number", "name", "provider", "number", "permissions",
             "metadata", "language_code", "transfer_number", "kind", "allowed_origins"]
        ),
        JSON_VALUES,
    ).map(lambda value: json.dumps(value).encode()),
)  # fmt: skip


@examples(500)
@given(REST_BODIES, st.sampled_from(MODELS))
def test_rest_bodies_are_a_model_or_a_4xx(raw: bytes, model: Any) -> None:
    """Row 27: any body is the model, 400 (bad JSON) or 422 (a named field), never a 500."""
    request = cast(web.Request, _Body(raw))
    try:
        asyncio.run(read_body(request, model))
    except (BadRequest, ValidationFailed) as exc:
        assert 400 <= exc.status < 500
