"""The processes a chaos run breaks: a gateway node, its own Redis and a fake provider, each
restartable on the same port and files (unlike ``gateway_proc.spawned_gateway``, which starts
once and stops at the end). Everything stays on loopback, in one temporary directory; the Redis
here is a private ``redis-server`` on a free port, never a shared one."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .gateway_proc import FAKES, LISTENING, _env, _route_number, free_port

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05


@dataclass
class Child:
    """A restartable child process: the command, where its output goes, what it prints once
    ready (or ``None``: ready once started)."""

    name: str
    command: list[str]
    env: dict[str, str]
    workdir: Path
    ready: str | None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> float:
        """Start it and wait until ready; the seconds that took."""
        began = time.monotonic()
        self.starts += 1
        out_path = self.workdir / f"{self.name}.{self.starts}.out"
        with out_path.open("wb") as out, (self.workdir / f"{self.name}.log").open("ab") as err:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.workdir, stdout=out, stderr=err
            )
        deadline = began + START_TIMEOUT_S
        while self.ready is not None and self.ready not in out_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.workdir / f"{self.name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} did not start ({self.process.poll()}):\n{tail}")
            time.sleep(POLL_S)
        return time.monotonic() - began

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when the machine or the OOM killer takes it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Rig:
    """A gateway on SQLite in ``workdir``, with optional Redis and fake provider."""

    workdir: Path
    gateway: Child
    url: str
    auth_token: str
    number: str
    redis: Child | None = None
    provider: Child | None = None
    children: list[Child] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.workdir / "kura.db"

    def wait_ready(self) -> float:
        """Until ``/api/v1/health/ready`` answers 200 (the database and Redis are up)."""
        began = time.monotonic()
        while time.monotonic() - began < START_TIMEOUT_S:
            ready = self.url + "/api/v1/health/ready"  # loopback, built from free_port()
            with contextlib.suppress(OSError), urllib.request.urlopen(ready, timeout=1) as reply:  # noqa: S310
                if reply.status == 200:
                    return time.monotonic() - began
            time.sleep(POLL_S)
        raise RuntimeError(f"gateway at {self.url} not ready within {START_TIMEOUT_S:g} s")


def _redis(workdir: Path) -> tuple[Child, str]:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    return Child("redis", command, {}, workdir, "Ready to accept connections"), (
        f"redis://127.0.0.1:{port}/0"
    )


@contextlib.contextmanager
def rig(*, provider: str = "local", with_redis: bool = False) -> Iterator[Rig]:
    """A started rig; every child is stopped on the way out, and the directory removed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kura-chaos-") as tmp:
        workdir = Path(tmp)
        port, token = free_port(), secrets.token_hex(16)
        url = f"http://127.0.0.1:{port}"
        settings = {"KURA_TWILIO_AUTH_TOKEN": token, "KURA_PUBLIC_URL": url,
                    "KURA_TTS_COMMAND": "off"}  # fmt: skip
        children: list[Child] = []
        try:
            redis = fake = None
            if with_redis:
                redis, settings["KURA_REDIS_URL"] = _redis(workdir)
                children.append(redis)
                redis.start()
            if provider in FAKES:
                spec, fake_port = FAKES[provider], free_port()
                command = [sys.executable, "-m", spec.module, "--port", str(fake_port)]
                fake = Child(provider, command, _env(workdir), workdir, spec.banner)
                children.append(fake)
                fake.start()
                settings.update(spec.settings(fake_port))
            env = _env(workdir, **settings)
            serve = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1",
                     "--port", str(port)]  # fmt: skip
            gateway = Child("kura-serve", serve, env, workdir, LISTENING)
            children.append(gateway)
            gateway.start()
            node = Rig(workdir, gateway, url, token, "+15550002222", redis, fake, children)
            node.wait_ready()
            _route_number(env, workdir, provider, "twilio", "Hello, how can I help?")
            yield node
        finally:
            for child in reversed(children):
                child.stop()
