"""OpenAI Realtime wire format (GA interface only): client events as plain dicts, JSON in and out.

Everything here is pure: the session decides *when* to send, this module only knows *what* the
GA protocol looks like (protocols.md §3). Tests validate every builder against the openai SDK's
``RealtimeClientEvent`` types, so a typo or a beta-era field fails a test instead of a call.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from kinds.audio import PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from providers.errors import ProviderConfigError, ProviderProtocolError
from providers.spec import AssistantSpec, SessionContext, ToolSpec

Event = dict[str, Any]

SUPPORTED_FORMATS = (PCM16_24K, PCMU_8K, PCMA_8K)
"""PCM16 24 kHz (the default), and G.711 µ-law and A-law at 8 kHz (``audio/pcmu``,
``audio/pcma``), so a call in either law passes to and from the API with no conversion."""
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-transcribe"


def audio_format(fmt: AudioFormat) -> Event:
    """The GA ``audio.*.format`` object; the API takes PCM only at 24 kHz."""
    if fmt == PCM16_24K:
        return {"type": "audio/pcm", "rate": 24_000}
    if fmt == PCMU_8K:
        return {"type": "audio/pcmu"}
    if fmt == PCMA_8K:
        return {"type": "audio/pcma"}
    raise ProviderConfigError(
        f"OpenAI Realtime does not take {fmt.encoding} at {fmt.sample_rate_hz} Hz",
        code="unsupported_audio_format",
    )


def bytes_per_ms(fmt: AudioFormat) -> int:
    """Bytes of mono audio per millisecond (PCM16 24 kHz: 48; G.711 8 kHz: 8)."""
    sample_bytes = 2 if fmt.encoding == "pcm16" else 1
    return fmt.sample_rate_hz * sample_bytes // 1000


def language(assistant: AssistantSpec, context: SessionContext) -> str:
    """The session's language code: the session's own when it overrides the default, else the
    assistant's (``SessionContext`` defaults to en-US, which must not mask the assistant's)."""
    default = SessionContext.__dataclass_fields__["language_code"].default
    return context.language_code if context.language_code != default else assistant.language_code


def instructions(assistant: AssistantSpec, context: SessionContext) -> str:
    """System instructions: the assistant's, the spoken language, then facts about the caller."""
    parts = [assistant.instructions.strip()] if assistant.instructions.strip() else []
    parts.append(f"Speak in the language {language(assistant, context)} unless asked otherwise.")
    if context.caller_context:
        parts.append(context.caller_context.strip())
    return "\n\n".join(parts)


def tool(spec: ToolSpec) -> Event:
    """A JSON-schema function tool in the GA shape."""
    return {
        "type": "function",
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
    }


def server_vad(assistant: AssistantSpec, context: SessionContext) -> bool:
    """OpenAI finds the caller's turns unless the session plan gave them to the gateway."""
    return (
        context.mode == "voice" and assistant.turn_detection.server_vad and not context.client_turns
    )


def _turn_detection(assistant: AssistantSpec, context: SessionContext) -> Event | None:
    """Server VAD settings, or ``None`` (JSON null) to turn it off.

    ``interrupt_response`` is false on purpose: the gateway decides barge-in (local VAD with
    hysteresis, or ``CallerSpeechStarted``) and calls ``interrupt(played_ms)``, which cancels and
    truncates at the played position; a server-side cancel would fire on every cough.
    """
    settings = assistant.turn_detection
    if not server_vad(assistant, context):
        return None
    return {
        "type": "server_vad",
        "threshold": settings.threshold,
        "prefix_padding_ms": settings.prefix_padding_ms,
        "silence_duration_ms": settings.silence_ms,
        "create_response": True,
        "interrupt_response": False,
    }


def server_interrupts(config: Event) -> bool:
    """Whether the server cancels the response in flight itself when its VAD hears the caller
    start: server VAD with ``interrupt_response`` (the API's default when it is left out)."""
    detection = ((config.get("audio") or {}).get("input") or {}).get("turn_detection")
    return isinstance(detection, dict) and bool(detection.get("interrupt_response", True))


