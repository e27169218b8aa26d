"""The local provider: no network, deterministic chat, voice loopback and optional espeak-ng."""

from providers.local.provider import LOCAL_CAPABILITIES, LocalProvider, LocalSession

__all__ = ["LOCAL_CAPABILITIES", "LocalProvider", "LocalSession"]
