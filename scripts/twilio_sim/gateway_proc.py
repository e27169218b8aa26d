"""Start the system under test for a load test: ``kura serve`` pinned to one core, on a fresh
SQLite database, with a number routed to an assistant; optionally a fake provider (OpenAI
Realtime or Gemini Live) in its own process, so that its thinking is not charged to the gateway's
core. Also reads a process's CPU time from ``/proc/<pid>/stat``.

The children run this worktree's code (``PYTHONPATH``) in a temporary directory with every
inherited ``KURA_*`` variable removed, so a developer's ``.env`` or ``kura.db`` cannot leak in.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .carriers import CARRIERS

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+15550002222"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0
POLL_S = 0.05
LISTENING = "Kura gateway listening on "
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@dataclass(frozen=True)
class FakeProvider:
    """A fake provider server run as ``python -m <module> --port N``: the banner it prints
    once listening, the assistant provider that talks to it, and the gateway settings that
    point that provider at ``port``."""

    module: str
    banner: str
    assistant_provider: str
    settings: Callable[[int], dict[str, str]]


FAKES = {
    "openai-fake": FakeProvider(
        "tests.fakes.openai_realtime",
        "fake OpenAI Realtime on ",
        "openai",
        lambda port: {
            "KURA_OPENAI_API_KEY": "sk-test",
            "KURA_OPENAI_REALTIME_URL": f"ws://127.0.0.1:{port}/v1/realtime",
        },
    ),
    "gemini-fake": FakeProvider(
        "tests.fakes.gemini_live_default",
        "fake Gemini Live on ",
        "gemini",
        lambda port: {
            "KURA_GEMINI_API_KEY": "test-gemini-key",
            "KURA_GEMINI_LIVE_URL": f"ws://127.0.0.1:{port}{GEMINI_PATH}",
        },
    ),
}
PROVIDERS = ("local", *FAKES)


@dataclass(frozen=True)
class Spawned:
    """A running gateway as the load test sees it."""

    url: str
    auth_token: str
    number: str
    pid: int
    log_path: Path
    fake_pid: int | None = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_wait_s(pid: int | None = None) -> float | None:
    """Seconds the main thread of ``pid`` (default: this process) was runnable but waited for
    a CPU (``/proc/<pid>/schedstat``, field 2); ``None`` where the kernel does not keep it."""
    try:
        return int(Path(f"/proc/{pid or 'self'}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def own_cpu_seconds() -> float:
    """This process's user + system CPU seconds (children excluded)."""
    times = os.times()
    return times.user + times.system


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(workdir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["KURA_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'kura.db'}"
    env.update(settings)
    return env


def _kura(env: dict[str, str], workdir: Path, *args: str) -> str:
    """One ``kura`` admin command; its stdout, or ``RuntimeError`` with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kura {' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


@contextlib.contextmanager
def _child(
    command: list[str], env: dict[str, str], workdir: Path, name: str, ready: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process whose stdout and stderr go to files; yields once stdout shows ``ready``.
    Stopped on the way out: SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``."""
    out_path, err_path = workdir / f"{name}.out", workdir / f"{name}.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while ready not in out_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = err_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not start (exit {process.poll()}):\n{tail}")
            time.sleep(POLL_S)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(url: str) -> None:
    """Wait until the gateway at ``url`` answers its health check (``RuntimeError`` after
    ``START_TIMEOUT_S``)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        health = url + "/api/v1/health"  # loopback: built from free_port() above
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as reply:  # noqa: S310
            if reply.status == 200:
                return
        time.sleep(POLL_S)
    raise RuntimeError(f"gateway at {url} was not healthy within {START_TIMEOUT_S:g} s")


def _route_number(
    env: dict[str, str],
    workdir: Path,
    provider: str,
    carrier: str,
    greeting: str | None = None,
    recording: str | None = None,
) -> None:
    """Route ``NUMBER`` to the demo assistant (1, made by the gateway's first start) or to a
    new assistant of the fake's provider (greeting the caller first if ``greeting``);
    ``recording`` sets the assistant's recording mode."""
    assistant_id = 1
    if provider in FAKES:
        kind = FAKES[provider].assistant_provider
        extra = ("--greeting", greeting) if greeting else ()
        created = _kura(
            env, workdir, "assistants", "create", "--name", "Load test", "--provider", kind, *extra
        )
        assistant_id = int(json.loads(created)["id"])
    if recording is not None:
        _kura(env, workdir, "assistants", "update", str(assistant_id), "--recording", recording)
    _kura(
        env, workdir, "numbers", "assign", NUMBER, "--assistant", str(assistant_id),
        "--carrier", carrier,
    )  # fmt: skip


def _copy_logs(workdir: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy2(log, destination / log.name)


@contextlib.contextmanager
def spawned_gateway(
    provider: str = "local",
    core: int | None = 0,
    keep_logs: Path | None = None,
    carrier: str = "twilio",
    *,
    fake_args: tuple[str, ...] = (),
    greeting: str | None = None,
    extra_settings: Mapping[str, str] | None = None,
    recording: str | None = None,
    fake_cores: set[int] | None = None,
) -> Iterator[Spawned]:
    """``kura serve`` on a free loopback port, pinned to ``core`` (``taskset -c``) when given,
    trusting a fresh credential of ``carrier`` (``Spawned.auth_token``), its number on that
    carrier. The children's logs are copied to ``keep_logs`` at the end (the work directory
    is not). ``fake_args`` go to the fake provider's command line, ``extra_settings``
    (``KURA_*``) to the gateway's environment, last; recordings (``recording``: mono or dual)
    go to the work directory too. ``fake_cores``: where the fake provider runs (default: where
    this process may)."""
    if provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
    if carrier not in CARRIERS:
        raise ValueError(f"carrier must be one of {', '.join(CARRIERS)}")
    port = free_port()
    token, carrier_settings = CARRIERS[carrier].credentials()
    url = f"http://127.0.0.1:{port}"
    settings = {
        "KURA_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "KURA_PUBLIC_URL": url,
        "KURA_TTS_COMMAND": "off",
    } | carrier_settings
    if recording is not None:
        settings["KURA_RECORDINGS_DIR"] = "recordings"  # relative: inside the work directory
    with tempfile.TemporaryDirectory(prefix="kura-load-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        if keep_logs is not None:
            stack.callback(_copy_logs, workdir, keep_logs)  # runs after the children stopped
        fake_pid = None
        if provider in FAKES:
            fake, fake_port = FAKES[provider], free_port()
            fake_cmd = [sys.executable, "-m", fake.module, "--port", str(fake_port), *fake_args]
            if fake_cores and shutil.which("taskset"):
                fake_cmd = ["taskset", "-c", ",".join(map(str, sorted(fake_cores))), *fake_cmd]
            child = _child(fake_cmd, _env(workdir), workdir, provider, fake.banner)
            fake_pid = stack.enter_context(child).pid
            settings.update(fake.settings(fake_port))
        settings.update(extra_settings or {})
        env = _env(workdir, **settings)
        serve = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
        serve += ["--port", str(port)]
        if core is not None and shutil.which("taskset"):
            serve = ["taskset", "-c", str(core), *serve]  # taskset execs: same pid
        gateway = stack.enter_context(_child(serve, env, workdir, "kura-serve", LISTENING))
        wait_healthy(url)
        _route_number(env, workdir, provider, carrier, greeting, recording)
        yield Spawned(url, token, NUMBER, gateway.pid, workdir / "kura-serve.log", fake_pid)
