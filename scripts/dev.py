#!/usr/bin/env python3
"""Set up a virtualenv for Kura and run it: the README's two commands go through here.

    python3 scripts/dev.py serve [kura serve options]   # start the gateway on the embedded defaults
    python3 scripts/dev.py kura [kura arguments]        # any other kura command (kura --help)
    python3 scripts/dev.py test [pytest options]        # run the whole test suite
                                                        # (KURA_TEST_WORKERS=N: N processes)
    python3 scripts/dev.py check                        # ruff check, ruff format --check, mypy
    python3 scripts/dev.py check-deploy                 # lint Dockerfile, compose, Kubernetes

Only the standard library is used here, so it runs on any Python 3.11+ before anything is installed.
The virtualenv lives in .venv; dependencies are reinstalled when pyproject.toml changes.

``serve`` and ``kura`` replace this process with ``kura`` (exec), so a supervisor's SIGTERM
reaches the gateway itself and it drains; the other commands run children that receive every
signal this process gets, and exit with the child's code.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
PACKAGES = ["config", "kinds", "media", "providers", "gateway"]
# Extras whose install includes another's: a virtualenv set up for the tests serves too.
SUPERSETS = {"": ["dev", "deploy-check"]}
# Every signal a supervisor or a terminal may send that Python lets us catch.
FORWARDED = [
    getattr(signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGBREAK")
    if hasattr(signal, name)
]


def _stamp_current(extras: str, digest: str) -> bool:
    for name in [extras or "base", *SUPERSETS.get(extras, [])]:
        stamp = VENV / f".installed-{name}"
        if stamp.exists() and stamp.read_text() == digest:
            return True
    return False


TEST_PACKAGES = {"chromium": "/usr/bin/chromium", "espeak-ng": "/usr/bin/espeak-ng"}


def _ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before anything checks it
        sys.exit("Kura needs Python 3.11 or newer")
    if not PY.exists():
        print("creating virtualenv in .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if _stamp_current(extras, digest):
        return
    print(f"installing kura-gateway[{extras}] into .venv", file=sys.stderr)
    target = f".[{extras}]" if extras else "."
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", target], cwd=ROOT, check=True)
    (VENV / f".installed-{extras or 'base'}").write_text(digest)


def _exec(argv: list[str]) -> int:
    """Become ``argv`` (same pid): signals, exit code and stdio are the program's own.

    Windows has no real exec (``os.execv`` starts a new process and returns the old one's
    status at once), so there the child is run with signals forwarded instead."""
    if os.name == "nt":
        return _run(argv)
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - argv is our own venv's kura, not user input
    raise AssertionError("unreachable: execv returns only by raising")  # pragma: no cover


def _ensure_test_packages() -> None:
    """Under CI=true every test is required: install the Debian packages they need if absent.
    Chromium for the browser tests (Playwright drives it; no browser download of its own),
    espeak-ng for the local provider's speech."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        return
    missing = [pkg for pkg, path in TEST_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print(f"installing {', '.join(missing)} for the tests (apt-get)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def _parallel(args: list[str]) -> list[str]:
    """pytest-xdist options: ``KURA_TEST_WORKERS`` processes (under CI=true, 4 by default;
    elsewhere one process, as before). Most tests wait on loopback sockets and real time, so
    more workers than cores pays: CI's 2 cores ran 4 workers in about half the wall time.
    Files stay whole on a worker (``loadfile``): module-scoped clusters and servers start once.
    Options of the caller's own (``-n``, ``-p no:xdist``) win."""
    default = "4" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "0"
    workers = os.environ.get("KURA_TEST_WORKERS", default)
    chosen = any(a.startswith(("-n", "--numprocesses", "--dist")) or "xdist" in a for a in args)
    if chosen or workers in {"", "0", "1"}:
        return []
    return ["-n", workers, "--dist", "loadfile"]


def _run(argv: list[str]) -> int:
    """Run ``argv`` to completion, passing on every signal we get; its exit code.

    A child killed by a signal gives 128 + the signal number, as a shell reports it."""
    child = subprocess.Popen(argv, cwd=ROOT)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    commands = {"serve", "kura", "test", "check", "check-deploy"}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        _ensure_env("")
        return _exec([str(BIN / "kura"), "serve", *rest])
    if command == "kura":
        _ensure_env("")
        return _exec([str(BIN / "kura"), *rest])
    if command == "check-deploy":
        _ensure_env("deploy-check")
        return _run([str(PY), str(ROOT / "scripts" / "check_deploy.py"), *rest])
    _ensure_env("dev")
    if command == "test":
        _ensure_test_packages()
        return _run([str(PY), "-m", "pytest", *_parallel(rest), *rest])
    codes = [
        _run([str(PY), "-m", "ruff", "check", "."]),
        _run([str(PY), "-m", "ruff", "format", "--check", "."]),
        _run([str(PY), "-m", "mypy", *PACKAGES]),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
