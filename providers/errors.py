"""Errors raised by providers.

    ProviderError                 (retryable: bool)
    ├── ProviderUnavailable       connect failed or timed out; retryable
    ├── ProviderAuthError         bad or missing credentials; fatal
    ├── ProviderQuotaError        quota or billing; fatal
    ├── ProviderConfigError       unknown provider, model or voice; fatal
    └── ProviderProtocolError     the peer broke the protocol; fatal for this connection

Third-party exceptions (aiohttp, OSError) are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every provider error."""

    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or type(self).__name__


class ProviderUnavailable(ProviderError):
    retryable = True


class ProviderAuthError(ProviderError):
    pass


class ProviderQuotaError(ProviderError):
    pass


class ProviderConfigError(ProviderError):
    pass


class ProviderProtocolError(ProviderError):
    pass
