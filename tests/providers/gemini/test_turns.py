"""A voice turn and a chat turn end to end against the fake Gemini Live server."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from providers.gemini_live import DEFAULT_MODEL, GeminiLiveSession
from providers.spec import ToolSpec, TurnDetection
from tests.fakes.gemini_live import FakeGeminiLive, body
from tests.providers.gemini.conftest import API_KEY, Events

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]

LOUD_20MS_16K = (8_000).to_bytes(2, "little", signed=True) * 320


async def test_setup_carries_the_assistant_and_the_key_only_in_a_header(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    tool = ToolSpec(
        "transfer_call",
        "Transfer to a human.",
        {
            "type": "object",
            "properties": {"reason": {"type": ["string", "null"], "enum": ["sales", "support"]}},
            "required": ["reason"],
            "additionalProperties": False,
        },
    )
    await open_session(
        instructions="Be brief.",
        voice="Puck",
        language_code="de-DE",
        temperature=0.4,
        tools=(tool,),
        turn_detection=TurnDetection(threshold=0.7, silence_ms=800, prefix_padding_ms=100),
    )
    conn = fake.connections[0]
    assert conn.headers["x-goog-api-key"] == API_KEY
    assert API_KEY not in str(conn.query) and not conn.query
    setup = conn.setup
    assert setup is not None
    assert setup["model"] == DEFAULT_MODEL
    generation = setup["generationConfig"]
    assert generation["responseModalities"] == ["AUDIO"]
    assert generation["temperature"] == 0.4
    assert generation["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}},
        "languageCode": "de-DE",
    }
    assert setup["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    declaration = setup["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"] == {
        "type": "OBJECT",
        "required": ["reason"],
        "properties": {
            "reason": {"type": "STRING", "nullable": True, "enum": ["sales", "support"]}
        },
    }
    detection = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert detection == {
        "disabled": False,
        "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
        "prefixPaddingMs": 100,
        "silenceDurationMs": 800,
    }
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert setup["sessionResumption"] == {}


async def test_voice_turn_streams_audio_and_transcripts_and_ends_the_item(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    conn = fake.connections[0]

    await session.send_audio(LOUD_20MS_16K)
    sent = body(await conn.receive("realtimeInput"))["audio"]
    assert sent["mimeType"] == "audio/pcm;rate=16000"
    assert base64.b64decode(sent["data"]) == LOUD_20MS_16K

    await conn.send_content(inputTranscription={"text": "I need "})
    await conn.send_content(inputTranscription={"text": "sales", "finished": True})
    await conn.send_audio(b"\x01\x00" * 480)
    await conn.send_content(outputTranscription={"text": "Sure, one "})
    await conn.send_audio(b"\x02\x00" * 480)
    await conn.send_content(outputTranscription={"text": "moment."})
    await conn.send_content(generationComplete=True)
    await conn.send_content(turnComplete=True)

    got = await events.until("response_done")
    heard = [e for e in got if isinstance(e, TranscriptDelta) and e.source == "input"]
    assert [(e.text, e.final) for e in heard] == [("I need ", False), ("sales", True)]
    audio = [e for e in got if isinstance(e, AgentAudio)]
    assert [a.audio for a in audio] == [b"\x01\x00" * 480, b"\x02\x00" * 480]
    item_id = audio[0].item_id
    said = [e for e in got if isinstance(e, TranscriptDelta) and e.source == "output"]
    assert "".join(e.text for e in said) == "Sure, one moment."
    assert {e.item_id for e in said} == {item_id} == {a.item_id for a in audio}
    assert got[-1] == ResponseDone(item_id)

    # The next turn is a new item.
    await conn.send_audio(b"\x03\x00" * 480, binary_frame=True)
    await conn.send_content(turnComplete=True)
    second = await events.until("response_done")
    assert isinstance(second[0], AgentAudio) and second[0].item_id != item_id


async def test_greeting_is_asked_for_first(fake: FakeGeminiLive, open_session: OpenSession) -> None:
    await open_session(greeting="Hello, this is Acme. How can I help?")
    conn = fake.connections[0]
    content = body(await conn.receive("clientContent"))
    assert content["turnComplete"] is True
    assert "Hello, this is Acme. How can I help?" in content["turns"][0]["parts"][0]["text"]


async def test_chat_turn_is_text_only(fake: FakeGeminiLive, open_session: OpenSession) -> None:
    session = await open_session(mode="chat")
    events = Events(session)
    conn = fake.connections[0]
    setup = conn.setup
    assert setup is not None
    assert setup["generationConfig"]["responseModalities"] == ["TEXT"]
    assert "speechConfig" not in setup["generationConfig"]
    assert "realtimeInputConfig" not in setup

    await session.send_text("What are your hours?")
    content = body(await conn.receive("clientContent"))
    assert content == {
        "turns": [{"role": "user", "parts": [{"text": "What are your hours?"}]}],
        "turnComplete": True,
    }
    parts = [{"text": "thinking...", "thought": True}, {"text": "Nine "}]
    await conn.send_content(modelTurn={"parts": parts})
    await conn.send_content(modelTurn={"parts": [{"text": "to five."}]})
    await conn.send_content(turnComplete=True)
    got = await events.until("response_done")
    texts = [e for e in got if isinstance(e, TranscriptDelta)]
    assert [(e.source, e.text) for e in texts] == [("output", "Nine "), ("output", "to five.")]
    assert got[-1] == ResponseDone(texts[0].item_id)


async def test_unknown_and_malformed_server_messages_are_skipped(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    conn = fake.connections[0]
    await conn.ws.send_str("not json")
    await conn.send({"voiceActivity": {"type": "ACTIVITY_START"}, "usageMetadata": {}})
    await conn.send_content(outputTranscription={"text": "ok"}, futureField={"x": 1})
    event = await events.next()
    assert isinstance(event, TranscriptDelta) and event.text == "ok"


async def test_without_server_vad_we_send_activity_start_and_end(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session(turn_detection=TurnDetection(server_vad=False, silence_ms=40))
    assert session.capabilities.server_vad is False
    conn = fake.connections[0]
    setup = conn.setup
    assert setup is not None
    assert setup["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}

    quiet_20ms = b"\x00\x00" * 320
    for chunk in (quiet_20ms, LOUD_20MS_16K, LOUD_20MS_16K, quiet_20ms, quiet_20ms, quiet_20ms):
        await session.send_audio(chunk)
    await session.send_text("marker")
    await conn.receive("clientContent")
    signals = []
    for message in conn.of_kind("realtimeInput"):
        (key,) = body(message)
        signals.append(key)
    assert signals == [
        "audio",
        "activityStart",
        "audio",
        "audio",
        "audio",
        "audio",
        "activityEnd",
        "audio",
    ]
