"""Phone-number and contact admin over REST: permissions (401/403), 404, 409 and 422."""

from __future__ import annotations

from tests.gateway.conftest import Gateway

NUMBERS = "/api/v1/admin/numbers"
CONTACTS = "/api/v1/admin/contacts"


async def test_assign_list_update_unassign(gateway: Gateway) -> None:
    body = {"number": "+1 (555) 000-2222", "assistant_id": 1, "label": "Main line"}
    response = await gateway.request("POST", NUMBERS, json=body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["number"], created["carrier"], created["enabled"]) == (
        "+15550002222",
        "twilio",
        True,
    )
    assert created["assistant"] == {"id": 1, "name": "Local demo"}
    assert (await gateway.request("POST", NUMBERS, json=body)).status == 409
    await gateway.request("POST", NUMBERS, json={"number": "+15550003333", "assistant_id": 1})
    page = await (await gateway.request("GET", NUMBERS + "?limit=1&offset=1")).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [n["number"] for n in page["data"]] == ["+15550003333"]
    path = f"{NUMBERS}/{created['id']}"
    response = await gateway.request("PATCH", path, json={"enabled": False, "label": None})
    assert response.status == 200
    patched = await response.json()
    assert (patched["enabled"], patched["label"]) == (False, None)
    assert (await (await gateway.request("GET", path)).json())["enabled"] is False
    assert (await gateway.request("DELETE", path)).status == 204
    for method in ("GET", "DELETE"):
        assert (await gateway.request(method, path)).status == 404
    assert (await gateway.request("PATCH", path, json={"label": "x"})).status == 404
    assert (await gateway.request("GET", NUMBERS + "/abc")).status == 404


async def test_bad_number_fields_are_422(gateway: Gateway) -> None:
    cases = [
        ({"assistant_id": 1}, "number"),
        ({"number": "not a number", "assistant_id": 1}, "number"),
        ({"number": "+15550002222", "assistant_id": 999}, "assistant_id"),
        ({"number": "+15550002222", "assistant_id": "1"}, "assistant_id"),
        ({"number": "+15550002222", "assistant_id": 1, "carrier": "smoke"}, "carrier"),
        ({"number": "+15550002222", "assistant_id": 1, "owner": "me"}, "owner"),
    ]
    for body, field in cases:
        response = await gateway.request("POST", NUMBERS, json=body)
        assert response.status == 422, body
        fields = [d["field"] for d in (await response.json())["error"]["details"]]
        assert field in fields, (body, fields)
    created = await gateway.request(
        "POST", NUMBERS, json={"number": "+15550002222", "assistant_id": 1}
    )
    path = f"{NUMBERS}/{(await created.json())['id']}"
    for patch in ({"enabled": None}, {"assistant_id": None}, {"enabled": "yes"}):
        assert (await gateway.request("PATCH", path, json=patch)).status == 422, patch
    assert (await gateway.request("GET", NUMBERS + "?limit=0")).status == 422


async def test_number_permissions(gateway: Gateway) -> None:
    assert (await gateway.request("GET", NUMBERS, key=None)).status == 401
    reader = await gateway.create_key(["numbers:read"])
    writer = await gateway.create_key(["numbers:write"])
    other = await gateway.create_key(["sessions:read", "contacts:write"])
    body = {"number": "+15550002222", "assistant_id": 1}
    assert (await gateway.request("GET", NUMBERS, key=other)).status == 403
    assert (await gateway.request("GET", NUMBERS, key=reader)).status == 200
    assert (await gateway.request("GET", NUMBERS, key=writer)).status == 200
    response = await gateway.request("POST", NUMBERS, key=reader, json=body)
    assert response.status == 403
    assert "numbers:write" in (await response.json())["error"]["message"]
    created = await gateway.request("POST", NUMBERS, key=writer, json=body)
    assert created.status == 201
    path = f"{NUMBERS}/{(await created.json())['id']}"
    assert (await gateway.request("DELETE", path, key=reader)).status == 403
    assert (await gateway.request("GET", path, key=reader)).status == 200


async def test_contacts_list_view_and_rename(gateway: Gateway) -> None:
    first = await gateway.create_session(phone_number="+15550001111")
    await gateway.create_session(phone_number="+15550001111")
    await gateway.create_session(phone_number="+15550004444")
    page = await (await gateway.request("GET", CONTACTS)).json()
    assert page["total"] == 2
    by_number = {c["phone_number"]: c for c in page["data"]}
    contact = by_number["+15550001111"]
    assert (contact["session_count"], contact["name"]) == (2, None)
    filtered = await gateway.request("GET", CONTACTS + "?phone_number=%2B1%20555%20000%201111")
    assert [c["id"] for c in (await filtered.json())["data"]] == [contact["id"]]
    path = f"{CONTACTS}/{contact['id']}"
    detail = await (await gateway.request("GET", path)).json()
    assert len(detail["sessions"]) == 2
    assert first["session_id"] in {s["session_id"] for s in detail["sessions"]}
    assert all(s["contact_id"] == contact["id"] for s in detail["sessions"])
    response = await gateway.request("PATCH", path, json={"name": "Ana"})
    assert response.status == 200
    assert (await response.json())["name"] == "Ana"
    cleared = await gateway.request("PATCH", path, json={"name": None})
    assert (await cleared.json())["name"] is None
    for bad in ({}, {"name": ""}, {"name": "x" * 201}, {"name": "A", "phone_number": "+1"}):
        assert (await gateway.request("PATCH", path, json=bad)).status == 422, bad
    for missing in ("999", "x"):
        assert (await gateway.request("GET", f"{CONTACTS}/{missing}")).status == 404
    response = await gateway.request("PATCH", f"{CONTACTS}/999", json={"name": "A"})
    assert response.status == 404
    assert (await gateway.request("GET", CONTACTS + "?phone_number=nope")).status == 422


async def test_contact_permissions(gateway: Gateway) -> None:
    await gateway.create_session(phone_number="+15550001111")
    reader = await gateway.create_key(["contacts:read"])
    other = await gateway.create_key(["numbers:write", "sessions:read"])
    assert (await gateway.request("GET", CONTACTS, key=None)).status == 401
    assert (await gateway.request("GET", CONTACTS, key=other)).status == 403
    page = await (await gateway.request("GET", CONTACTS, key=reader)).json()
    path = f"{CONTACTS}/{page['data'][0]['id']}"
    assert (await gateway.request("GET", path, key=reader)).status == 200
    response = await gateway.request("PATCH", path, key=reader, json={"name": "A"})
    assert response.status == 403
    assert "contacts:write" in (await response.json())["error"]["message"]


async def test_admin_routes_are_in_the_openapi_document(gateway: Gateway) -> None:
    doc = await (await gateway.request("GET", "/api/v1/openapi.json", key=None)).json()
    assert doc["paths"][NUMBERS]["post"]["x-permissions"] == ["numbers:write"]
    assert doc["paths"][NUMBERS]["get"]["x-permissions"] == ["numbers:read", "numbers:write"]
    assert doc["paths"][CONTACTS + "/{contact_id}"]["patch"]["x-permissions"] == ["contacts:write"]
    assert not any(path.startswith("/telephony") for path in doc["paths"])
