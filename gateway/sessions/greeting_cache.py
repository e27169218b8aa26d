"""The greeting's audio, kept from one call for the next (issue #20: "the greeting is ready when
the call connects").

An assistant's greeting is known text, so the audio a provider made for it can be played at once
on the next call instead of waiting for a connect and a response. An entry is keyed by everything
that shapes the sound: provider, model, voice, greeting text and audio format. Changing the
assistant's greeting or voice changes the key, so a stale entry is never found again and ages out
of the memory bound (least recently used first).

Only a greeting the model said word for word (its own transcript, compared as words) is kept:
a model that paraphrased once should not have that paraphrase replayed to every caller.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from kinds.audio import AudioFormat
from providers.spec import AssistantSpec

__all__ = [
    "CachedGreeting",
    "GreetingCache",
    "GreetingKey",
    "config_digest",
    "greeting_cache",
    "said_verbatim",
]

_WORD = re.compile(r"[\w']+")
MAX_GREETING_S = 30.0
"""Longer than any greeting: a response that long was not one, and is not kept."""


@dataclass(frozen=True, slots=True)
class GreetingKey:
    """What a greeting's audio depends on (``None``: the provider's default model or voice)."""

    provider: str
    model: str | None
    voice: str | None
    text: str
    audio: AudioFormat
    config: str = ""
    """``config_digest`` of the assistant: instructions can shape how the greeting sounds."""


def config_digest(spec: AssistantSpec) -> str:
    """A digest of the assistant's settings, other than the key's own fields, that may change
    how the model says its greeting (tone, accent or pace asked for in the instructions)."""
    fields = [spec.instructions, spec.language_code, spec.temperature]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CachedGreeting:
    """A greeting's audio as the provider streamed it (its ``output_audio`` format)."""

    chunks: tuple[bytes, ...]
    text: str
    duration_ms: int

    @property
    def size_bytes(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


def said_verbatim(greeting: str, transcript: str) -> bool:
    """Whether the transcript is the greeting, word for word (case and punctuation aside)."""
    said = _WORD.findall(transcript.lower())
    return bool(said) and said == _WORD.findall(greeting.lower())


class GreetingCache:
    """Greetings' audio in memory, at most ``max_bytes`` of it (one node's, least recently used
    dropped first)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[GreetingKey, CachedGreeting] = OrderedDict()
        self._size_bytes = 0
        self.on_put: Callable[[GreetingKey, CachedGreeting], None] | None = None
        """Told of each greeting kept (``GreetingDisk`` writes it to a file)."""
        self.on_hit: Callable[[GreetingKey], None] | None = None
        """Told of each greeting found (its file is marked recently used)."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._size_bytes

    def get(self, key: GreetingKey) -> CachedGreeting | None:
        greeting = self._entries.get(key)
        if greeting is not None:
            self._entries.move_to_end(key)
            if self.on_hit is not None:
                self.on_hit(key)
        return greeting

    def put(self, key: GreetingKey, chunks: list[bytes]) -> CachedGreeting | None:
        """Keep this greeting's audio (returned), unless it is empty, too long or too large."""
        size = sum(len(chunk) for chunk in chunks)
        duration_ms = size // key.audio.bytes_per_ms
        if not size or duration_ms > MAX_GREETING_S * 1000 or size > self.max_bytes:
            return None
        greeting = CachedGreeting(tuple(chunks), key.text, duration_ms)
        self.restore(key, greeting)
        if self.on_put is not None:
            self.on_put(key, greeting)
        return greeting

    def restore(self, key: GreetingKey, greeting: CachedGreeting) -> None:
        """Hold a greeting kept earlier (read back from its file) as the most recently used."""
        self.forget(key)
        self._entries[key] = greeting
        self._size_bytes += greeting.size_bytes
        while self._size_bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._size_bytes -= dropped.size_bytes

    def forget(self, key: GreetingKey) -> None:
        """Drop the entry (a replay the provider could not take up)."""
        dropped = self._entries.pop(key, None)
        if dropped is not None:
            self._size_bytes -= dropped.size_bytes


def greeting_cache(size_mb: float) -> GreetingCache | None:
    """The node's cache of ``size_mb`` (``Settings.greeting_cache_mb``); None when it is 0."""
    return GreetingCache(int(size_mb * 1024 * 1024)) if size_mb > 0 else None
