"""Google Gemini Live (BidiGenerateContent) provider.

Modules: ``provider`` (the factory and its capabilities), ``session`` (one conversation across
reconnects), ``connection`` (one socket: connect, classify its end), ``wire`` (client
messages), ``decode`` (server messages), ``turns`` (notes → events, transcripts per turn),
``watchdog`` (stall and goAway deadlines), ``audio`` (level gate, backlog), ``queue``.
"""

from providers.gemini_live.provider import (
    CAPABILITIES,
    DEFAULT_MODEL,
    DEFAULT_URL,
    DEFAULT_VOICE,
    GeminiLiveProvider,
)
from providers.gemini_live.session import GeminiLiveSession

__all__ = [
    "CAPABILITIES",
    "DEFAULT_MODEL",
    "DEFAULT_URL",
    "DEFAULT_VOICE",
    "GeminiLiveProvider",
    "GeminiLiveSession",
]
