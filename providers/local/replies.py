"""What the local provider writes: deterministic chat replies, honest about being a demo.

No model is involved, so each reply says it comes from Kura's local demo and echoes what it got,
cut to a bounded length so a huge message cannot become a huge reply (or a long synthesis).
"""

from __future__ import annotations

ECHO_MAX_CHARS = 200
"""Long enough to recognise your message, short enough to be spoken in a few seconds."""
DELTA_MAX_WORDS = 4
"""Words per transcript delta: streams like a real provider without one event per word."""


def bounded_echo(text: str, max_chars: int = ECHO_MAX_CHARS) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``max_chars`` with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    return flat[: max_chars - 1].rstrip() + "…"


def chat_reply(text: str) -> str:
    """The local demo's reply to a user text turn: the same input always gives the same reply."""
    echo = bounded_echo(text)
    if not echo:
        return "This is Kura's local demo. Your message was empty."
    return f'This is Kura\'s local demo. You wrote: "{echo}"'


def transcript_deltas(text: str, max_words: int = DELTA_MAX_WORDS) -> list[str]:
    """Split ``text`` into deltas that concatenate back to exactly ``text``."""
    words = text.split(" ")
    deltas = []
    for start in range(0, len(words), max_words):
        delta = " ".join(words[start : start + max_words])
        deltas.append(delta if start == 0 else " " + delta)
    return [delta for delta in deltas if delta]
