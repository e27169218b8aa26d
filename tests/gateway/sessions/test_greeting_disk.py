"""The greeting cache's files: what one run kept, the next reads back (a restart); corrupt,
partial and foreign files are ignored; the directory stays within its bound."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.sessions import greeting_files
from gateway.sessions.greeting_cache import GreetingCache, GreetingKey
from gateway.sessions.greeting_disk import GreetingDisk
from kinds.audio import PCM16_24K, PCMU_8K

ONE_SECOND = b"\x01\x00" * 24_000  # PCM16 24 kHz
CHUNKS = [ONE_SECOND[:1000], ONE_SECOND[1000:]]


def key(text: str = "Hello, Acme here.", config: str = "c1") -> GreetingKey:
    return GreetingKey("openai", "gpt-realtime", "alloy", text, PCM16_24K, config)


def greeting_names(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("*.greeting")}


async def kept(directory: Path, *keys: GreetingKey, disk_bytes: int = 10**7) -> GreetingDisk:
    """A node that keeps ``keys``' greetings (one second each) and is shut down."""
    disk = GreetingDisk(GreetingCache(10 * len(ONE_SECOND)), directory, disk_bytes)
    await disk.start()
    for each in keys:
        assert disk.cache.put(each, CHUNKS) is not None
    await disk.flushed()
    await disk.aclose()
    return disk


async def restarted(directory: Path) -> GreetingCache:
    disk = GreetingDisk(GreetingCache(10 * len(ONE_SECOND)), directory, 10**7)
    await disk.start()
    await disk.aclose()
    return disk.cache


async def test_a_restarted_node_reads_back_the_greetings_kept_before(tmp_path: Path) -> None:
    await kept(tmp_path, key())
    cache = await restarted(tmp_path)
    greeting = cache.get(key())
    assert greeting is not None
    assert greeting.chunks == tuple(CHUNKS)  # chunk for chunk, as the provider streamed them
    assert greeting.text == "Hello, Acme here."
    assert greeting.duration_ms == 1000
    # what makes the greeting valid is all in the key: another config or format is not it
    assert cache.get(key(config="c2")) is None
    assert cache.get(GreetingKey("openai", "gpt-realtime", "alloy", key().text, PCMU_8K)) is None


async def test_corrupt_partial_and_temporary_files_are_ignored(tmp_path: Path) -> None:
    await kept(tmp_path, key("first"), key("second"), key("third"))
    first = tmp_path / greeting_files.file_name(key("first"))
    second = tmp_path / greeting_files.file_name(key("second"))
    first.write_bytes(first.read_bytes()[:-10])  # cut short
    data = bytearray(second.read_bytes())
    data[-1] ^= 0xFF  # one bit of audio wrong: the digest says so
    second.write_bytes(bytes(data))
    (tmp_path / "garbage.greeting").write_bytes(b"not a greeting")
    (tmp_path / "renamed.greeting").write_bytes(
        (tmp_path / greeting_files.file_name(key("third"))).read_bytes()
    )
    (tmp_path / ".half-written.tmp").write_bytes(b"KURAGRT1")
    cache = await restarted(tmp_path)
    assert cache.get(key("first")) is None
    assert cache.get(key("second")) is None
    assert cache.get(key("third")) is not None
    assert len(cache) == 1  # the copy under another name is no greeting's file
    assert greeting_names(tmp_path) == {greeting_files.file_name(key("third"))}


async def test_the_directory_keeps_within_its_bound_least_recently_played_out(
    tmp_path: Path,
) -> None:
    file_bytes = len(ONE_SECOND) + 512  # the audio and its header
    await kept(tmp_path, key("first"), key("second"), disk_bytes=3 * file_bytes)
    for age_s, name in ((300, "first"), (200, "second")):  # kept minutes apart
        path = tmp_path / greeting_files.file_name(key(name))
        os.utime(path, (path.stat().st_atime - age_s, path.stat().st_mtime - age_s))
    disk = GreetingDisk(GreetingCache(10 * len(ONE_SECOND)), tmp_path, 3 * file_bytes)
    await disk.start()
    assert disk.cache.get(key("first")) is not None  # played again: now the most recent
    disk.cache.put(key("third"), CHUNKS)
    disk.cache.put(key("fourth"), CHUNKS)
    await disk.flushed()
    await disk.aclose()
    expected = {greeting_files.file_name(key(n)) for n in ("first", "third", "fourth")}
    assert greeting_names(tmp_path) == expected  # "second" was the least recently played
