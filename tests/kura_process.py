"""``kura`` as a real subprocess, the way operators and scripts run it.

The child runs this worktree's code (``PYTHONPATH``), in a temporary directory (so a developer's
``.env`` or ``kura.db`` cannot leak in), with every inherited ``KURA_*`` variable removed.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
KURA = (sys.executable, "-m", "gateway.cli")
COMMAND_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LISTENING = "Kura gateway listening on "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def kura_env(database_url: str, **settings: str) -> dict[str, str]:
    """The caller's environment without ``KURA_*``, plus the database and ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KURA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["KURA_DATABASE_URL"] = database_url
    env.update(settings)
    return env


def run_kura(
    *args: str, database_url: str, cwd: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    """One ``kura`` command to completion, its output captured."""
    return subprocess.run(
        [*KURA, *args],
        env=kura_env(database_url, **settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@dataclass
class KuraServer:
    """A ``kura serve`` child: its stdout lines (read by a thread) and its stderr log file."""

    process: subprocess.Popen[str]
    port: int
    stderr_path: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stdout: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_line(self, prefix: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """The first stdout line starting with ``prefix``; fails if the child exits first."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"kura serve exited ({self.process.wait()}) first:\n{self.log()}")
            if line.startswith(prefix):
                return line
        pytest.fail(f"no {prefix!r} line from kura serve in {timeout_s} s:\n{self.log()}")

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Poll the health endpoint until it answers 200, within a bounded deadline."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"kura serve exited ({self.process.returncode}):\n{self.log()}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        pytest.fail(f"kura serve was not healthy within {timeout_s} s:\n{self.log()}")

    def terminate(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then the exit code; kills the child and fails if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"kura serve ignored SIGTERM for {timeout_s} s:\n{self.log()}")


def _pump(server: KuraServer) -> None:
    assert server.process.stdout is not None
    for raw in server.process.stdout:
        line = raw.rstrip("\n")
        server.stdout.append(line)
        server.lines.put(line)
    server.lines.put(None)


@contextlib.contextmanager
def kura_serve(
    workdir: Path,
    database_url: str,
    *,
    wait_healthy: bool = True,
    port: int | None = None,
    **settings: str,
) -> Iterator[KuraServer]:
    """``kura serve --port N`` on ``port`` or a free loopback port; yields once it has printed
    its "listening" line and (unless ``wait_healthy`` is false) its health endpoint answers.
    Stopped on the way out (SIGTERM, then SIGKILL) if the test did not stop it."""
    port = port or free_port()
    stderr_path = workdir / f"kura-serve-{port}.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*KURA, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=kura_env(database_url, **settings),
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    server = KuraServer(process, port, stderr_path)
    reader = threading.Thread(target=_pump, args=(server,), daemon=True)
    reader.start()
    try:
        server.wait_for_line(LISTENING)
        if wait_healthy:
            server.wait_healthy()
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()
