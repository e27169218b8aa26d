"""``GET /api/v1/openapi.json``: a valid OpenAPI 3.1 document that covers every REST route the
app registers, and that real responses from a running gateway satisfy (bodies and headers).
Also every guarded route refuses a missing key (401) and a key without its permission (403)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from gateway.api.permissions import ALL_PERMISSIONS
from tests.gateway.conftest import ADMIN_KEY, Gateway
from tests.gateway.ws_helpers import closed, connect, receive, receive_until

DOCUMENT_PATH = "/api/v1/openapi.json"
ASYNCAPI_PATH = "/api/v1/asyncapi.json"  # the WebSocket's document (tests/gateway/test_asyncapi.py)
CONNECT_PATH = "/api/v1/sessions/{session_id}/connect"
MONITOR_PATH = "/api/v1/sessions/{session_id}/monitor/connect"
BASE_URI = "urn:kura:openapi"
PUBLIC_PATHS = {"/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready"}


async def fetch_document(gw: Gateway) -> dict[str, Any]:
    response = await gw.request("GET", DOCUMENT_PATH, key=None)
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """Checks responses against what the document says of one operation and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # The whole document is one JSON Schema resource, so "#/components/schemas/..." resolves.
        self._registry: Registry[Any] = Registry().with_resource(
            BASE_URI, DRAFT202012.create_resource(document)
        )
        self.checked: set[tuple[str, str, str]] = set()

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": BASE_URI + pointer},
            registry=self._registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    async def check(
        self, response: aiohttp.ClientResponse, method: str, path: str, status: int
    ) -> Any:
        """Assert the status, that the document lists it for this operation, and that the body
        and every documented header conform; return the parsed body."""
        assert response.status == status, await response.text()
        operation = self.document["paths"][path][method.lower()]
        documented = operation["responses"]
        assert str(status) in documented, f"{method} {path} answers {status}, undocumented"
        spec = documented[str(status)]
        for name, header in spec.get("headers", {}).items():
            assert name in response.headers, f"{method} {path} {status} lacks {name}"
            assert header["schema"] == {"type": "integer"}
            assert response.headers[name].isdigit(), (name, response.headers[name])
        self.checked.add((method.upper(), path, str(status)))
        if "content" not in spec:
            assert await response.read() == b""
            return None
        assert response.content_type == "application/json"
        body = await response.json()
        pointer = _pointer(
            "paths", path, method.lower(), "responses", str(status), "content",
            "application/json", "schema",
        )  # fmt: skip
        errors = [e.message for e in self.validator(pointer).iter_errors(body)]
        assert not errors, f"{method} {path} {status}: {errors}\n{json.dumps(body)[:2000]}"
        return body


@pytest.fixture
async def contract(gateway: Gateway) -> Contract:
    return Contract(await fetch_document(gateway))


def test_date_time_formats_are_really_checked() -> None:
    """jsonschema checks "date-time" only when rfc3339-validator is installed; make sure it is,
    or the response checks below would accept any string as a timestamp."""
    checker = Draft202012Validator.FORMAT_CHECKER
    assert "date-time" in checker.checkers
    assert not checker.conforms("yesterday", "date-time")
    assert checker.conforms("2026-01-26T12:05:00Z", "date-time")


async def test_the_contract_check_rejects_what_the_document_does_not_allow(
    gateway: Gateway, contract: Contract
) -> None:
    """The checks below are only as good as the schema resolution: prove it is not lenient."""
    view = await gateway.create_session()
    response = await gateway.request("GET", f"/api/v1/sessions/{view['session_id']}")
    body = await response.json()
    pointer = _pointer(
        "paths", "/api/v1/sessions/{session_id}", "get", "responses", "200", "content",
        "application/json", "schema",
    )  # fmt: skip
    validator = contract.validator(pointer)
    assert validator.is_valid(body)
    for broken in (
        {**body, "status": "paused"},
        {**body, "expires_at": "soon"},
        {**body, "assistant": {"id": "1", "name": "x"}},
        {k: v for k, v in body.items() if k != "total_turns"},
    ):
        assert not validator.is_valid(broken), broken


