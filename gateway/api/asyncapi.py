"""AsyncAPI 3.0 document of the session WebSocket, built from the protocol's pydantic models.

Served at ``/api/v1/asyncapi.json`` beside the OpenAPI document; docs/protocol.md is the prose
version. Operations are written from the gateway's side, as AsyncAPI asks: the gateway
*receives* the client's messages and *sends* its own. Payload schemas come from the same models
that parse and encode the wire, so the document cannot drift from the server; ``seq`` is added
to every server message here because the socket stamps it (``gateway.api.sequence``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.route_table import VERSION
from gateway.api.session_socket import CLOSE_CODES, RESUME_RACE_CLOSE
from gateway.sessions.protocol import (
    AgentAudioChunk,
    AudioChunk,
    InterruptMessage,
    SessionError,
    SessionOpen,
    SessionTimeout,
    StopSession,
    TextMessage,
    TranscriptionUpdate,
    TurnComplete,
    TurnStarted,
)

REF = "#/components/schemas/{model}"
CHANNEL = "session"
CLIENT_MESSAGES: dict[str, tuple[type[BaseModel], str]] = {
    "audioChunk": (AudioChunk, "Caller audio: base64, the session's format (voice)"),
    "textMessage": (TextMessage, "A user text turn (chat; also accepted in voice mode)"),
    "interrupt": (InterruptMessage, "Stop the agent's speech; playedMs: how much was played"),
    "stopSession": (StopSession, "End the session (closes with 1000)"),
}
SERVER_MESSAGES: dict[str, tuple[type[BaseModel], str]] = {
    "sessionOpen": (
        SessionOpen,
        "The session is ready (seq 1), with a resumeToken; a resumed connection's first "
        "message is a sessionOpen without seq, with resumed and lastSeq",
    ),
    "agentAudioChunk": (AgentAudioChunk, "Agent speech: base64, the session's format (voice)"),
    "transcriptionUpdate": (
        TranscriptionUpdate,
        "A transcript delta of the caller (input) or the agent (output); final on input",
    ),
    "turnStarted": (TurnStarted, "Opt-in (?events=turns): a turn's input or answer began"),
    "turnComplete": (TurnComplete, "A turn finished: its text, id, reply latency and duration"),
    "sessionTimeout": (SessionTimeout, "The session was idle too long; it closes"),
    "sessionError": (SessionError, "Bad input (the session goes on) or a provider failure"),
}
WIRE_OPTIONAL = frozenset({"final"})
"""Server fields left out of a message when they do not apply (input transcripts only)."""
SESSION_OPEN_EXTRAS: dict[str, Any] = {
    "resumeToken": {
        "type": "string",
        "description": "Secret for ?resume= after a drop; a new one with each sessionOpen",
    },
    "resumed": {"type": "boolean", "description": "Only on a resumed connection: true"},
    "lastSeq": {
        "type": "integer",
        "minimum": 0,
        "description": "Only on a resumed connection: the session's latest seq so far",
    },
}
CLOSE_CODE_MEANINGS = {
    1000: "Normal end: stopSession, DELETE, idle or turn/duration limits, assistant deleted",
    1001: "The gateway is shutting down",
    1008: "Slow client: it stopped reading its messages",
    1009: "A client frame larger than the limit",
    1011: "The AI provider failed",
    RESUME_RACE_CLOSE: "A resume lost a race after the upgrade (another socket resumed first, "
    "or the messages to replay were dropped meanwhile)",
}


def _payload(model: type[BaseModel], schemas: dict[str, Any], *, server: bool) -> dict[str, Any]:
    schema = model.model_json_schema(
        ref_template=REF, by_alias=True, mode="serialization" if server else "validation"
    )
    schemas.update(schema.pop("$defs", {}))
    if server:
        properties = {"seq": {"type": "integer", "minimum": 1, "title": "Seq"}}
        properties.update(schema["properties"])
        schema["properties"] = properties
        schema["required"] = [name for name in properties if name not in WIRE_OPTIONAL]
        if model is SessionOpen:  # a resumed connection's sessionOpen has no seq
            properties.update(SESSION_OPEN_EXTRAS)
            schema["required"] = [n for n in schema["required"] if n in model.model_fields]
            schema["anyOf"] = [{"required": ["seq"]}, {"required": ["resumed"]}]
    return schema


def _messages(schemas: dict[str, Any]) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for server, table in ((False, CLIENT_MESSAGES), (True, SERVER_MESSAGES)):
        for name, (model, summary) in table.items():
            messages[name] = {
                "name": name,
                "title": name,
                "summary": summary,
                "contentType": "application/json",
                "payload": _payload(model, schemas, server=server),
            }
    return messages


def _operation(action: str, name: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"}],
    }


CONNECT_QUERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "description": "The session token from websocket_url, or a key with sessions:connect",
        },
        "events": {"type": "string", "description": 'Opt-in events, comma-separated: "turns"'},
        "encoding": {
            "type": "string",
            "enum": ["pcm16", "mulaw", "alaw"],
            "description": "The session's audio format, fixed at its first connect (voice "
            "only; default pcm16, or the format chosen at creation); mono, PCM16 "
            "little-endian",
        },
        "sample_rate": {
            "type": "integer",
            "enum": [8000, 16000, 24000],
            "description": "Hz; default 8000 for mulaw and alaw, 24000 for pcm16",
        },
        "resume": {
            "type": "string",
            "description": "Instead of api_key after a drop: the latest resumeToken",
        },
        "lastSeq": {
            "type": "integer",
            "minimum": 0,
            "description": "With resume: the seq of the last message received",
        },
        "replayAudio": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "With resume: false skips the agent audio missed (default true)",
        },
    },
}
"""The connect URL's query parameters (docs/protocol.md §2)."""


def _channel() -> dict[str, Any]:
    names = [*CLIENT_MESSAGES, *SERVER_MESSAGES]
    return {
        "address": "/api/v1/sessions/{session_id}/connect",
        "title": "Session WebSocket",
        "description": "One connection per session; JSON text frames only. See docs/protocol.md.",
        "parameters": {"session_id": {"description": "The session_id from POST /api/v1/sessions"}},
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        "bindings": {"ws": {"method": "GET", "query": CONNECT_QUERY, "bindingVersion": "0.1.0"}},
        "x-close-codes": {
            str(code): CLOSE_CODE_MEANINGS[code]
            for code in sorted(
                {1000, 1009, RESUME_RACE_CLOSE, *(int(c) for c in CLOSE_CODES.values())}
            )
        },
    }


def build_asyncapi(public_ws_url: str) -> dict[str, Any]:
    """The document; the server is where apps reach this gateway (``ws://`` or ``wss://``)."""
    secure = public_ws_url.startswith("wss://")
    host = public_ws_url.split("://", 1)[-1].rstrip("/")
    schemas: dict[str, Any] = {}
    messages = _messages(schemas)
    operations = {
        f"receive{n[0].upper()}{n[1:]}": _operation("receive", n) for n in CLIENT_MESSAGES
    }
    operations |= {f"send{n[0].upper()}{n[1:]}": _operation("send", n) for n in SERVER_MESSAGES}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kura session WebSocket",
            "version": VERSION,
            "description": "The Kura session protocol with its additive extensions: seq on "
            "every server message, turn ids and latency, opt-in turnStarted.",
        },
        "servers": {"gateway": {"host": host, "protocol": "wss" if secure else "ws"}},
        "defaultContentType": "application/json",
        "channels": {CHANNEL: _channel()},
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
