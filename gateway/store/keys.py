"""API key rows: create, find by secret, list, revoke. Only SHA-256 hashes are stored."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from gateway.store.db import Db
from gateway.store.models import ApiKey

KEY_PREFIX_CHARS = 18  # "kura_live_" + 8 random characters: enough to find one row, useless alone
SECRET_PREFIX = "kura_live_"  # noqa: S105 - a prefix, not a secret
PUBLISHABLE_PREFIX = "kura_pk_"  # written into public web pages; see ApiKey.kind


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a key or token; keys are long random strings, so no salt or KDF is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(
        self,
        secret: str,
        *,
        name: str,
        permissions: list[str],
        rate_limit_per_minute: int,
        now: datetime,
        kind: str = "secret",
        allowed_origins: list[str] | None = None,
        assistant_ids: list[int] | None = None,
        session_modes: list[str] | None = None,
    ) -> ApiKey:
        row = ApiKey(
            name=name,
            prefix=secret[:KEY_PREFIX_CHARS],
            key_hash=hash_secret(secret),
            kind=kind,
            permissions=sorted(set(permissions)),
            allowed_origins=list(allowed_origins or []),
            assistant_ids=sorted(set(assistant_ids or [])),
            session_modes=sorted(set(session_modes or [])),
            rate_limit_per_minute=rate_limit_per_minute,
            created_at=now,
        )
        async with self._db.begin() as db:
            db.add(row)
        return row

    async def find_by_secret(self, secret: str) -> ApiKey | None:
        """The live key whose hash matches ``secret``, compared in constant time."""
        wanted = hash_secret(secret)
        query = select(ApiKey).where(
            ApiKey.prefix == secret[:KEY_PREFIX_CHARS], ApiKey.revoked_at.is_(None)
        )
        async with self._db() as db:
            rows = (await db.scalars(query)).all()
        for row in rows:
            if hmac.compare_digest(row.key_hash, wanted):
                return row
        return None

    async def get(self, key_id: int) -> ApiKey | None:
        async with self._db() as db:
            return await db.get(ApiKey, key_id)

    async def list_all(self) -> list[ApiKey]:
        async with self._db() as db:
            return list((await db.scalars(select(ApiKey).order_by(ApiKey.id))).all())

    async def update(self, key_id: int, fields: dict[str, Any]) -> ApiKey | None:
        """Change a live key's ``fields`` (name, permissions, origins, scope, rate limit)."""
        async with self._db.begin() as db:
            row = await db.get(ApiKey, key_id)
            if row is None or row.revoked_at is not None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
        return row

    async def live_origins(self) -> set[str]:
        """Every origin some live key lists: a preflight carries no key, so it is answered
        for any origin that some key could be used from."""
        query = select(ApiKey.allowed_origins).where(ApiKey.revoked_at.is_(None))
        async with self._db() as db:
            lists = (await db.scalars(query)).all()
        return {origin for origins in lists for origin in origins}

    async def count_live(self) -> int:
        async with self._db() as db:
            query = select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
            return int(await db.scalar(query) or 0)

    async def revoke(self, key_id: int, now: datetime) -> bool:
        async with self._db.begin() as db:
            result = await db.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]
