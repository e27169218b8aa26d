"""``AudioBatcher``: small chunks gather into batches, in order, and nothing is lost."""

from __future__ import annotations

from providers.toolkit.batch import AudioBatcher


def test_frames_gather_until_the_batch_is_full() -> None:
    batcher = AudioBatcher(320)
    assert batcher.add(b"a" * 160) is None
    assert len(batcher) == 160
    assert batcher.add(b"b" * 160) == b"a" * 160 + b"b" * 160
    assert len(batcher) == 0 and batcher.take() is None


def test_a_big_chunk_goes_alone_and_uncopied() -> None:
    chunk = b"x" * 640
    assert AudioBatcher(320).add(chunk) is chunk


def test_take_returns_what_is_held() -> None:
    batcher = AudioBatcher(480)
    batcher.add(b"1" * 160)
    batcher.add(b"2" * 160)
    assert batcher.take() == b"1" * 160 + b"2" * 160
    assert batcher.take() is None


def test_zero_batch_sends_every_chunk() -> None:
    batcher = AudioBatcher(0)
    assert batcher.add(b"\x00" * 2) == b"\x00" * 2
    assert batcher.add(b"") == b""