async def test_the_document_is_valid_openapi_3_1(gateway: Gateway) -> None:
    document = await fetch_document(gateway)
    assert document["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(document).validate()


def _registered(gw: Gateway) -> Iterator[tuple[str, str, Any]]:
    """(method, path, handler) of every REST route, skipping implicit HEADs, the WebSocket
    route, the documents themselves, the carrier webhooks (signed by the carrier, not keyed, and
    not part of the public API) and the browser's static files (widget and console)."""
    for route in gw.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or path in {CONNECT_PATH, DOCUMENT_PATH, ASYNCAPI_PATH}:
            continue
        if route.method == "GET" and path == MONITOR_PATH:
            continue  # the supervisor's WebSocket; its POST is in the document
        if (
            path.startswith(("/telephony/", "/admin", "/embed/", "/internal/"))
            or path == "/metrics"
        ):
            # carrier webhooks, the web console and widget assets, the nodes' own door (signed
            # with the node secret: tests/gateway/multinode/test_resume_nodes.py) and the
            # Prometheus scrape are not the public REST API
            continue
        yield route.method, path, route.handler


async def test_every_registered_route_is_documented_with_its_method(gateway: Gateway) -> None:
    document = await fetch_document(gateway)
    registered = {(method, path) for method, path, _ in _registered(gateway)}
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert registered == documented
    for method, path, handler in _registered(gateway):
        operation = document["paths"][path][method.lower()]
        permissions = list(getattr(handler, "kura_permissions", ()))
        assert operation.get("x-permissions", []) == permissions, (method, path)
        if permissions:
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


async def _chat_turn(gw: Gateway, created: dict[str, Any]) -> None:
    """One real chat round trip, so the transcript has turns to validate."""
    ws = await connect(gw, created)
    assert (await receive(ws))["type"] == "sessionOpen"
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Hello"}))
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    await gw.ctx.transcripts.drain()


async def test_real_success_responses_match_the_document(
    gateway: Gateway, contract: Contract
) -> None:
    gw, check = gateway, contract.check
    await check(await gw.request("GET", "/api/v1/health", key=None), "GET", "/api/v1/health", 200)
    for probe in ("/api/v1/health/live", "/api/v1/health/ready"):
        await check(await gw.request("GET", probe, key=None), "GET", probe, 200)
    gw.ctx.drain.draining = True
    ready = "/api/v1/health/ready"
    await check(await gw.request("GET", ready, key=None), "GET", ready, 503)
    gw.ctx.drain.draining = False

    assistants, one = "/api/v1/assistants", "/api/v1/assistants/{assistant_id}"
    fields = {
        "name": "Documented",
        "greeting": "Hi",
        "temperature": 0.4,
        "tools": [{"name": "lookup", "parameters": {"type": "object", "properties": {}}}],
        "transfer_number": "+14155550100",
    }
    made = await check(await gw.request("POST", assistants, json=fields), "POST", assistants, 201)
    at = f"{assistants}/{made['id']}"
    await check(await gw.request("GET", assistants), "GET", assistants, 200)
    await check(await gw.request("GET", f"{assistants}/1"), "GET", one, 200)
    await check(await gw.request("PATCH", at, json={"greeting": None}), "PATCH", one, 200)

    sessions, session = "/api/v1/sessions", "/api/v1/sessions/{session_id}"
    body = {
        "assistant_id": 1,
        "mode": "chat",
        "phone_number": "+14155550101",
        "metadata": {"crm": {"id": 7}},
    }
    created = await check(await gw.request("POST", sessions, json=body), "POST", sessions, 201)
    await _chat_turn(gw, created)
    pending = await check(
        await gw.request("POST", sessions, json={"assistant_id": made["id"]}), "POST", sessions, 201
    )
    ended = await check(
        await gw.request("GET", f"{sessions}/{created['session_id']}"), "GET", session, 200
    )
    assert (ended["status"], ended["total_turns"]) == ("ended", 2)
    assert ended["contact_id"] is not None  # phone_number made a contact
    page = await check(await gw.request("GET", f"{sessions}?limit=5"), "GET", sessions, 200)
    assert page["total"] == 2
    transcript = await check(
        await gw.request("GET", f"{sessions}/{created['session_id']}/transcript"),
        "GET", session + "/transcript", 200,
    )  # fmt: skip
    assert [t["role"] for t in transcript["turns"]] == ["assistant", "user", "assistant"]
    await check(
        await gw.request("DELETE", f"{sessions}/{pending['session_id']}"), "DELETE", session, 200
    )
    # A deleted assistant still names itself in its sessions.
    await check(await gw.request("DELETE", at), "DELETE", one, 204)
    page = await check(await gw.request("GET", sessions), "GET", sessions, 200)
    assert {s["assistant"]["name"] for s in page["data"]} == {"Local demo", "Documented"}


async def test_real_error_responses_match_the_document(
    gateway: Gateway, contract: Contract
) -> None:
    gw, check = gateway, contract.check
    sessions, session = "/api/v1/sessions", "/api/v1/sessions/{session_id}"
    reader = await gw.create_key(["assistants:read"], rate_limit=2)

    await check(await gw.request("POST", sessions, key=None, json={}), "POST", sessions, 401)
    bad_key = "kura_live_" + "q" * 38
    await check(await gw.request("GET", sessions, key=bad_key), "GET", sessions, 401)
    await check(
        await gw.request("POST", sessions, key=reader, json={"assistant_id": 1}),
        "POST", sessions, 403,
    )  # fmt: skip
    await check(await gw.request("GET", f"{sessions}/{uuid.uuid4()}"), "GET", session, 404)
    await check(
        await gw.request("GET", "/api/v1/assistants/999"),
        "GET", "/api/v1/assistants/{assistant_id}", 404,
    )  # fmt: skip
    invalid = await check(
        await gw.request("POST", sessions, json={"assistant_id": 1, "mode": "video"}),
        "POST", sessions, 422,
    )  # fmt: skip
    assert invalid["error"]["details"][0]["field"] == "mode"
    await check(await gw.request("GET", f"{sessions}?limit=0"), "GET", sessions, 422)
    await check(
        await gw.request("POST", sessions, data=b"{not json", headers={"Content-Type": "x/y"}),
        "POST", sessions, 400,
    )  # fmt: skip
    oversized = {"assistant_id": 1, "metadata": {"blob": "x" * 70_000}}
    await check(await gw.request("POST", sessions, json=oversized), "POST", sessions, 413)
    # The reader key may make two requests a minute: 403 above, this 403, then 429.
    refused = await check(await gw.request("GET", sessions, key=reader), "GET", sessions, 403)
    assert "sessions:read" in refused["error"]["message"]
    await check(await gw.request("GET", sessions, key=reader), "GET", sessions, 429)


def _concrete(path: str) -> str:
    """A path whose ids name nothing, so a permitted key gets 404/422 and changes nothing."""
    path = path.replace("{session_id}", str(uuid.uuid4()))
    return re.sub(r"{\w+}", "999999", path)  # numeric ids: assistants, numbers, contacts


async def test_every_guarded_route_needs_a_key_and_its_permission(gateway: Gateway) -> None:
    """Reliability row 20: each REST route is public only on purpose; every other one answers
    401 without a key and 403 to a key lacking its permission, before touching anything."""
    routes = list(_registered(gateway))
    guarded = [(m, p, h.kura_permissions) for m, p, h in routes if hasattr(h, "kura_permissions")]
    assert {p for m, p, _ in routes} - {p for _, p, _ in guarded} == PUBLIC_PATHS
    single = {name: await gateway.create_key([name], rate_limit=1000) for name in ALL_PERMISSIONS}
    for method, path, any_of in guarded:
        url = _concrete(path)
        body = {"json": {}} if method in {"POST", "PATCH"} else {}
        response = await gateway.request(method, url, key=None, **body)
        assert response.status == 401, (method, path)
        assert (await response.json())["error"]["code"] == "unauthorized"

        lacking = [p for p in ALL_PERMISSIONS if p not in any_of]
        all_but = await gateway.create_key(lacking)
        response = await gateway.request(method, url, key=all_but, **body)
        assert response.status == 403, (method, path, await response.text())
        error = (await response.json())["error"]
        assert error["code"] == "forbidden"
        assert all(p in error["message"] for p in any_of), error

        for permission, key in single.items():
            status = (await gateway.request(method, url, key=key, **body)).status
            if permission in any_of:
                assert status in {200, 404, 422}, (method, path, permission, status)
            else:
                assert status == 403, (method, path, permission, status)
    assert (await gateway.ctx.store.assistants.get(1)) is not None  # nothing was deleted


async def test_the_websocket_route_needs_sessions_connect_for_a_key(gateway: Gateway) -> None:
    created = await gateway.create_session(key=ADMIN_KEY)
    base = created["websocket_url"].split("?")[0]
    lacking = await gateway.create_key([p for p in ALL_PERMISSIONS if p != "sessions:connect"])
    for credential, status in [("", 401), (lacking, 403)]:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gateway.http.ws_connect(f"{base}?api_key={credential}")
        assert refused.value.status == status
