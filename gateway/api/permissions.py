"""Permissions an API key can hold, and what each allows."""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "sessions:create": "Create sessions; read (with transcript), chat in and end its own sessions",
    "sessions:connect": "Connect a session's WebSocket with this key instead of its token",
    "sessions:read": "List and read every session and its transcript",
    "sessions:write": "End any session",
    "sessions:monitor": "Listen to any live session, whisper to its assistant, take it over",
    "recordings:read": "Download session recordings",
    "assistants:read": "List and read assistants",
    "assistants:write": "Create, update and delete assistants",
    "numbers:read": "List and read phone numbers and the assistants they ring",
    "numbers:write": "Assign, change and unassign phone numbers",
    "contacts:read": "List and read contacts (callers) and their sessions",
    "contacts:write": "Edit contacts (the name the assistant is told)",
    "calls:create": "Place outbound calls, and read or hang up the calls this key placed",
    "calls:read": "List and read every call, inbound and outbound",
    "calls:write": "Hang up any call",
    "keys:read": "List and read API keys (never their secrets)",
    "keys:write": "Create, change and revoke API keys, granting at most its own permissions",
}
ALL_PERMISSIONS: tuple[str, ...] = tuple(PERMISSIONS)
PUBLISHABLE_PERMISSIONS = ["sessions:create"]
"""All a publishable key holds: it is in every visitor's browser."""


def unknown_permissions(names: list[str]) -> list[str]:
    return [name for name in names if name not in PERMISSIONS]
