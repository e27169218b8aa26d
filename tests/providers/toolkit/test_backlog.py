"""The bounded audio backlog: oldest dropped first, put back first, newest taken last."""

from __future__ import annotations

from providers.toolkit.backlog import AudioBacklog

C1, C2, C3 = b"\x01" * 4, b"\x02" * 4, b"\x03" * 4


def test_holds_chunks_in_order_and_drains_them() -> None:
    backlog = AudioBacklog(max_bytes=100)
    for chunk in (C1, C2, C3):
        backlog.append(chunk)
    assert (len(backlog), backlog.size_bytes) == (3, 12)
    assert backlog.drain() == [C1, C2, C3]
    assert (len(backlog), backlog.size_bytes) == (0, 0)


def test_beyond_its_bound_the_oldest_audio_is_dropped_and_counted() -> None:
    backlog = AudioBacklog(max_bytes=8)
    for chunk in (C1, C2, C3):
        backlog.append(chunk)
    assert backlog.dropped_bytes == 4
    assert backlog.drain() == [C2, C3]


def test_a_chunk_put_back_stays_first_in_line() -> None:
    backlog = AudioBacklog(max_bytes=8)
    backlog.append(C1)
    backlog.append(C2)
    first = backlog.popleft()
    backlog.appendleft(first)
    assert backlog.popleft() == C1 and backlog.popleft() == C2
    assert not backlog


def test_drain_last_takes_the_newest_audio_cut_at_its_front() -> None:
    backlog = AudioBacklog(max_bytes=100)
    for chunk in (C1, C2, C3):
        backlog.append(chunk)
    assert backlog.drain_last(6) == [b"\x02\x02", C3]
    assert not backlog and backlog.size_bytes == 0


def test_drain_last_gives_everything_held_when_asked_for_more() -> None:
    backlog = AudioBacklog(max_bytes=100)
    backlog.append(C1)
    backlog.append(C2)
    assert backlog.drain_last(1_000) == [C1, C2]
    backlog.append(C3)
    assert backlog.drain_last(0) == [] and not backlog
