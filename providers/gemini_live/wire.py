"""Client messages of Gemini Live's BidiGenerateContent protocol, built as camelCase dicts.

Pure functions, no I/O: the session decides *when* to send, this module decides *what* the
wire says (protocols.md §4.2 to 4.3). Every message has exactly one top-level key.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable
from typing import Any

from providers.spec import AssistantSpec, HistoryItem, SessionContext, ToolSpec, TurnDetection

JsonObject = dict[str, Any]

INPUT_SAMPLE_RATE_HZ = 16_000
"""Gemini's native input rate; the gateway resamples to it once, in a stream."""

# JSON-schema keywords Gemini's Schema understands, mapped to their proto JSON names. Others
# (``additionalProperties``, ``$schema`` ...) are dropped: the server rejects unknown fields.
_SCHEMA_KEYWORDS = {
    "description": "description",
    "enum": "enum",
    "format": "format",
    "required": "required",
    "title": "title",
    "default": "default",
    "nullable": "nullable",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "minItems",
    "maxItems": "maxItems",
    "minLength": "minLength",
    "maxLength": "maxLength",
    "pattern": "pattern",
}


def model_name(model: str) -> str:
    """Gemini wants ``models/<id>``; assistants may store the bare id."""
    return model if model.startswith("models/") else f"models/{model}"


def build_setup(
    assistant: AssistantSpec,
    context: SessionContext,
    *,
    model: str,
    voice: str,
    resume_handle: str | None,
) -> JsonObject:
    """The first message of every connection; ``resume_handle`` resumes an earlier session."""
    voice_mode = context.mode == "voice"
    generation: JsonObject = {"responseModalities": ["AUDIO" if voice_mode else "TEXT"]}
    if voice_mode:
        generation["speechConfig"] = {
            "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}},
            "languageCode": assistant.language_code,
        }
    if assistant.temperature is not None:
        generation["temperature"] = assistant.temperature
    setup: JsonObject = {"model": model_name(model), "generationConfig": generation}
    instructions = system_instructions(assistant, context)
    if instructions:
        setup["systemInstruction"] = {"parts": [{"text": instructions}]}
    if assistant.tools:
        setup["tools"] = [
            {"functionDeclarations": [function_declaration(t) for t in assistant.tools]}
        ]
    if voice_mode:
        turns = assistant.turn_detection
        if context.client_turns:  # the session plan gave the caller's turns to the gateway
            turns = dataclasses.replace(turns, server_vad=False)
        setup["realtimeInputConfig"] = realtime_input_config(turns)
        setup["inputAudioTranscription"] = {}
        setup["outputAudioTranscription"] = {}
    # An empty config asks for resumption handles; a handle resumes that session.
    setup["sessionResumption"] = {"handle": resume_handle} if resume_handle else {}
    # A sliding window lifts the ~15 minute audio-session limit (protocols.md §4.5).
    setup["contextWindowCompression"] = {"slidingWindow": {}}
    return {"setup": setup}


def system_instructions(assistant: AssistantSpec, context: SessionContext) -> str:
    """The assistant's instructions plus what the gateway knows about the caller."""
    parts = [assistant.instructions.strip(), (context.caller_context or "").strip()]
    return "\n\n".join(part for part in parts if part)


def realtime_input_config(turns: TurnDetection) -> JsonObject:
    """Server VAD settings, or manual activity signals when the assistant turns server VAD off."""
    if not turns.server_vad:
        return {"automaticActivityDetection": {"disabled": True}}
    # Gemini has two sensitivity levels where OpenAI has a 0..1 threshold: a low threshold
    # means "start easily", i.e. HIGH start-of-speech sensitivity.
    sensitivity = "START_SENSITIVITY_HIGH" if turns.threshold <= 0.5 else "START_SENSITIVITY_LOW"
    return {
        "automaticActivityDetection": {
            "disabled": False,
            "startOfSpeechSensitivity": sensitivity,
            "prefixPaddingMs": turns.prefix_padding_ms,
            "silenceDurationMs": turns.silence_ms,
        },
        "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
    }


