"""How OpenAI Realtime failures map onto the provider error tree (``providers.errors``).

Three sources: HTTP status at the handshake, ``error`` events (and failed responses), and the
WebSocket close code. Fatal ones (bad key, quota, unknown model, policy close) must never be
retried: a reconnect loop on them is dead air for the caller (livekit/agents #6352,
pipecat #3711). Most ``error`` events are not fatal at all; the session goes on.
"""

from __future__ import annotations

from typing import Any

from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderProtocolError,
    ProviderQuotaError,
    ProviderUnavailable,
)

_AUTH_CODES = frozenset(
    {"invalid_api_key", "invalid_authentication", "unauthorized", "missing_api_key"}
)
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded"})
_CONFIG_CODES = frozenset(
    {"model_not_found", "invalid_model", "unsupported_model", "beta_api_shape_disabled"}
)
_AUTH_TYPES = frozenset({"authentication_error", "permission_error"})
_QUOTA_TYPES = frozenset({"insufficient_quota"})

SESSION_EXPIRED = "session_expired"
"""The 60-minute cap: not fatal, the session reconnects and re-seeds the conversation."""
CANCEL_NOT_ACTIVE = "response_cancel_not_active"
"""Our ``response.cancel`` found no response in flight: it had ended (or the server had
cancelled it) while the cancel was on its way. Harmless."""

# Close codes after which a fresh connection may well work: normal/going away (server restart,
# the session cap), abnormal closure (no close frame), internal error, restart, try again later.
_RETRYABLE_CLOSE_CODES = frozenset({1000, 1001, 1006, 1011, 1012, 1013, 1014})


def from_error_event(error: dict[str, Any]) -> ProviderError | None:
    """The error an ``error`` event (or a failed response) stands for; ``None`` if not fatal."""
    code = str(error.get("code") or "")
    kind = str(error.get("type") or "")
    if code == SESSION_EXPIRED:
        return ProviderUnavailable("the provider ended the session at its cap", code=code)
    if code in _AUTH_CODES or kind in _AUTH_TYPES:
        return ProviderAuthError("the provider rejected the credentials", code=code or kind)
    if code in _QUOTA_CODES or kind in _QUOTA_TYPES:
        return ProviderQuotaError("the provider account is out of quota", code=code or kind)
    if code in _CONFIG_CODES:
        return ProviderConfigError("the provider rejected the model or API shape", code=code)
    return None


def from_handshake_status(status: int) -> ProviderError:
    """A refused WebSocket upgrade, by HTTP status."""
    if status in (401, 403):
        return ProviderAuthError("the provider rejected the credentials", code="invalid_api_key")
    if status == 404:
        return ProviderConfigError("the provider does not know the model", code="model_not_found")
    if status == 429 or status >= 500:
        return ProviderUnavailable(f"the provider answered HTTP {status}", code=f"http_{status}")
    return ProviderProtocolError(f"the provider answered HTTP {status}", code=f"http_{status}")


def from_close_code(close_code: int | None) -> ProviderError:
    """Why a connection ended when the server closed it (``None``: the transport broke)."""
    if close_code is None or close_code in _RETRYABLE_CLOSE_CODES:
        return ProviderUnavailable(
            "the provider connection was lost", code=f"closed_{close_code or 'abnormally'}"
        )
    # 1008 (policy), 1003/1007 (bad data), 1009 (too big), 4xxx: the same request would fail again.
    return ProviderProtocolError(
        f"the provider closed the connection with code {close_code}", code=f"closed_{close_code}"
    )
