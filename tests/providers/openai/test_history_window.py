"""A re-seeded OpenAI connection replays at most the session's ``context_window`` utterances."""

from __future__ import annotations

from providers.openai_realtime.history import ConversationHistory
from providers.spec import HistoryItem, recent_history


def _texts(history: ConversationHistory) -> list[str]:
    texts = []
    for item in history.replay_items():
        content = item.get("content") or [{}]
        texts.append(content[0].get("text", item["type"]))
    return texts


def test_replay_keeps_the_last_window_utterances() -> None:
    seed = [HistoryItem("user" if i % 2 else "assistant", f"u{i}") for i in range(6)]
    assert _texts(ConversationHistory(seed, window=3)) == ["u3", "u4", "u5"]
    assert _texts(ConversationHistory(seed)) == [f"u{i}" for i in range(6)]
    assert _texts(ConversationHistory(seed, window=0)) == []


def test_a_tool_output_is_never_replayed_without_its_call() -> None:
    history = ConversationHistory([HistoryItem("user", "book me")], window=1)
    history.add_function_call("c1", "book", "{}")
    history.add_function_output("c1", '{"ok": true}')
    history.add_user_text("thanks")
    assert _texts(history) == ["thanks"]
    history = ConversationHistory([HistoryItem("user", "book me")], window=2)
    history.add_function_call("c1", "book", "{}")
    history.add_function_output("c1", '{"ok": true}')
    history.add_user_text("thanks")
    assert _texts(history) == ["book me", "function_call", "function_call_output", "thanks"]


def test_recent_history_for_gemini() -> None:
    items = [HistoryItem("user", str(i)) for i in range(5)]
    assert [i.text for i in recent_history(items, 2)] == ["3", "4"]
    assert recent_history(items, 0) == []
    assert len(recent_history(items, 50)) == 5