def function_declaration(tool: ToolSpec) -> JsonObject:
    """A tool as a Gemini function declaration (JSON schema → Gemini's OpenAPI-style Schema)."""
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": gemini_schema(tool.parameters),
    }


def gemini_schema(schema: dict[str, Any]) -> JsonObject:
    """Convert a JSON-schema object to Gemini's Schema: upper-case types, known keywords only."""
    out: JsonObject = {key: schema[src] for src, key in _SCHEMA_KEYWORDS.items() if src in schema}
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"] is how JSON schema says "nullable"
        if "null" in kind:
            out["nullable"] = True
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        out["type"] = kind.upper()
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: gemini_schema(sub) for name, sub in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = gemini_schema(schema["items"])
    if isinstance(schema.get("anyOf"), list):
        out["anyOf"] = [gemini_schema(sub) for sub in schema["anyOf"]]
    return out


def audio_input(pcm16: bytes) -> JsonObject:
    """Caller audio: PCM16 little-endian at 16 kHz, base64 only here at the wire."""
    return {
        "realtimeInput": {
            "audio": {
                "mimeType": f"audio/pcm;rate={INPUT_SAMPLE_RATE_HZ}",
                "data": base64.b64encode(pcm16).decode("ascii"),
            }
        }
    }


_AUDIO_HEAD = (
    b'{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=%d","data":"' % INPUT_SAMPLE_RATE_HZ
)
_AUDIO_TAIL = b'"}}}'


def audio_input_json(pcm16: bytes) -> bytes:
    """``audio_input(pcm16)``, encoded: the hot path's message (many times a second per call)
    is built around the base64 payload, which never needs JSON escaping, with no dicts and no
    JSON encoder."""
    return b"".join((_AUDIO_HEAD, base64.b64encode(pcm16), _AUDIO_TAIL))


def activity_start() -> JsonObject:
    """The caller started speaking (only with automatic activity detection disabled)."""
    return {"realtimeInput": {"activityStart": {}}}


def activity_end() -> JsonObject:
    """The caller stopped speaking (only with automatic activity detection disabled)."""
    return {"realtimeInput": {"activityEnd": {}}}


def user_text(text: str) -> JsonObject:
    """A user text turn; the model answers it (``turnComplete`` true)."""
    return {"clientContent": {"turns": [_content("user", text)], "turnComplete": True}}


def note(text: str) -> JsonObject:
    """Guidance in the context with ``turnComplete`` false: the model does not answer it now."""
    guidance = f"[Guidance from a human supervisor; do not read it aloud] {text}"
    return {"clientContent": {"turns": [_content("user", guidance)], "turnComplete": False}}


def greeting_request(greeting: str) -> JsonObject:
    """Ask the model to open the conversation with the assistant's greeting, verbatim."""
    prompt = (
        "Begin the conversation now by saying exactly the following greeting, "
        f"word for word, and nothing else:\n{greeting}"
    )
    return user_text(prompt)


def reply_request() -> JsonObject:
    """Ask for the model's turn now, adding nothing (after a reconnect that lost the reply)."""
    return {"clientContent": {"turnComplete": True}}


def history_seed(history: Iterable[HistoryItem]) -> JsonObject | None:
    """The conversation so far, for a fresh session; ``turnComplete`` false, so no reply."""
    turns = [
        _content("user" if item.role == "user" else "model", item.text)
        for item in history
        if item.text.strip()
    ]
    if not turns:
        return None
    return {"clientContent": {"turns": turns, "turnComplete": False}}


def tool_response(call_id: str, name: str, result: dict[str, Any]) -> JsonObject:
    """The answer to a function call, matched by ``id``."""
    response = {"id": call_id, "name": name, "response": result}
    return {"toolResponse": {"functionResponses": [response]}}


def _content(role: str, text: str) -> JsonObject:
    return {"role": role, "parts": [{"text": text}]}
