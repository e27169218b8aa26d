"""The keys API: the secret shown once, grants bounded by the granter, publishable scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.store import Store
from gateway.store.db import migrate
from tests.gateway.conftest import ADMIN_KEY, Gateway

KEYS = "/api/v1/admin/keys"


async def _post(gw: Gateway, body: dict[str, Any], key: str = ADMIN_KEY) -> Any:
    return await gw.request("POST", KEYS, key=key, json=body)


async def test_create_list_and_use_a_secret_key(gateway: Gateway) -> None:
    response = await _post(
        gateway,
        {"name": "backend", "permissions": ["sessions:create", "assistants:read"],
         "allowed_origins": ["https://App.Example:443/"]},
    )  # fmt: skip
    assert response.status == 201, await response.text()
    created = await response.json()
    secret = created["secret"]
    assert secret.startswith("kura_live_") and created["prefix"] == secret[:18]
    assert created["allowed_origins"] == ["https://app.example"]
    assert created["rate_limit_per_minute"] == 60
    assert (await gateway.request("GET", "/api/v1/assistants", key=secret)).status == 200
    listing = await (await gateway.request("GET", KEYS)).json()
    assert [k["name"] for k in listing["data"]] == ["bootstrap", "backend"]
    assert secret not in str(listing)
    one = await (await gateway.request("GET", f"{KEYS}/{created['id']}")).json()
    assert "secret" not in one and one["permissions"] == ["assistants:read", "sessions:create"]


async def test_change_and_revoke(gateway: Gateway) -> None:
    created = await (await _post(gateway, {"name": "k", "permissions": ["sessions:read"]})).json()
    path = f"{KEYS}/{created['id']}"
    response = await gateway.request(
        "PATCH", path, json={"permissions": ["assistants:read"], "name": "renamed",
                             "rate_limit_per_minute": 5}
    )  # fmt: skip
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert changed["name"] == "renamed" and changed["permissions"] == ["assistants:read"]
    assert (await gateway.request("GET", "/api/v1/assistants", key=created["secret"])).status == 200
    assert (await gateway.request("DELETE", path)).status == 204
    assert (await gateway.request("GET", "/api/v1/assistants", key=created["secret"])).status == 401
    assert (await gateway.request("DELETE", path)).status == 404
    assert (await gateway.request("PATCH", path, json={"name": "x"})).status == 404
    revoked = await (await gateway.request("GET", path)).json()
    assert revoked["revoked_at"] is not None


async def test_permissions_needed_and_no_escalation(gateway: Gateway) -> None:
    reader = await gateway.create_key(["keys:read"])
    assert (await gateway.request("GET", KEYS, key=reader)).status == 200
    response = await _post(gateway, {"name": "x"}, key=reader)
    assert response.status == 403 and "keys:write" in (await response.json())["error"]["message"]
    writer = await gateway.create_key(["keys:write", "sessions:create"])
    assert (await gateway.request("GET", KEYS, key=writer)).status == 200
    ok = await _post(gateway, {"name": "x", "permissions": ["sessions:create"]}, key=writer)
    assert ok.status == 201
    response = await _post(gateway, {"name": "x", "permissions": ["sessions:read"]}, key=writer)
    assert response.status == 403
    assert "sessions:read" in (await response.json())["error"]["message"]
    no_keys = await gateway.create_key(["sessions:read"])
    assert (await gateway.request("GET", KEYS, key=no_keys)).status == 403


async def test_bad_bodies_are_422(gateway: Gateway) -> None:
    bad = [
        {"name": "x", "permissions": ["root"]},
        {"name": "x", "allowed_origins": ["https://a.example/path"]},
        {"name": "x", "allowed_origins": ["*"]},
        {"name": "x", "assistant_ids": [1]},  # secret keys are not scoped
        {"name": "x", "kind": "publishable", "assistant_ids": [1]},  # no origin
        {"name": "x", "kind": "publishable", "allowed_origins": ["https://a.example"]},
        {"name": "x", "kind": "publishable", "allowed_origins": ["https://a.example"],
         "assistant_ids": [99]},
        {"name": "x", "kind": "publishable", "allowed_origins": ["https://a.example"],
         "assistant_ids": [1], "permissions": ["sessions:read"]},
        {"name": "x", "surprise": True},
        {"permissions": []},
    ]  # fmt: skip
    for body in bad:
        response = await _post(gateway, body)
        assert response.status == 422, (body, await response.text())
        assert (await response.json())["error"]["code"] == "validation_error"


async def test_create_a_publishable_key(gateway: Gateway) -> None:
    response = await _post(
        gateway,
        {"name": "site", "kind": "publishable", "allowed_origins": ["https://site.example"],
         "assistant_ids": [1]},
    )  # fmt: skip
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["secret"].startswith("kura_pk_")
    assert created["permissions"] == ["sessions:create"]
    assert created["session_modes"] == ["chat"]
    assert created["rate_limit_per_minute"] == 600
    path = f"{KEYS}/{created['id']}"
    response = await gateway.request("PATCH", path, json={"session_modes": ["chat", "voice"]})
    assert (await response.json())["session_modes"] == ["chat", "voice"]
    response = await gateway.request("PATCH", path, json={"allowed_origins": []})
    assert response.status == 422


async def test_migration_grants_key_permissions_to_full_admin_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(store.engine, "0002")
        old_admin = ["sessions:create", "sessions:connect", "sessions:read", "sessions:write",
                     "assistants:read", "assistants:write", "numbers:read", "numbers:write",
                     "contacts:read", "contacts:write"]  # fmt: skip
        async with store.engine.begin() as conn:
            for name, permissions in (("admin", old_admin), ("app", ["sessions:create"])):
                await conn.execute(
                    text("INSERT INTO api_keys (name, prefix, key_hash, permissions, "
                         "rate_limit_per_minute, created_at) VALUES (:n, :p, :h, :perm, 60, "
                         "'2026-01-01 00:00:00')"),
                    {"n": name, "p": name, "h": name * 8, "perm": json.dumps(permissions)},
                )  # fmt: skip
        await migrate(store.engine)
        rows = {row.name: row for row in await store.keys.list_all()}
        assert {"keys:read", "keys:write"} <= set(rows["admin"].permissions)
        assert rows["app"].permissions == ["sessions:create"]
        assert rows["app"].kind == "secret" and rows["app"].allowed_origins == []
    finally:
        await store.aclose()
