"""Caller frames written straight onto a client WebSocket's transport: the load test's fast path.

At a few hundred calls the generator sends tens of thousands of frames a second, and each one
through ``ClientWebSocketResponse.send_str`` costs three layers of coroutines and copies on top
of the ``write`` itself. From the shared ticker a frame is written here instead: one header, a
fresh masking key per frame (RFC 6455 §5.3: the gateway sees exactly the frames aiohttp would
send) and one ``transport.write``. Control messages still go through aiohttp; both write
synchronously to the same transport, so the order on the wire is the order of the calls.

There is no drain: a load step is bounded, and a transport whose buffer grows past
``BACKLOG_BYTES`` means the gateway stopped reading, which is counted (``backlogged``) as the
gateway's miss, never hidden as the generator's lag.
"""

from __future__ import annotations

import random
import struct
from typing import Any, Protocol

BACKLOG_BYTES = 64 * 1024  # aiohttp's own drain limit for a websocket writer
_TEXT, _BINARY = 0x1, 0x2
_FIN, _MASKED = 0x80, 0x80
_HEAD_SHORT, _HEAD_MEDIUM = struct.Struct("!BB"), struct.Struct("!BBH")


class _Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def is_closing(self) -> bool: ...
    def get_write_buffer_size(self) -> int: ...


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``key`` repeated (one big-integer XOR, not a byte loop)."""
    n = len(payload)
    ones, low = _ones(n)
    repeated = int.from_bytes(key, "little") * ones & low
    return (int.from_bytes(payload, "little") ^ repeated).to_bytes(n, "little")


_ONES: dict[int, tuple[int, int]] = {}


def _ones(n: int) -> tuple[int, int]:
    """For ``n`` bytes: the integer whose little-endian bytes are ``01 00 00 00`` repeated (a
    4-byte key times it is the key repeated: no carries, each product fits its 4 bytes), and
    the mask of the low ``n`` bytes (the last repetition may be cut short)."""
    found = _ONES.get(n)
    if found is None:
        ones = int.from_bytes(b"\x01\0\0\0" * (n // 4 + 1), "little")
        found = _ONES[n] = (ones, (1 << 8 * n) - 1)
    return found


def client_frame(payload: bytes, opcode: int, key: bytes) -> bytes:
    """One final, masked client frame (payloads below 64 KiB: a media frame is ~300 bytes)."""
    n = len(payload)
    if n < 126:
        head = _HEAD_SHORT.pack(_FIN | opcode, _MASKED | n)
    elif n < 65536:
        head = _HEAD_MEDIUM.pack(_FIN | opcode, _MASKED | 126, n)
    else:
        raise ValueError("a caller frame is never 64 KiB")
    return head + key + mask(payload, key)


class RawFrames:
    """Synchronous text and binary frames on one client socket's transport."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport
        self._random = random.Random()
        self.backlogged = 0  # writes after which the gateway had not read what we sent

    @classmethod
    def of(cls, ws: Any) -> RawFrames | None:
        """The fast path for an aiohttp client socket, or ``None`` (aiohttp's internals
        changed: the caller then sends through aiohttp, correctly if more slowly)."""
        transport = getattr(getattr(ws, "_writer", None), "transport", None)
        needed = ("write", "is_closing", "get_write_buffer_size")
        if transport is None or not all(hasattr(transport, name) for name in needed):
            return None
        return cls(transport)

    def text(self, data: str) -> None:
        self._write(data.encode(), _TEXT)

    def binary(self, data: bytes) -> None:
        self._write(data, _BINARY)

    def _write(self, payload: bytes, opcode: int) -> None:
        if self._transport.is_closing():
            raise ConnectionResetError("the media socket is closing")
        key = self._random.getrandbits(32).to_bytes(4, "big")
        self._transport.write(client_frame(payload, opcode, key))
        if self._transport.get_write_buffer_size() > BACKLOG_BYTES:
            self.backlogged += 1
