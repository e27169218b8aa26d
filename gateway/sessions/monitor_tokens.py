"""Single-use tokens for the supervisor's WebSocket (``POST /sessions/{id}/monitor``).

Kept in the memory of the node that holds the session: a monitor socket must reach that node
anyway, since the audio it carries is there. Only a hash is kept; a token works once, for one
session, within its lifetime.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway.store.keys import hash_secret

MONITOR_TOKEN_PREFIX = "kura_mt_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class _Grant:
    session_id: str
    expires_s: float  # on the clock's monotonic scale


class MonitorTokens:
    """Issued and unspent monitor tokens, by hash."""

    def __init__(self) -> None:
        self._grants: dict[str, _Grant] = {}

    def issue(self, session_id: str, now_s: float, ttl_s: float) -> str:
        self._evict(now_s)
        token = MONITOR_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._grants[hash_secret(token)] = _Grant(session_id, now_s + ttl_s)
        return token

    def redeem(self, token: str, session_id: str, now_s: float) -> bool:
        """Spend the token: True once, for its session, before it lapses."""
        grant = self._grants.pop(hash_secret(token), None)
        return grant is not None and grant.session_id == session_id and now_s < grant.expires_s

    def forget(self, session_id: str) -> None:
        """The session ended: its unspent tokens are void."""
        for digest in [d for d, g in self._grants.items() if g.session_id == session_id]:
            del self._grants[digest]

    def _evict(self, now_s: float) -> None:
        for digest in [d for d, g in self._grants.items() if g.expires_s <= now_s]:
            del self._grants[digest]
