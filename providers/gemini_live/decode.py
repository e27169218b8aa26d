"""Server messages of Gemini Live, decoded into small typed notes the session acts on.

The server sends JSON in text *or* binary frames, camelCase, with one or more top-level keys
(protocols.md §4.4). Unknown keys are ignored: Google adds fields over time. A malformed
message raises ``ProviderProtocolError`` so the caller can count and skip it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from providers.errors import ProviderProtocolError

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SetupComplete:
    """The server accepted ``setup``; realtime input may flow."""


@dataclass(frozen=True, slots=True)
class ModelAudio:
    """PCM16 24 kHz audio of the model's current turn."""

    pcm16: bytes


@dataclass(frozen=True, slots=True)
class ModelText:
    """A text part of the model's turn (the reply itself in TEXT mode)."""

    text: str


@dataclass(frozen=True, slots=True)
class InputTranscription:
    """A delta of the caller's speech as text."""

    text: str
    finished: bool


@dataclass(frozen=True, slots=True)
class OutputTranscription:
    """A delta of the model's speech as text."""

    text: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The caller spoke over the model; the current turn's audio is stale."""


@dataclass(frozen=True, slots=True)
class ServerTurnComplete:
    """The model's turn ended (after ``generationComplete``, or after ``interrupted``)."""


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """The model asks for a function."""

    call_id: str
    name: str
    args: JsonObject


@dataclass(frozen=True, slots=True)
class ToolCallCancellation:
    """Earlier function calls the model no longer wants answered."""

    call_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GoAway:
    """The server will close this connection in ``time_left_s``."""

    time_left_s: float


@dataclass(frozen=True, slots=True)
class ResumptionUpdate:
    """A session-resumption handle; only ``resumable`` ones may be used to resume."""

    handle: str
    resumable: bool


ServerNote = (
    SetupComplete
    | ModelAudio
    | ModelText
    | InputTranscription
    | OutputTranscription
    | Interrupted
    | ServerTurnComplete
    | FunctionCall
    | ToolCallCancellation
    | GoAway
    | ResumptionUpdate
)


def parse_frame(data: str | bytes) -> JsonObject:
    """A text or binary WebSocket frame as a JSON object. orjson: an audio message is mostly
    one long base64 string, which it scans several times faster than ``json``."""
    try:
        message = orjson.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise ProviderProtocolError(
            "Gemini sent a frame that is not JSON", code="bad_json"
        ) from exc
    if not isinstance(message, dict):
        raise ProviderProtocolError("Gemini sent a non-object message", code="bad_message")
    return message


def decode_message(message: JsonObject) -> list[ServerNote]:
    """Every note in one server message, in the order the session must apply them."""
    notes: list[ServerNote] = []
    for key, value in message.items():
        decoder = _DECODERS.get(key)
        if decoder is not None and isinstance(value, dict):
            notes.extend(decoder(value))
    return notes


def _setup_complete(_: JsonObject) -> list[ServerNote]:
    return [SetupComplete()]


def _server_content(content: JsonObject) -> list[ServerNote]:
    # Order matters within one message: what the caller said, then a barge-in, then the
    # model's output, and the end of the turn last.
    notes: list[ServerNote] = []
    heard = content.get("inputTranscription")
    if isinstance(heard, dict) and heard.get("text"):
        notes.append(InputTranscription(str(heard["text"]), bool(heard.get("finished", False))))
    if content.get("interrupted"):
        notes.append(Interrupted())
    turn = content.get("modelTurn")
    if isinstance(turn, dict):
        notes.extend(_model_parts(turn.get("parts")))
    said = content.get("outputTranscription")
    if isinstance(said, dict) and said.get("text"):
        notes.append(OutputTranscription(str(said["text"])))
    if content.get("turnComplete"):
        notes.append(ServerTurnComplete())
    return notes


def _model_parts(parts: object) -> list[ServerNote]:
    notes: list[ServerNote] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict) or part.get("thought"):
            continue  # thinking is not said to the caller
        blob = part.get("inlineData")
        if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("audio/pcm"):
            notes.append(ModelAudio(_base64(blob.get("data"))))
        elif isinstance(part.get("text"), str) and part["text"]:
            notes.append(ModelText(part["text"]))
    return notes


def _tool_call(call: JsonObject) -> list[ServerNote]:
    notes: list[ServerNote] = []
    for fc in call.get("functionCalls") or []:
        if not isinstance(fc, dict) or not isinstance(fc.get("name"), str):
            raise ProviderProtocolError("Gemini sent a malformed function call", code="bad_message")
        args = fc.get("args")
        notes.append(
            FunctionCall(str(fc.get("id", "")), fc["name"], args if isinstance(args, dict) else {})
        )
    return notes


def _tool_call_cancellation(cancel: JsonObject) -> list[ServerNote]:
    ids = cancel.get("ids") or []
    return [ToolCallCancellation(tuple(str(i) for i in ids if isinstance(i, str)))]


def _go_away(go_away: JsonObject) -> list[ServerNote]:
    return [GoAway(parse_duration_s(go_away.get("timeLeft")))]


def _resumption_update(update: JsonObject) -> list[ServerNote]:
    handle = update.get("newHandle")
    if not isinstance(handle, str) or not handle:
        return []
    return [ResumptionUpdate(handle, bool(update.get("resumable", False)))]


def parse_duration_s(value: object) -> float:
    """A proto JSON Duration (``"50s"``, ``"1.5s"``) in seconds; 0 when unreadable."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return max(0.0, float(value[:-1]))
        except ValueError:
            return 0.0
    return 0.0


def _base64(data: object) -> bytes:
    if not isinstance(data, str):
        raise ProviderProtocolError("Gemini sent audio without data", code="bad_message")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderProtocolError("Gemini sent bad base64 audio", code="bad_message") from exc


_DECODERS: dict[str, Callable[[JsonObject], list[ServerNote]]] = {
    "setupComplete": _setup_complete,
    "serverContent": _server_content,
    "toolCall": _tool_call,
    "toolCallCancellation": _tool_call_cancellation,
    "goAway": _go_away,
    "sessionResumptionUpdate": _resumption_update,
}
