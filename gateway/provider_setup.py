"""Builds the provider registry from settings: the one place provider credentials are read."""

from __future__ import annotations

from config import Settings
from providers.clock import Clock
from providers.local import LocalProvider
from providers.registry import ProviderRegistry


def build_registry(settings: Settings, clock: Clock) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register("local", lambda: LocalProvider(settings.tts_command, clock=clock))
    return registry
