"""Provider name → factory. The gateway builds one registry at start-up from its settings."""

from __future__ import annotations

from collections.abc import Callable

from providers.base import Provider
from providers.errors import ProviderConfigError

ProviderFactory = Callable[[], Provider]


class ProviderRegistry:
    """Providers by the name an assistant's ``provider`` field uses; built lazily, once each."""

    def __init__(self) -> None:
        self._factories: dict[str, ProviderFactory] = {}
        self._instances: dict[str, Provider] = {}

    def register(self, name: str, factory: ProviderFactory) -> None:
        self._factories[name] = factory
        self._instances.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> Provider:
        if name not in self._factories:
            raise ProviderConfigError(f"unknown provider {name!r}", code="unknown_provider")
        if name not in self._instances:
            self._instances[name] = self._factories[name]()
        return self._instances[name]
