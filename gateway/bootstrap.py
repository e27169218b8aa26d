"""First-start set-up: the demo assistant and the first API key, so the service runs at once."""

from __future__ import annotations

import logging
import secrets
import string
import zlib
from dataclasses import dataclass

from gateway.api.permissions import ALL_PERMISSIONS
from gateway.store import Store
from kinds.clock import Clock

log = logging.getLogger(__name__)

KEY_PREFIX = "kura_live_"
_ALPHABET = string.ascii_letters + string.digits
DEMO_ASSISTANT = {
    "name": "Local demo",
    "provider": "local",
    "instructions": "You are Kura's local demo assistant.",
    "greeting": "Hello! This is the Kura local demo. Say something and I will play it back.",
    "language_code": "en-US",
}


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def generate_api_key(prefix: str = KEY_PREFIX) -> str:
    """``kura_live_`` (or ``kura_pk_``) + 32 random base62 characters + a 6-character CRC32
    checksum, so leak scanners can recognise a real key without asking us."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(32))
    return prefix + body + _base62(zlib.crc32(body.encode()), 6)


def is_well_formed_key(key: str) -> bool:
    """Whether ``key`` has the shape ``generate_api_key`` gives, checksum included."""
    body, checksum = key[len(KEY_PREFIX) : -6], key[-6:]
    return (
        key.startswith(KEY_PREFIX)
        and len(body) == 32
        and all(char in _ALPHABET for char in body + checksum)
        and _base62(zlib.crc32(body.encode()), 6) == checksum
    )


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    created_assistant: bool
    new_key: str | None
    """A key made now; shown to the operator once, never stored in clear."""


async def bootstrap(store: Store, clock: Clock, *, bootstrap_key: str | None) -> BootstrapResult:
    now = clock.now()
    created_assistant = False
    if await store.assistants.get(1, include_deleted=True) is None:
        await store.assistants.create(dict(DEMO_ASSISTANT), now)
        created_assistant = True
    new_key = None
    if bootstrap_key:
        if await store.keys.find_by_secret(bootstrap_key) is None:
            await store.keys.create(
                bootstrap_key,
                name="bootstrap",
                permissions=list(ALL_PERMISSIONS),
                rate_limit_per_minute=60,
                now=now,
            )
    elif await store.keys.count_live() == 0:
        new_key = generate_api_key()
        await store.keys.create(
            new_key, name="admin", permissions=list(ALL_PERMISSIONS), rate_limit_per_minute=60,
            now=now,
        )  # fmt: skip
    return BootstrapResult(created_assistant, new_key)
