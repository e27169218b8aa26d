"""The gateway's turn marks for app audio: the caller's speech found in a 24 kHz stream."""

from __future__ import annotations

from gateway.sessions.turn_marks import TurnMark, TurnMarker
from kinds.audio import PCM16_24K
from tests.providers.local_helpers import BYTES_PER_MS, silence, speech_clip, voiced_span_ms


def test_one_utterance_is_marked_where_it_was_spoken() -> None:
    clip = speech_clip()
    marker = TurnMarker(PCM16_24K, silence_ms=500)
    audio = silence(500) + clip + silence(1500)
    marks: list[tuple[int, TurnMark]] = []
    for start in range(0, len(audio), 960):
        fed_ms = (start + 960) // BYTES_PER_MS
        marks += [(fed_ms, mark) for mark in marker.feed(audio[start : start + 960])]
    assert [mark.edge for _, mark in marks] == ["began", "ended"]
    (fed_began, began), (fed_ended, ended) = marks
    speech_ms = voiced_span_ms(clip)
    began_at, ended_at = fed_began - began.ms_ago, fed_ended - ended.ms_ago
    # Within the VAD's judgement of where quiet speech starts and ends.
    assert 450 <= began_at <= 800
    assert began_at + speech_ms - 200 <= ended_at <= began_at + speech_ms + 300
    assert ended.ms_ago >= 500  # reported once the silence has lasted


def test_silence_and_odd_chunks_give_no_marks() -> None:
    marker = TurnMarker(PCM16_24K, silence_ms=50)  # clamped to a sane 200 ms
    assert marker.feed(silence(3000)[:-1]) == []
    assert marker.feed(b"") == []
