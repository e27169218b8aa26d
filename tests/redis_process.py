"""A private ``redis-server`` on a free loopback port, for tests that stop and restart Redis.

Never the machine's shared Redis: other tests and developers rely on that one staying up.
Nothing is persisted (``--save ""``), so a restart comes back empty, like a failed-over cache.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import IN_CI
from tests.kura_process import free_port

START_TIMEOUT_S = 10.0


@dataclass
class RedisProcess:
    """One ``redis-server`` child that a test may kill and start again on the same port."""

    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                time.sleep(0.02)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer on port {self.port} in {START_TIMEOUT_S} s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(f"{message} (required under CI=true)")
        pytest.skip(message)
    server = RedisProcess(workdir, free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()
