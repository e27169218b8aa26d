"""OpenAPI 3.1 document of the REST API, built from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from gateway.api.permissions import PERMISSIONS
from gateway.api.route_table import VERSION, Route
from gateway.api.schemas import ErrorResponse

REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Malformed JSON body",
    "401": "Missing, unknown or revoked API key",
    "403": "The key lacks a permission this operation needs (named in the message)",
    "404": "Unknown resource, or a session that expired",
    "409": "Conflicts with the current state (a number already assigned)",
    "413": "Request body larger than 64 KiB",
    "422": "A field is invalid (details name each field and why)",
    "429": "Rate limit exceeded; wait Retry-After seconds",
}
_BODY_ONLY = {"400", "409", "413"}
EXTRA_ERRORS = {
    409: "Conflict with the resource's state",
    502: "The carrier refused the request or could not be reached",
    503: "Not configured on this gateway, or the gateway is draining",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the rate-limit window resets",
        "schema": {"type": "integer"},
    }
}
_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in {
        "X-RateLimit-Limit": "Requests allowed per minute for this key",
        "X-RateLimit-Remaining": "Requests left in the current window",
        "X-RateLimit-Reset": "When the window resets (epoch seconds)",
    }.items()
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        for name, info in route.query.model_json_schema()["properties"].items():
            required = bool(info.pop("x-required", False))
            params.append({"name": name, "in": "query", "required": required, "schema": info})
    return params


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    permissions: tuple[str, ...] = getattr(route.handler, "kura_permissions", ())
    ok: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(route.response, components)}}
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": list(route.tags),
        "parameters": _parameters(route),
        "responses": {str(route.ok_status): ok},
    }
    for other in route.also:
        operation["responses"][str(other)] = {**ok, "description": f"Status {other}"}
    if permissions:
        operation["description"] = "Needs a key with " + " or ".join(permissions) + "."
        operation["security"] = [{"apiKey": []}]
        operation["x-permissions"] = list(permissions)
        ok["headers"] = _RATE_HEADERS
        error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
        for status, text in _ERRORS.items():
            if status in _BODY_ONLY and route.body is None:
                continue
            operation["responses"][status] = {"description": text, "content": error}
        operation["responses"]["429"]["headers"] = _RETRY_AFTER
        for extra in route.errors:
            operation["responses"][str(extra)] = {
                "description": EXTRA_ERRORS[extra],
                "content": error,
            }
    else:
        operation["security"] = []
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.body, components)}},
        }
    return operation


def with_providers(document: dict[str, Any], providers: list[str]) -> dict[str, Any]:
    """``document`` with the ``provider`` and ``fallback_provider`` of request bodies limited
    to the providers this gateway runs (the server refuses any other with 422; the list is
    known only at serve time)."""
    for name, schema in document["components"]["schemas"].items():
        if not name.endswith(("Fields", "Request")):
            continue
        for field in ("provider", "fallback_provider"):
            provider = schema.get("properties", {}).get(field)
            for branch in provider.get("anyOf", [provider]) if provider is not None else []:
                if branch.get("type") == "string":  # not the null of a nullable field
                    branch["enum"] = providers
    return document


def build_document(routes: tuple[Route, ...]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(ErrorResponse, components)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kura voice gateway API",
            "version": VERSION,
            "description": "Sessions for AI voice and chat assistants. Permissions: "
            + "; ".join(f"{name}: {text}" for name, text in PERMISSIONS.items()),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }
