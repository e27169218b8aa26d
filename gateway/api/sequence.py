"""The app socket's message numbering and opt-in events (docs/protocol.md, "seq").

Every server message on an app WebSocket carries ``seq``: 1 for the first (``sessionOpen``),
then one more for each message, in the order sent, so a client can tell it missed nothing.
The number is written into the JSON text the message was already encoded to, so agent audio is
not serialised twice. ``turnStarted`` goes only to clients that asked for it
(``?events=turns`` on the URL or ``"events": ["turns"]`` at session creation).
"""

from __future__ import annotations

from gateway.sessions.protocol import ServerMessage, TurnStarted

EVENT_NAMES = frozenset({"turns"})


def events_asked(query_value: str | None) -> frozenset[str]:
    """The opt-in events named in ``?events=`` (comma-separated; unknown names are ignored,
    as clients ignore unknown fields)."""
    if not query_value:
        return frozenset()
    return frozenset(name.strip() for name in query_value.split(",")) & EVENT_NAMES


class MessageSequence:
    """Numbers one socket's server messages and filters the opt-in ones."""

    def __init__(self, *, turn_events: bool) -> None:
        self._turn_events = turn_events
        self.last_seq = 0

    def wanted(self, message: ServerMessage) -> bool:
        return self._turn_events or not isinstance(message, TurnStarted)

    def stamp(self, encoded: str) -> str:
        """``encoded`` (one JSON object) with the next ``seq`` as its first field."""
        self.last_seq += 1
        return f'{{"seq":{self.last_seq},{encoded[1:]}'
