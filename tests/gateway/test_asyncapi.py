"""The AsyncAPI 3 document of the session WebSocket: its structure, its references, and real
messages from a live session validated against the payload schemas it publishes."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone, TranscriptDelta
from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import closed, receive_numbered

_EXT = {"^x-[\\w\\d\\.\\x2d_]+$": {}}
_REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A closed object, as the AsyncAPI 3.0 objects are (extensions ``x-`` allowed)."""
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "patternProperties": _EXT,
        "additionalProperties": False,
    }


# The parts of AsyncAPI 3.0.0 this document uses, with the spec's required fields and closed
# objects (written from the specification, not copied from its published schema).
ASYNCAPI_3_STRUCTURE = _object(
    ["asyncapi", "info"],
    {
        "asyncapi": {"const": "3.0.0"},
        "id": {"type": "string"},
        "info": _object(
            ["title", "version"],
            {"title": {"type": "string"}, "version": {"type": "string"},
             "description": {"type": "string"}},
        ),
        "servers": {
            "type": "object",
            "additionalProperties": _object(
                ["host", "protocol"],
                {"host": {"type": "string", "pattern": "^[^/]+$"}, "protocol": {"type": "string"},
                 "pathname": {"type": "string"}, "description": {"type": "string"}},
            ),
        },
        "defaultContentType": {"type": "string"},
        "channels": {
            "type": "object",
            "additionalProperties": _object(
                [],
                {
                    "address": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "messages": {"type": "object", "additionalProperties": _REF},
                    "parameters": {
                        "type": "object",
                        "additionalProperties": _object([], {"description": {"type": "string"}}),
                    },
                    "bindings": _object(
                        [],
                        {"ws": _object([], {"method": {"enum": ["GET", "POST"]},
                                            "query": {"type": "object"},
                                            "headers": {"type": "object"},
                                            "bindingVersion": {"const": "0.1.0"}})},
                    ),
                },
            ),
        },
        "operations": {
            "type": "object",
            "additionalProperties": _object(
                ["action", "channel"],
                {"action": {"enum": ["send", "receive"]}, "channel": _REF,
                 "messages": {"type": "array", "items": _REF}},
            ),
        },
        "components": _object(
            [],
            {
                "schemas": {"type": "object"},
                "messages": {
                    "type": "object",
                    "additionalProperties": _object(
                        ["payload"],
                        {"name": {"type": "string"}, "title": {"type": "string"},
                         "summary": {"type": "string"}, "contentType": {"type": "string"},
                         "payload": {"type": "object"}},
                    ),
                },
            },
        ),
    },
)  # fmt: skip


async def _document(gw: Gateway) -> dict[str, Any]:
    response = await gw.request("GET", "/api/v1/asyncapi.json", key=None)
    assert response.status == 200
    doc: dict[str, Any] = await response.json()
    return doc


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _all_refs(value)]
    return []


def _validator(doc: dict[str, Any], message: str) -> Draft202012Validator:
    """The payload schema of ``message``, resolving its refs inside the whole document."""
    registry: Registry = Registry().with_resource("urn:kura", DRAFT202012.create_resource(doc))
    payload = doc["components"]["messages"][message]["payload"]
    schema = {"$ref": f"urn:kura#/components/messages/{message}/payload"}
    Draft202012Validator.check_schema(payload)
    return Draft202012Validator(schema, registry=registry)


async def test_the_document_has_the_asyncapi_3_structure(gateway: Gateway) -> None:
    doc = await _document(gateway)
    errors = sorted(Draft202012Validator(ASYNCAPI_3_STRUCTURE).iter_errors(doc), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    for ref in _all_refs(doc):
        assert _resolve(doc, ref) is not None, ref
    channel = doc["channels"]["session"]
    assert channel["address"] == "/api/v1/sessions/{session_id}/connect"
    assert set(channel["parameters"]) == {"session_id"}
    assert set(channel["x-close-codes"]) >= {"1000", "1001", "1008", "1009", "1011"}
    actions = {op["messages"][0]["$ref"].rsplit("/", 1)[1]: op["action"]
               for op in doc["operations"].values()}  # fmt: skip
    assert actions == {
        "audioChunk": "receive", "textMessage": "receive", "interrupt": "receive",
        "stopSession": "receive", "sessionOpen": "send", "agentAudioChunk": "send",
        "transcriptionUpdate": "send", "turnStarted": "send", "turnComplete": "send",
        "sessionTimeout": "send", "sessionError": "send",
    }  # fmt: skip
    for name in doc["components"]["messages"]:
        _validator(doc, name)  # every payload is a valid JSON Schema
    host = gateway.url.removeprefix("http://").rstrip("/")
    assert doc["servers"]["gateway"] == {"host": host, "protocol": "ws"}


async def test_live_messages_match_the_published_schemas(gateway: Gateway) -> None:
    doc = await _document(gateway)
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, events=["turns"])
    ws = await gateway.http.ws_connect(created["websocket_url"])
    seen = [await receive_numbered(ws)]
    gateway.scripted.sessions[0].emit(
        CallerSpeechStarted(),
        TranscriptDelta("input", "Hi", final=True),
        AgentAudio(b"\x01\x00" * 480, "r1"),
        TranscriptDelta("output", "Hello", item_id="r1"),
        ResponseDone("r1"),
    )
    while seen[-1]["type"] != "turnComplete":
        seen.append(await receive_numbered(ws))
    await ws.send_str(json.dumps({"type": "nonsense"}))
    seen.append(await receive_numbered(ws))
    kinds = {message["type"] for message in seen}
    assert kinds >= {"sessionOpen", "turnStarted", "transcriptionUpdate", "agentAudioChunk",
                     "turnComplete", "sessionError"}  # fmt: skip
    for message in seen:
        errors = list(_validator(doc, message["type"]).iter_errors(message))
        assert not errors, (message, [e.message for e in errors])
    unnumbered = {k: v for k, v in seen[0].items() if k != "seq"}
    assert list(_validator(doc, "sessionOpen").iter_errors(unnumbered))  # seq is required
    client = [
        {"type": "audioChunk", "audio": "AAAA"},
        {"type": "textMessage", "text": "Hello"},
        {"type": "interrupt", "playedMs": 120},
        {"type": "stopSession"},
    ]
    for message in client:
        assert not list(_validator(doc, message["type"]).iter_errors(message)), message
    await ws.send_str(json.dumps(client[-1]))
    assert await closed(ws) == 1000
