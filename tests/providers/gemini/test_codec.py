"""Pure codec pieces: schema conversion, durations, decoding edge cases."""

from __future__ import annotations

import orjson
import pytest

from providers.errors import ProviderProtocolError
from providers.gemini_live import wire
from providers.gemini_live.decode import (
    GoAway,
    InputTranscription,
    Interrupted,
    ModelAudio,
    ResumptionUpdate,
    ServerTurnComplete,
    decode_message,
    parse_duration_s,
    parse_frame,
)
from tests.fakes.gemini_live import validate_client_message


def test_json_schema_becomes_gemini_schema() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
            "mode": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "additionalProperties": False,
    }
    assert wire.gemini_schema(schema) == {
        "type": "OBJECT",
        "properties": {
            "items": {"type": "ARRAY", "minItems": 1, "items": {"type": "INTEGER", "minimum": 1}},
            "mode": {"anyOf": [{"type": "STRING"}, {"type": "NULL"}]},
        },
    }


@pytest.mark.parametrize(
    "message",
    [
        wire.audio_input(b"\x00\x01"),
        wire.activity_start(),
        wire.activity_end(),
        wire.user_text("hi"),
        wire.greeting_request("Hello!"),
        wire.tool_response("fc_1", "f", {"ok": True}),
    ],
)
def test_client_messages_validate_against_the_sdk_types(message: dict[str, object]) -> None:
    validate_client_message(message)


@pytest.mark.parametrize(
    ("value", "seconds"), [("50s", 50.0), ("1.5s", 1.5), ("bad", 0.0), (None, 0.0)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration_s(value) == seconds


def test_one_message_may_carry_several_notes_in_a_safe_order() -> None:
    message = parse_frame(
        b'{"serverContent":{"turnComplete":true,"interrupted":true,'
        b'"inputTranscription":{"text":"stop"}},'
        b'"sessionResumptionUpdate":{"newHandle":"h","resumable":true},'
        b'"goAway":{"timeLeft":"3s"},"usageMetadata":{"totalTokenCount":1}}'
    )
    assert decode_message(message) == [
        InputTranscription("stop", False),
        Interrupted(),
        ServerTurnComplete(),
        ResumptionUpdate("h", True),
        GoAway(3.0),
    ]


def test_audio_parts_are_decoded_and_bad_ones_rejected() -> None:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAE="}}
    assert decode_message({"serverContent": {"modelTurn": {"parts": [part]}}}) == [
        ModelAudio(b"\x00\x01")
    ]
    part["inlineData"]["data"] = "A!!="
    with pytest.raises(ProviderProtocolError):
        decode_message({"serverContent": {"modelTurn": {"parts": [part]}}})
    with pytest.raises(ProviderProtocolError):
        parse_frame("[1, 2]")


def test_the_prebuilt_audio_message_is_the_audio_input() -> None:
    pcm16 = bytes(range(256)) * 2  # every byte value, so base64 uses all its characters
    message = orjson.loads(wire.audio_input_json(pcm16))
    assert message == wire.audio_input(pcm16)
    validate_client_message(message)
