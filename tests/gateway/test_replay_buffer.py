"""The replay buffer behind resume: session-wide numbering, two capped lanes, exact replays."""

from __future__ import annotations

import json

import pytest

from gateway.api.replay import TEXT_BUFFER_BYTES, ReplayBuffer, ReplayGap
from gateway.api.sequence import MessageSequence


def _buffer(audio_bytes: int = 1000) -> ReplayBuffer:
    return ReplayBuffer(MessageSequence(turn_events=False), audio_bytes=audio_bytes)


def _seqs(texts: list[str]) -> list[int]:
    return [json.loads(text)["seq"] for text in texts]


def test_messages_are_numbered_for_the_session_and_replayed_in_order() -> None:
    buffer = _buffer()
    stamped = [
        buffer.add('{"type":"sessionOpen"}', audio=False),
        buffer.add('{"type":"agentAudioChunk","audio":"AA"}', audio=True),
        buffer.add('{"type":"transcriptionUpdate"}', audio=False),
        buffer.add('{"type":"agentAudioChunk","audio":"BB"}', audio=True),
    ]
    assert _seqs(stamped) == [1, 2, 3, 4]
    assert buffer.since(1, audio=True) == stamped[1:]
    assert buffer.since(1, audio=False) == [stamped[2]]  # audio skipped: a gap at 2 and 4
    assert buffer.since(4, audio=True) == []


def test_a_last_seq_never_sent_is_refused() -> None:
    buffer = _buffer()
    buffer.add('{"type":"sessionOpen"}', audio=False)
    with pytest.raises(ValueError, match="between 0 and 1"):
        buffer.since(2, audio=True)


def test_audio_over_the_cap_is_dropped_first_and_only_audio_resumes_fail() -> None:
    buffer = _buffer(audio_bytes=200)
    buffer.add('{"type":"sessionOpen"}', audio=False)
    for _ in range(10):  # ~50 bytes each: only the last few fit
        buffer.add('{"type":"agentAudioChunk","audio":"' + "A" * 16 + '"}', audio=True)
    done = buffer.add('{"type":"turnComplete"}', audio=False)
    assert buffer.size_bytes <= 200 + 2 * 64
    with pytest.raises(ReplayGap) as gap:
        buffer.since(1, audio=True)
    assert gap.value.audio_only
    assert buffer.since(1, audio=False) == [done]
    kept = buffer.since(9, audio=True)  # the newest audio is still all there
    assert _seqs(kept) == [10, 11, 12]


def test_skipping_audio_drops_it_for_later_resumes_too() -> None:
    buffer = _buffer()
    buffer.add('{"type":"sessionOpen"}', audio=False)
    buffer.add('{"type":"agentAudioChunk","audio":"AA"}', audio=True)
    buffer.skip_audio()
    with pytest.raises(ReplayGap):
        buffer.since(1, audio=True)
    buffer.add('{"type":"agentAudioChunk","audio":"BB"}', audio=True)
    assert _seqs(buffer.since(2, audio=True)) == [3]


def test_text_over_its_cap_makes_older_resumes_impossible() -> None:
    buffer = _buffer()
    big = '{"type":"transcriptionUpdate","text":"' + "x" * 1000 + '"}'
    for _ in range(TEXT_BUFFER_BYTES // 1000 + 5):
        buffer.add(big, audio=False)
    with pytest.raises(ReplayGap) as gap:
        buffer.since(0, audio=False)
    assert not gap.value.audio_only
