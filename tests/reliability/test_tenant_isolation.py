"""Row 21: another key's objects are invisible (BOLA), and fields a client may not set are
refused without changing what is stored (mass assignment).

The objects a key owns are its sessions and the calls it placed. Every route with one of
their ids in the path, both WebSockets included, is asked by a second key holding the same
permissions: the answer must be the one for an id that names nothing (404, or 403 where the
route needs an admin permission neither key holds), so ids cannot even be probed; and the
owner's view of the object is the same afterwards.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import aiohttp
import pytest

from gateway.api.routes import ROUTES
from gateway.store.models import Call
from tests.gateway.conftest import ADMIN_KEY, Gateway

TENANT = ["sessions:create", "sessions:connect", "calls:create"]  # no admin permission
# What a client may not set, as attackers try it: ownership, state, lifetimes, secrets.
PRIVILEGED = {
    "owner": "someone-else",
    "api_key_id": 1,
    "status": "ended",
    "expires_at": "2099-01-01T00:00:00Z",
    "created_at": "2000-01-01T00:00:00Z",
    "secret_hash": "0" * 64,
}
SOCKETS = ("/api/v1/sessions/{session_id}/connect", "/api/v1/sessions/{session_id}/monitor/connect")


async def owned_objects(gw: Gateway, owner: str) -> dict[str, str]:
    """A session the owner created and an outbound call row it placed: path ids by name."""
    session = await gw.create_session(key=owner, mode="chat")
    key = await gw.ctx.store.keys.find_by_secret(owner)
    assert key is not None
    call_sid = "CA" + uuid.uuid4().hex
    row = Call(call_sid=call_sid, carrier="twilio", session_id=session["session_id"],
               to_number="+15550002222", status="queued", direction="outbound",
               api_key_id=key.id, created_at=gw.clock.now(),
               updated_at=gw.clock.now())  # fmt: skip
    assert await gw.ctx.store.calls.add(row)
    call = await gw.ctx.store.calls.get_by_sid(call_sid)
    assert call is not None
    return {"session_id": session["session_id"], "call_id": str(call.id)}


def id_routes() -> list[tuple[str, str, dict[str, Any]]]:
    """Every REST route with a session or call id in its path, with a valid body if it takes
    one (so the only thing wrong with the request is whose object it names)."""
    bodies = {"/api/v1/sessions/{session_id}/messages": {"text": "hello"}}
    return [
        (r.method, r.path, bodies.get(r.path, {}))
        for r in ROUTES
        if "{session_id}" in r.path or "{call_id}" in r.path
    ]


async def answer(
    gw: Gateway, method: str, path: str, key: str, body: dict[str, Any]
) -> tuple[int, str, str]:
    kwargs = {"json": body} if method in {"POST", "PATCH"} else {}
    response = await gw.request(method, path, key=key, **kwargs)
    error = (await response.json())["error"]
    return response.status, error["code"], error["message"]


async def owners_view(gw: Gateway, owner: str, ids: dict[str, str]) -> list[Any]:
    views = []
    for path in ("/api/v1/sessions/{session_id}", "/api/v1/sessions/{session_id}/transcript",
                 "/api/v1/calls/{call_id}"):  # fmt: skip
        response = await gw.request("GET", path.format(**ids), key=owner)
        assert response.status == 200, path
        views.append(await response.json())
    return views


async def test_another_keys_ids_answer_as_ids_that_name_nothing(gateway: Gateway) -> None:
    owner = await gateway.create_key(TENANT, rate_limit=1000)
    other = await gateway.create_key(TENANT, rate_limit=1000)
    ids = await owned_objects(gateway, owner)
    absent = {"session_id": str(uuid.uuid4()), "call_id": "999999"}
    before = await owners_view(gateway, owner, ids)
    routes = id_routes()
    for method, path, body in routes:
        theirs = await answer(gateway, method, path.format(**ids), other, body)
        nothing = await answer(gateway, method, path.format(**absent), other, body)
        assert theirs[:2] == nothing[:2], (method, path, theirs, nothing)
        assert theirs[0] in {403, 404}, (method, path, theirs)
        assert theirs[0] == 404 or "permission" in theirs[2], (method, path, theirs)
    assert len(routes) >= 9  # sessions: get, delete, messages, transcript, monitor, recording
    for path in SOCKETS:
        statuses = []
        for named in (ids, absent):
            url = f"{gateway.url}{path.format(**named)}?api_key={other}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await gateway.http.ws_connect(url)
            statuses.append(refused.value.status)
        assert statuses[0] == statuses[1] and statuses[0] in {401, 404}, (path, statuses)
    assert await owners_view(gateway, owner, ids) == before  # nothing was ended or chatted in


async def test_fields_a_client_may_not_set_are_refused_and_change_nothing(
    gateway: Gateway,
) -> None:
    """Every body the API takes refuses unknown fields (422 naming them): a create makes
    nothing, an update changes nothing."""
    sessions_before = (await (await gateway.request("GET", "/api/v1/sessions")).json())["total"]
    assistant_before = await (await gateway.request("GET", "/api/v1/assistants/1")).json()
    valid: dict[str, dict[str, Any]] = {"/api/v1/sessions": {"assistant_id": 1, "mode": "chat"},
             "/api/v1/assistants/{assistant_id}": {"name": "Renamed"}}  # fmt: skip
    for route in ROUTES:
        if route.body is None:
            continue
        assert route.body.model_config.get("extra") == "forbid", route.path
        # Row 1 of each table (the demo assistant, the admin key); sessions by a made-up id.
        path = re.sub(r"{\w+_id}", "1", route.path.replace("{session_id}", str(uuid.uuid4())))
        body = {**valid.get(route.path, {}), **PRIVILEGED}
        response = await gateway.request(route.method, path, key=ADMIN_KEY, json=body)
        assert response.status in {404, 422}, (route.method, route.path, response.status)
        if response.status == 422:
            fields = {d["field"] for d in (await response.json())["error"]["details"]}
            assert fields & set(PRIVILEGED), (route.path, fields)
    sessions_after = (await (await gateway.request("GET", "/api/v1/sessions")).json())["total"]
    assert sessions_after == sessions_before
    assert await (await gateway.request("GET", "/api/v1/assistants/1")).json() == assistant_before
