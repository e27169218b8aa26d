"""``/api/v1/admin/keys``: create (the secret shown once), list, change and revoke API keys.

Reading needs ``keys:read`` or ``keys:write``; changing needs ``keys:write``. A key can grant
only permissions it holds itself, so ``keys:write`` is no way to escalate.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.auth import has_permission, key_of, requires
from gateway.api.bodies import json_response, read_body
from gateway.api.ids import path_id
from gateway.api.key_schemas import CreateKeyRequest, KeyCreated, KeyFields, KeyList, KeyView
from gateway.api.origins import normalise_origin
from gateway.api.permissions import PUBLISHABLE_PERMISSIONS, unknown_permissions
from gateway.bootstrap import generate_api_key
from gateway.context import GatewayContext, context_of
from gateway.errors import Forbidden, NotFound, ValidationFailed
from gateway.store.keys import KEY_PREFIX_CHARS, PUBLISHABLE_PREFIX, SECRET_PREFIX
from gateway.store.models import ApiKey

PUBLISHABLE_RATE_FACTOR = 10
"""A publishable key serves every visitor of a site (each also limited on their own), so its
key-wide default is ten times a secret key's."""


def key_view(row: ApiKey) -> KeyView:
    return KeyView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        prefix=row.prefix[:KEY_PREFIX_CHARS],
        permissions=list(row.permissions),
        allowed_origins=list(row.allowed_origins),
        assistant_ids=list(row.assistant_ids),
        session_modes=list(row.session_modes),
        rate_limit_per_minute=row.rate_limit_per_minute,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"invalid {field}: {message}", details=[{"field": field, "message": message}]
    )


def _origins(values: list[str]) -> list[str]:
    out: list[str] = []
    for index, value in enumerate(values):
        origin = normalise_origin(value)
        if origin is None:
            raise _invalid(f"allowed_origins.{index}", "not an origin: use scheme://host[:port]")
        if origin not in out:
            out.append(origin)
    return out


def _permissions(granter: ApiKey, values: list[str]) -> list[str]:
    unknown = unknown_permissions(values)
    if unknown:
        raise _invalid("permissions", f"unknown permission {unknown[0]}")
    beyond = [name for name in values if not has_permission(granter, name)]
    if beyond:
        raise Forbidden(f"this API key cannot grant {beyond[0]}, which it does not hold")
    return sorted(set(values))


async def _checked(
    ctx: GatewayContext, granter: ApiKey, kind: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """``fields`` valid for a key of ``kind``: origins normalised, grants and assistants checked."""
    for name in ("name", "permissions", "allowed_origins", "assistant_ids", "session_modes",
                 "rate_limit_per_minute"):  # fmt: skip
        if name in fields and fields[name] is None:
            raise _invalid(name, "may not be null")
    if "allowed_origins" in fields:
        fields["allowed_origins"] = _origins(fields["allowed_origins"])
    if kind == "secret":
        for name in ("assistant_ids", "session_modes"):
            if fields.get(name):
                raise _invalid(name, "only publishable keys are scoped to assistants and modes")
        if "permissions" in fields:
            fields["permissions"] = _permissions(granter, fields["permissions"])
        return fields
    if fields.get("permissions") not in (None, PUBLISHABLE_PERMISSIONS):
        raise _invalid("permissions", "a publishable key can only hold sessions:create")
    fields.pop("permissions", None)
    for name in ("allowed_origins", "assistant_ids", "session_modes"):
        if name in fields and not fields[name]:
            raise _invalid(name, "a publishable key needs at least one")
    for assistant_id in fields.get("assistant_ids", []):
        if await ctx.store.assistants.get(assistant_id) is None:
            raise _invalid("assistant_ids", f"no assistant with id {assistant_id}")
    return fields


@requires("keys:write")
async def create_key(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await read_body(request, CreateKeyRequest)
    fields = body.model_dump(exclude_unset=True, exclude={"kind"})
    if body.kind == "publishable":
        fields.setdefault("session_modes", ["chat"])
        for name in ("allowed_origins", "assistant_ids"):
            fields.setdefault(name, [])
    fields = await _checked(ctx, key_of(request), body.kind, fields)
    publishable = body.kind == "publishable"
    default_rate = ctx.settings.default_rate_limit_per_minute
    secret = generate_api_key(PUBLISHABLE_PREFIX if publishable else SECRET_PREFIX)
    row = await ctx.store.keys.create(
        secret,
        name=fields.pop("name"),
        permissions=PUBLISHABLE_PERMISSIONS if publishable else fields.pop("permissions", []),
        rate_limit_per_minute=fields.pop(
            "rate_limit_per_minute", default_rate * (PUBLISHABLE_RATE_FACTOR if publishable else 1)
        ),
        now=ctx.clock.now(),
        kind=body.kind,
        **fields,
    )
    created = KeyCreated(**key_view(row).model_dump(), secret=secret)
    return json_response(created, status=201)


@requires("keys:read", "keys:write")
async def list_keys(request: web.Request) -> web.Response:
    rows = await context_of(request).store.keys.list_all()
    return json_response(KeyList(data=[key_view(row) for row in rows]))


async def _key(ctx: GatewayContext, request: web.Request) -> ApiKey:
    row = await ctx.store.keys.get(path_id(request, "key_id", "key"))
    if row is None:
        raise NotFound("no key with this id")
    return row


@requires("keys:read", "keys:write")
async def get_key(request: web.Request) -> web.Response:
    return json_response(key_view(await _key(context_of(request), request)))


@requires("keys:write")
async def update_key(request: web.Request) -> web.Response:
    ctx = context_of(request)
    row = await _key(ctx, request)
    body = await read_body(request, KeyFields)
    fields = await _checked(ctx, key_of(request), row.kind, body.model_dump(exclude_unset=True))
    updated = await ctx.store.keys.update(row.id, fields)
    if updated is None:
        raise NotFound("no live key with this id: a revoked key cannot change")
    return json_response(key_view(updated))


@requires("keys:write")
async def revoke_key(request: web.Request) -> web.Response:
    ctx = context_of(request)
    if not await ctx.store.keys.revoke(path_id(request, "key_id", "key"), ctx.clock.now()):
        raise NotFound("no live key with this id")
    return web.Response(status=204)
