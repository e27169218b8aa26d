"""Builds the provider registry from settings: the one place provider credentials are read."""

from __future__ import annotations

from config import Settings
from kinds.clock import Clock
from providers.gemini_live import GeminiLiveProvider
from providers.local import LocalProvider
from providers.openai_realtime import OpenAIRealtimeProvider
from providers.registry import ProviderRegistry


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else None


def build_registry(settings: Settings, clock: Clock) -> ProviderRegistry:
    """Every provider is registered; one without credentials refuses to connect, saying why."""
    registry = ProviderRegistry()
    registry.register("local", lambda: LocalProvider(settings.tts_command, clock=clock))
    registry.register(
        "gemini",
        lambda: GeminiLiveProvider(
            _secret(settings.gemini_api_key), settings.gemini_live_url, clock=clock
        ),
    )
    registry.register(
        "openai",
        lambda: OpenAIRealtimeProvider(
            _secret(settings.openai_api_key), settings.openai_realtime_url, clock=clock
        ),
    )
    return registry
