"""Every client event the provider can build passes the openai SDK's own GA types."""

from __future__ import annotations

import pytest

from kinds.audio import PCM16_16K, PCM16_24K
from providers.errors import ProviderConfigError, ProviderProtocolError
from providers.openai_realtime import PCMA_8K, PCMU_8K, wire
from providers.spec import AssistantSpec, SessionContext, ToolSpec, TurnDetection
from tests.fakes.openai_realtime import validate_client_event

ASSISTANT = AssistantSpec(
    name="Acme",
    instructions="You answer the phone for Acme. Be brief.",
    provider="openai",
    voice="marin",
    language_code="fr-FR",
    greeting="Bonjour, Acme à l'appareil.",
    tools=(
        ToolSpec(
            "transfer_call",
            "Transfer to a human.",
            {"type": "object", "properties": {"reason": {"type": "string"}}},
        ),
    ),
    turn_detection=TurnDetection(server_vad=True, threshold=0.6, silence_ms=700),
    temperature=0.7,
)


def assert_valid(event: wire.Event) -> None:
    assert validate_client_event(wire.encode(event)) == []


def test_voice_session_update_is_ga_shaped_and_complete() -> None:
    config = wire.session_config(ASSISTANT, SessionContext("s1"), voice="marin")
    assert_valid(wire.session_update(config))
    audio_in = config["audio"]["input"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24_000}
    assert audio_in["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
        "create_response": True,
        "interrupt_response": False,
    }
    assert audio_in["transcription"]["language"] == "fr"
    assert config["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24_000},
        "voice": "marin",
    }
    assert config["output_modalities"] == ["audio"]
    assert config["tools"][0]["name"] == "transfer_call"
    assert "temperature" not in config  # GA has none
    assert config["instructions"].startswith("You answer the phone for Acme.")
    assert "fr-FR" in config["instructions"]


def test_chat_session_is_text_only_without_vad() -> None:
    context = SessionContext("s1", mode="chat", caller_context="Returning caller.")
    config = wire.session_config(ASSISTANT, context, voice="marin")
    assert_valid(wire.session_update(config))
    assert config["output_modalities"] == ["text"]
    assert config["audio"]["input"]["turn_detection"] is None
    assert "transcription" not in config["audio"]["input"]
    assert config["instructions"].endswith("Returning caller.")


def test_server_vad_off_sends_null_turn_detection() -> None:
    assistant = AssistantSpec(name="a", turn_detection=TurnDetection(server_vad=False))
    config = wire.session_config(assistant, SessionContext("s1"), voice="alloy")
    assert_valid(wire.session_update(config))
    assert config["audio"]["input"]["turn_detection"] is None


def test_mulaw_formats_can_be_chosen_per_session() -> None:
    config = wire.session_config(
        ASSISTANT, SessionContext("s1"), voice="alloy", input_audio=PCMU_8K, output_audio=PCMU_8K
    )
    assert_valid(wire.session_update(config))
    assert config["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert wire.bytes_per_ms(PCMU_8K) == 8
    assert wire.bytes_per_ms(PCM16_24K) == 48
    with pytest.raises(ProviderConfigError):
        wire.audio_format(PCM16_16K)


def test_alaw_formats_can_be_chosen_per_session() -> None:
    """The GA API takes ``audio/pcma``: an A-law call passes through with no conversion."""
    config = wire.session_config(
        ASSISTANT, SessionContext("s1"), voice="alloy", input_audio=PCMA_8K, output_audio=PCMA_8K
    )
    assert_valid(wire.session_update(config))
    assert config["audio"]["input"]["format"] == {"type": "audio/pcma"}
    assert config["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert wire.bytes_per_ms(PCMA_8K) == 8


@pytest.mark.parametrize(
    "event",
    [
        wire.input_audio_append(b"\x00\x01" * 480),
        wire.item_create(wire.user_text_item("The caller pressed 5.")),
        wire.item_create(wire.assistant_text_item("Hello, how can I help?")),
        wire.item_create(wire.function_call_item("call_1", "transfer_call", '{"reason":"x"}')),
        wire.item_create(wire.function_call_output_item("call_1", '{"ok":true}')),
        wire.response_create(),
        wire.greeting_response("Hello!"),
        wire.response_cancel(),
        wire.item_truncate("item_1", 1400),
        wire.liveness_probe(),
    ],
    ids=lambda event: str(event["type"]),
)
def test_client_events_pass_the_sdk_types(event: wire.Event) -> None:
    assert_valid(event)


def test_decode_rejects_junk() -> None:
    with pytest.raises(ProviderProtocolError):
        wire.decode("not json")
    with pytest.raises(ProviderProtocolError):
        wire.decode('{"no": "type"}')
    with pytest.raises(ProviderProtocolError):
        wire.decode_audio("!!not base64!!")


def test_the_prebuilt_append_is_the_append_event() -> None:
    audio = bytes(range(256)) * 2  # every byte value, so base64 uses all its characters
    raw = wire.input_audio_append_json(audio)
    assert validate_client_event(raw.decode()) == []
    assert wire.decode(raw) == wire.input_audio_append(audio)


def test_server_interrupts_follows_interrupt_response_and_its_default() -> None:
    config = wire.session_config(ASSISTANT, SessionContext("s1"), voice="marin")
    assert not wire.server_interrupts(config)  # the gateway decides barge-in
    config["audio"]["input"]["turn_detection"].pop("interrupt_response")
    assert wire.server_interrupts(config)  # the API's default
    config["audio"]["input"]["turn_detection"] = None
    assert not wire.server_interrupts(config)