def session_config(
    assistant: AssistantSpec,
    context: SessionContext,
    *,
    voice: str,
    input_audio: AudioFormat = PCM16_24K,
    output_audio: AudioFormat = PCM16_24K,
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL,
) -> Event:
    """The ``session`` object of ``session.update``. GA has no temperature, so it is not sent."""
    audio_input: Event = {
        "format": audio_format(input_audio),
        "turn_detection": _turn_detection(assistant, context),
    }
    if context.mode == "voice":
        lang = language(assistant, context).split("-")[0].lower()
        audio_input["transcription"] = {"model": transcription_model, "language": lang}
    config: Event = {
        "type": "realtime",
        "instructions": instructions(assistant, context),
        "output_modalities": ["text"] if context.mode == "chat" else ["audio"],
        "audio": {
            "input": audio_input,
            "output": {"format": audio_format(output_audio), "voice": voice},
        },
    }
    if assistant.tools:
        config["tools"] = [tool(spec) for spec in assistant.tools]
        config["tool_choice"] = "auto"
    return config


def session_update(config: Event) -> Event:
    return {"type": "session.update", "session": config}


def liveness_probe() -> Event:
    """An empty partial ``session.update``: changes nothing, but the server always answers it
    with ``session.updated``, which tells a quiet-but-alive server from a stalled one."""
    return session_update({"type": "realtime"})


def input_audio_append(audio: bytes) -> Event:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode("ascii")}


_APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL = b'"}'


def input_audio_append_json(audio: bytes) -> bytes:
    """``input_audio_append(audio)``, encoded: the hot path's message (many times a second per
    call) is built around the base64 payload, which never needs JSON escaping, with no dict and
    no JSON encoder."""
    return b"".join((_APPEND_HEAD, base64.b64encode(audio), _APPEND_TAIL))


def input_audio_commit() -> Event:
    """End the caller's turn by hand (server VAD off): the buffer becomes a user item."""
    return {"type": "input_audio_buffer.commit"}


def user_text_item(text: str) -> Event:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def system_note_item(text: str) -> Event:
    """Guidance the model reads but does not answer (a supervisor's whisper)."""
    return {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}


def assistant_text_item(text: str) -> Event:
    """A replayed assistant turn; the API cannot take assistant audio, so history is text."""
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def function_call_item(call_id: str, name: str, arguments_json: str) -> Event:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments_json}


def function_call_output_item(call_id: str, output_json: str) -> Event:
    return {"type": "function_call_output", "call_id": call_id, "output": output_json}


def item_create(item: Event) -> Event:
    return {"type": "conversation.item.create", "item": item}


def response_create(instructions_override: str | None = None) -> Event:
    if instructions_override is None:
        return {"type": "response.create"}
    return {"type": "response.create", "response": {"instructions": instructions_override}}


def greeting_response(greeting: str) -> Event:
    """Make the assistant speak first, saying the configured greeting word for word."""
    return response_create(
        "Greet the caller now by saying exactly the following, word for word, "
        f"and nothing else:\n{greeting}"
    )


def response_cancel() -> Event:
    return {"type": "response.cancel"}


def item_truncate(item_id: str, audio_end_ms: int) -> Event:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def encode(event: Event) -> bytes:
    """One client event as the UTF-8 JSON of a text frame (orjson: compact, no str round trip)."""
    return orjson.dumps(event)


def decode(raw: str | bytes) -> Event:
    """Parse one server message; it must be a JSON object with a string ``type``. orjson: an
    audio delta is mostly one long base64 string, which it scans several times faster."""
    try:
        event = orjson.loads(raw)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise ProviderProtocolError("server sent invalid JSON", code="bad_json") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProviderProtocolError("server event without a type", code="bad_event")
    return event


def decode_audio(delta: str) -> bytes:
    """Base64 audio from the server; strict, since b64decode silently skips junk otherwise."""
    try:
        return base64.b64decode(delta, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderProtocolError("server sent invalid base64 audio", code="bad_audio") from exc
