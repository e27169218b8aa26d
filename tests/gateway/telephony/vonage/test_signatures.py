"""VonageSignatures on a virtual clock: the freshness window and the replay memory's bounds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import jwt

from gateway.telephony.vonage_signatures import TOLERANCE_S, VonageSignatures, _SeenTokens, bearer
from tests.virtual_clock import VirtualClock

SECRET = "a-signature-secret-of-thirty-two-bytes!"


def _token(iat: float, jti: str, body: bytes = b"") -> str:
    claims = {"iat": int(iat), "jti": jti, "payload_hash": hashlib.sha256(body).hexdigest()}
    return "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")


async def test_a_token_id_is_usable_again_once_its_window_has_passed() -> None:
    clock = VirtualClock(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    signatures = VonageSignatures(SECRET, None, "https://gw.example.com", clock)
    now = clock.now().timestamp()
    assert signatures.is_valid(_token(now, "a"), b"")
    assert not signatures.is_valid(_token(now, "a"), b"")  # replayed
    await clock.advance(TOLERANCE_S + 1)
    assert not signatures.is_valid(_token(now, "a"), b"")  # and now stale anyway
    later = clock.now().timestamp()
    assert signatures.is_valid(_token(later, "a"), b"")  # a fresh token may reuse the id


def test_the_replay_memory_is_bounded() -> None:
    seen = _SeenTokens(limit=3)
    for jti in "abcd":
        assert seen.first_use(jti, until=100.0, now=0.0)
    assert seen.first_use("a", until=100.0, now=0.0)  # the oldest was dropped for room
    assert not seen.first_use("d", until=100.0, now=0.0)


def test_only_bearer_tokens_are_read() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer abc") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer("Bearer " + "x" * 5000) is None
    assert bearer(None) is None


def test_a_get_answers_hash_covers_its_query_as_vonage_documents() -> None:
    """Vonage's support article: a GET's payload_hash is the SHA-256 of its query parameters as
    a JSON object, in their order, with no whitespace (written out here, not by our code)."""
    clock = VirtualClock(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    signatures = VonageSignatures(SECRET, None, "https://gw.example.com", clock)
    now = clock.now().timestamp()
    query = [("to", "447700900000"), ("from", "447700900001"), ("uuid", "aaaa-1")]
    document = '{"to":"447700900000","from":"447700900001","uuid":"aaaa-1"}'

    def token(jti: str, hashed: str) -> str:
        digest = hashlib.sha256(hashed.encode()).hexdigest()
        claims = {"iat": int(now), "jti": jti, "payload_hash": digest}
        return "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")

    assert signatures.is_valid(token("q1", document), b"", query)
    assert signatures.is_valid(token("q2", ""), b"", query)  # the hash of no bytes, as before
    forged = document.replace("447700900001", "447700900002")
    assert not signatures.is_valid(token("q3", forged), b"", query)  # another caller's query
