"""Greetings' audio as files, so a restarted node replays them at once instead of paying the
first call of each assistant a cold greeting (issue #20).

One file per ``GreetingKey``, named by a digest of the key: a greeting made under another voice,
model, format or assistant configuration has another name and is never read for this one. A
file is ``MAGIC``, a JSON header (the key, the text, the chunk sizes, a SHA-256 of the audio) and
the audio. Files are written to a temporary name and renamed, so a reader (this node after a
crash, or another node sharing the directory) sees a whole file or none; a file whose magic,
header, size or digest does not check out (a disk error, a format from another version) is
ignored and removed. The directory is bounded: past ``max_bytes`` the least recently used files
(by modification time, refreshed on each replay) are removed first.

Synchronous file work only: ``GreetingDisk`` runs it in a thread, off the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.sessions.greeting_cache import CachedGreeting, GreetingKey
from kinds.audio import AudioFormat

__all__ = ["GreetingFile", "evict", "file_name", "load_greetings", "touch", "write_greeting"]

log = logging.getLogger(__name__)

MAGIC = b"KURAGRT1"  # the format's version is its last byte: another version is ignored
SUFFIX = ".greeting"
_HEADER_SIZE = struct.Struct(">I")
_MAX_HEADER_BYTES = 64 * 1024  # a key and a greeting's text are far smaller: more is corrupt
# A temporary file this old was left by a writer that died (a write takes milliseconds);
# younger ones may be another node's write in progress.
_STALE_TEMP_S = 3600.0


@dataclass(frozen=True, slots=True)
class GreetingFile:
    """A greeting read back from its file."""

    key: GreetingKey
    greeting: CachedGreeting


def file_name(key: GreetingKey) -> str:
    """The file of ``key``: a digest of every field, so no two keys share one."""
    fields = _key_fields(key)
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return digest[:40] + SUFFIX


def encode(key: GreetingKey, greeting: CachedGreeting) -> bytes:
    audio = b"".join(greeting.chunks)
    header = _key_fields(key) | {
        "duration_ms": greeting.duration_ms,
        "chunks": [len(chunk) for chunk in greeting.chunks],
        "sha256": hashlib.sha256(audio).hexdigest(),
    }
    encoded = json.dumps(header, sort_keys=True).encode()
    return MAGIC + _HEADER_SIZE.pack(len(encoded)) + encoded + audio


def decode(data: bytes, name: str) -> GreetingFile | None:
    """The greeting in ``data`` read from file ``name``, or None if anything fails to check."""
    start = len(MAGIC) + _HEADER_SIZE.size
    if len(data) < start or not data.startswith(MAGIC):
        return None
    (size,) = _HEADER_SIZE.unpack_from(data, len(MAGIC))
    if size > _MAX_HEADER_BYTES or len(data) < start + size:
        return None
    try:
        header = json.loads(data[start : start + size])
        key = _key_of(header)
        sizes = [int(n) for n in header["chunks"]]
        duration_ms, digest = int(header["duration_ms"]), str(header["sha256"])
    except (ValueError, KeyError, TypeError):
        return None
    audio = data[start + size :]
    if file_name(key) != name or sum(sizes) != len(audio) or min(sizes, default=0) <= 0:
        return None
    if hashlib.sha256(audio).hexdigest() != digest:
        return None
    chunks, offset = [], 0
    for n in sizes:
        chunks.append(audio[offset : offset + n])
        offset += n
    return GreetingFile(key, CachedGreeting(tuple(chunks), key.text, duration_ms))


def write_greeting(directory: Path, key: GreetingKey, greeting: CachedGreeting) -> None:
    """Write the greeting's file atomically (a temporary file renamed over it)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = file_name(key)
    temp = directory / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with temp.open("wb") as out:
            out.write(encode(key, greeting))
            out.flush()
            os.fsync(out.fileno())  # the rename must not outlive the data in a power cut
        os.replace(temp, directory / name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def touch(directory: Path, key: GreetingKey) -> None:
    """Mark the greeting's file used now (eviction removes the least recently used)."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(directory / file_name(key))


def evict(directory: Path, max_bytes: int) -> int:
    """Remove the least recently used files until the rest fit ``max_bytes``; how many went."""
    files = sorted(_files(directory), key=lambda found: found[1].st_mtime)
    total = sum(stat.st_size for _, stat in files)
    removed = 0
    for path, stat in files:
        if total <= max_bytes:
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        total -= stat.st_size
        removed += 1
    return removed


def load_greetings(directory: Path, max_bytes: int) -> list[GreetingFile]:
    """The directory's valid greetings, most recently used first, as many as fit ``max_bytes``
    of audio; corrupt files and stale temporary ones are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(directory)
    found: list[GreetingFile] = []
    size = 0
    for path, _ in sorted(_files(directory), key=lambda f: f[1].st_mtime, reverse=True):
        try:
            entry = decode(path.read_bytes(), path.name)
        except OSError:
            continue  # removed meanwhile, or unreadable: not this node's to fix
        if entry is None:
            log.warning("greeting file ignored: corrupt or of another version")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        if size + entry.greeting.size_bytes > max_bytes:
            break
        size += entry.greeting.size_bytes
        found.append(entry)
    return found


def _files(directory: Path) -> list[tuple[Path, os.stat_result]]:
    files = []
    for path in directory.glob(f"*{SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            files.append((path, path.stat()))
    return files


def _remove_stale_temps(directory: Path) -> None:
    now = time.time()
    for path in directory.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime > _STALE_TEMP_S:
                path.unlink()


def _key_fields(key: GreetingKey) -> dict[str, Any]:
    return {
        "provider": key.provider,
        "model": key.model,
        "voice": key.voice,
        "text": key.text,
        "encoding": key.audio.encoding,
        "sample_rate_hz": key.audio.sample_rate_hz,
        "config": key.config,
    }


def _key_of(header: dict[str, Any]) -> GreetingKey:
    encoding = header["encoding"]
    if encoding not in ("pcm16", "pcmu", "pcma"):
        raise ValueError("unknown audio encoding")
    model, voice = header["model"], header["voice"]
    return GreetingKey(
        provider=str(header["provider"]),
        model=None if model is None else str(model),
        voice=None if voice is None else str(voice),
        text=str(header["text"]),
        audio=AudioFormat(encoding, int(header["sample_rate_hz"])),
        config=str(header["config"]),
    )
