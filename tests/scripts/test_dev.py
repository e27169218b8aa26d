"""``scripts/dev.py``: the gateway it starts drains on the supervisor's SIGTERM, and the
commands it runs as children get every signal it gets and lend it their exit code."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import ModuleType

import pytest

from tests.kura_process import (
    LISTENING,
    ROOT,
    KuraServer,
    free_port,
    kura_env,
    sqlite_url,
)

DEV = ROOT / "scripts" / "dev.py"
TIMEOUT_S = 30.0


def _pump_lines(server: KuraServer) -> None:
    assert server.process.stdout is not None
    for raw in server.process.stdout:
        server.stdout.append(raw.rstrip("\n"))
        server.lines.put(raw.rstrip("\n"))
    server.lines.put(None)


def test_serve_through_dev_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    stderr_path = tmp_path / "serve.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(DEV), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=kura_env(sqlite_url(tmp_path / "kura.db")),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    server = KuraServer(process, port, stderr_path)
    reader = threading.Thread(target=_pump_lines, args=(server,), daemon=True)
    reader.start()
    try:
        server.wait_for_line(LISTENING, timeout_s=120)  # may install .venv's base extra first
        server.wait_healthy()
        process.send_signal(signal.SIGTERM)  # to dev.py's pid, as a supervisor would
        assert process.wait(timeout=TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    assert '"msg": "draining"' in server.log()
    assert _nobody_listens(port), "the port is still held after dev.py exited: an orphan"


def _nobody_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


CHILD = textwrap.dedent(
    """
    import signal, sys, time
    def on_signal(signum, _frame):
        print("child got", signal.Signals(signum).name, flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    print("child ready", flush=True)
    time.sleep(60)
    """
)
WRAPPER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import dev
    sys.exit(dev._run([sys.executable, "-c", sys.argv[2]]))
    """
)


def _run_wrapped(signum: int) -> tuple[int, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(DEV.parent), CHILD],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "child ready"
    process.send_signal(signum)
    out, _ = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, out.splitlines()


def test_children_get_every_signal_and_lend_their_exit_code() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        code, lines = _run_wrapped(signum)
        assert lines == [f"child got {signal.Signals(signum).name}"]
        assert code == 7


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", DEV)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tests_run_in_parallel_under_ci_and_the_callers_own_options_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev = _dev()
    parallel = ["-n", "4", "--dist", "loadfile"]
    monkeypatch.delenv("KURA_TEST_WORKERS", raising=False)
    monkeypatch.setenv("CI", "true")
    assert dev._parallel(["-q", "tests/gateway"]) == parallel
    assert dev._parallel(["-n", "2"]) == []
    assert dev._parallel(["-p", "no:xdist"]) == []
    monkeypatch.setenv("KURA_TEST_WORKERS", "0")
    assert dev._parallel([]) == []
    monkeypatch.delenv("CI")
    monkeypatch.delenv("KURA_TEST_WORKERS")
    assert dev._parallel([]) == []  # a developer's plain run stays one process
    monkeypatch.setenv("KURA_TEST_WORKERS", "3")
    assert dev._parallel([]) == ["-n", "3", "--dist", "loadfile"]
