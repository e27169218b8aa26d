"""Vonage signed webhooks (``Authorization: Bearer <JWT>``) and the public URLs we hand Vonage.

Vonage signs each webhook with an HS256 JWT keyed by the account's signature secret; its
``payload_hash`` claim is the hex SHA-256 of the exact body, so the token vouches for the body
too. A GET answer webhook has no body: Vonage's support article on verifying Voice API webhooks
hashes the query's parameters as a JSON object, in their order, with no whitespace, so that (or
the hash of no bytes) is what a GET's hash must be. We
accept a token only if its signature checks out (HS256 and nothing else: no ``alg: none``, no
key confusion), its ``iat`` is within five minutes of our clock (Vonage's signatures expire
after five), its ``exp`` (if any) has not passed, its ``application_id`` (if any) is ours, and
its ``jti`` was not seen before on this node within that window (a replayed request is
refused; replays across nodes meet the call service's idempotency instead). PyJWT does the
JWT work.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import jwt
import orjson

from config import Settings
from kinds.clock import Clock

VONAGE_PREFIX = "/telephony/vonage"
VOICE_PATH = f"{VONAGE_PREFIX}/voice"
STATUS_PATH = f"{VONAGE_PREFIX}/status"
MEDIA_PATH = f"{VONAGE_PREFIX}/media"
TOLERANCE_S = 300
MAX_TOKEN_CHARS = 4096
MAX_SEEN_TOKENS = 200_000  # ids remembered for replay checks; the oldest go first past this
_EMPTY_HASH = hashlib.sha256(b"").hexdigest()


def _as_ws(url: str) -> str:
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http) :]
    return url


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization or len(authorization) > MAX_TOKEN_CHARS + 7:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class _SeenTokens:
    """Token ids seen within the tolerance, each kept until its ``iat`` leaves the window."""

    def __init__(self, limit: int = MAX_SEEN_TOKENS) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()
        self._limit = limit

    def first_use(self, jti: str, until: float, now: float) -> bool:
        while self._until and (
            next(iter(self._until.values())) < now or len(self._until) >= self._limit
        ):
            self._until.popitem(last=False)
        if jti in self._until:
            return False
        self._until[jti] = until
        return True


def _payload_holds(payload_hash: object, body: bytes, query: Sequence[tuple[str, str]]) -> bool:
    """Whether ``payload_hash`` vouches for the body, or for a bodiless request's query."""
    if payload_hash is None:
        return not body  # a body the token does not vouch for
    if not isinstance(payload_hash, str):
        return False
    claimed = payload_hash.lower()
    if body:
        return hmac.compare_digest(claimed, hashlib.sha256(body).hexdigest())
    query_hash = hashlib.sha256(orjson.dumps(dict(query))).hexdigest() if query else _EMPTY_HASH
    return hmac.compare_digest(claimed, query_hash) or hmac.compare_digest(claimed, _EMPTY_HASH)


class VonageSignatures:
    """Checks Vonage's signed webhooks for one signature secret, on the gateway's clock."""

    def __init__(
        self, secret: str, application_id: str | None, public_url: str, clock: Clock
    ) -> None:
        self._secret = secret
        self._application_id = application_id or None
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._seen = _SeenTokens()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> VonageSignatures | None:
        """``None`` when no signature secret is configured: webhooks then refuse, never trust."""
        secret = settings.vonage_signature_secret
        if secret is None or not secret.get_secret_value():
            return None
        return cls(
            secret.get_secret_value(),
            settings.vonage_application_id,
            settings.effective_public_url,
            clock,
        )

    def media_url(self) -> str:
        """The ``wss://`` URL of Vonage's media socket, as put in the NCCO."""
        return _as_ws(self._public_url) + MEDIA_PATH

    def event_url(self) -> str:
        return self._public_url + STATUS_PATH

    def http_url(self, path: str) -> str:
        """The public URL of one of our webhooks (a warm transfer's leg's)."""
        return self._public_url + path

    def is_valid(
        self,
        authorization: str | None,
        body: bytes,
        query: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Whether the request carrying ``authorization`` and ``body`` (or, with no body, the
        ``query`` parameters in order) was signed by Vonage (fresh, for this application, not
        seen before)."""
        token = bearer(authorization)
        if token is None:
            return False
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return False
        return self._claims_hold(claims, body, query)

    def _claims_hold(
        self, claims: dict[str, Any], body: bytes, query: Sequence[tuple[str, str]]
    ) -> bool:
        now = self._clock.now().timestamp()
        iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
        if (
            not isinstance(iat, int | float)
            or isinstance(iat, bool)
            or abs(now - iat) > TOLERANCE_S
        ):
            return False
        if exp is not None and (type(exp) not in (int, float) or exp < now):
            return False
        app = claims.get("application_id")
        if self._application_id and app is not None and app != self._application_id:
            return False
        if not _payload_holds(claims.get("payload_hash"), body, query):
            return False
        if not isinstance(jti, str) or not 0 < len(jti) <= 128:
            return False
        return self._seen.first_use(jti, iat + TOLERANCE_S, now)
