"""The local provider: no network, deterministic chat, voice loopback and optional espeak-ng."""
