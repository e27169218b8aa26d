"""The local demo's deterministic replies and how they are cut into transcript deltas."""

from __future__ import annotations

from providers.local.replies import ECHO_MAX_CHARS, bounded_echo, chat_reply, transcript_deltas


def test_reply_says_it_is_the_local_demo_and_echoes_the_text() -> None:
    reply = chat_reply("  Book a table\nfor two ")
    assert reply == chat_reply("Book a table for two")
    assert "Kura's local demo" in reply and '"Book a table for two"' in reply


def test_echo_is_bounded() -> None:
    echo = bounded_echo("word " * 500)
    assert len(echo) == ECHO_MAX_CHARS and echo.endswith("…")
    assert len(chat_reply("x" * 10_000)) < ECHO_MAX_CHARS + 60


def test_empty_text_gets_a_reply_too() -> None:
    assert "local demo" in chat_reply("   ")


def test_deltas_concatenate_back_to_the_text() -> None:
    text = chat_reply("one two three four five six seven eight nine")
    deltas = transcript_deltas(text)
    assert "".join(deltas) == text
    assert len(deltas) > 1
    assert transcript_deltas("") == []
    assert transcript_deltas("a  b") == ["a  b"]
