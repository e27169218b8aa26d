"""Is the client at the other end of a WebSocket still taking what we send?

A client that stops reading is not seen by the writer until every buffer between us fills:
the client's receive window, our kernel send buffer, the transport's buffer, then our queue.
At real-time audio rates that took 8.3 s (reliability.md row 28 asks ≤ 5 s). Instead of
waiting for the buffers, :class:`SendProgress` asks the kernel how many bytes the client has
acknowledged (``TCP_INFO``): when bytes wait to go out and the acknowledged count has not moved
for ``NO_PROGRESS_S``, the client is not reading. A client that reads slowly but keeps up with
real time acknowledges something every round trip, so it is never taken for a stalled one.

Where ``TCP_INFO`` is missing (not Linux), the bytes waiting in our process stand in: above
``STALLED_BYTES`` for ``NO_PROGRESS_S`` counts as stalled, which is later but still bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

NO_PROGRESS_S = 3.0
"""How long bytes may wait with none of them acknowledged. The client's own receive window
absorbs a second or two of audio before acknowledgements stop, so 3 s keeps the whole drop
within the row's 5 s; a reading client acknowledges within a round trip."""
CHECK_EVERY_S = 0.25
SEND_BUFFER_BYTES = 64 * 1024
"""The kernel's send buffer for an app socket. Left to autotuning it grows to megabytes (about
45 s of agent audio as JSON) that a client that stops reading fills without one write blocking."""
NOTSENT_LOWAT_BYTES = 16 * 1024
"""Unsent bytes the kernel holds before the socket stops being writable: the rest waits in the
transport, where ``get_write_buffer_size`` sees it and aiohttp's drain pushes back on us."""
STALLED_BYTES = 64 * 1024
"""The fallback's bar: about a second of agent audio as JSON waiting in our process."""
_TCPI_BYTES_ACKED = 120
"""Offset of ``tcpi_bytes_acked`` (u64) in Linux's ``struct tcp_info`` (since Linux 4.1)."""
_TCP_INFO_LEN = 256


def bound_send_buffers(transport: asyncio.BaseTransport | None) -> None:
    """Keep the kernel from hiding a stalled client behind megabytes of buffered audio."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return
    for level, option, value in (
        (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_NOTSENT_LOWAT", None), NOTSENT_LOWAT_BYTES),
    ):
        if option is not None:
            with contextlib.suppress(OSError):  # best effort: a platform may refuse an option
                sock.setsockopt(level, option, value)


def _bytes_acked(sock: Any) -> int | None:
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except (OSError, AttributeError, ValueError):
        return None
    if len(info) < _TCPI_BYTES_ACKED + 8:
        return None  # a kernel older than the field
    return int(struct.unpack_from("Q", info, _TCPI_BYTES_ACKED)[0])


def _kernel_unacked(sock: Any) -> int:
    """Bytes in the kernel's send queue, sent or not, that the client has not acknowledged."""
    try:
        import fcntl  # POSIX only: elsewhere the fallback judges by our own buffer
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ on Linux
    except (ImportError, OSError, AttributeError, ValueError):
        return 0
    return int(struct.unpack("i", raw)[0])


class SendProgress:
    """Tracks whether the peer of ``transport`` takes what is written to it."""

    def __init__(
        self,
        transport: asyncio.BaseTransport | None,
        *,
        no_progress_s: float = NO_PROGRESS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._sock = transport.get_extra_info("socket") if transport is not None else None
        self._no_progress_s = no_progress_s
        self._clock = clock
        self._acked: int | None = None
        self._moved_at = clock()
        """When the client last took bytes, or nothing was waiting for it."""

    @property
    def no_progress_s(self) -> float:
        return self._no_progress_s

    def stalled(self) -> bool:
        """True once bytes have waited ``no_progress_s`` without the client taking any."""
        if self._sock is None:
            return False
        now = self._clock()
        acked = _bytes_acked(self._sock)
        if acked is None:  # no TCP_INFO: judge by what waits in our process
            moved = self._transport_buffer() <= STALLED_BYTES
        else:
            waiting = self._transport_buffer() + _kernel_unacked(self._sock)
            moved = acked != self._acked or waiting == 0
            self._acked = acked
        if moved:
            self._moved_at = now
            return False
        return now - self._moved_at >= self._no_progress_s

    def _transport_buffer(self) -> int:
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            return transport.get_write_buffer_size()
        return 0


async def watch_progress(
    progress: SendProgress,
    on_stall: Callable[[], Awaitable[None]],
    *,
    every_s: float = CHECK_EVERY_S,
) -> None:
    """Call ``on_stall`` once, when ``progress`` says the client stopped taking bytes."""
    # Polled: the kernel's acknowledgement count raises no event to wait on.
    stalled = False
    while not stalled:
        await asyncio.sleep(every_s)
        stalled = progress.stalled()
    log.info("socket peer stopped reading", extra={"no_progress_s": progress.no_progress_s})
    await on_stall()


@contextlib.asynccontextmanager
async def dropping_stalled_peer(
    transport: asyncio.BaseTransport | None, on_stall: Callable[[], Awaitable[None]]
) -> AsyncIterator[None]:
    """Watch ``transport`` for the duration of the block; ``on_stall`` runs to its end even
    if the block finishes meanwhile (it is usually what ends the block)."""
    fired = asyncio.Event()

    async def stall() -> None:
        fired.set()
        await on_stall()

    watch = asyncio.create_task(watch_progress(SendProgress(transport), stall), name="send-watch")
    try:
        yield
    finally:
        if not fired.is_set():
            watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
