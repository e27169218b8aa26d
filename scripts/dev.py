#!/usr/bin/env python3
"""Set up a virtualenv for Kura and run it: the README's two commands go through here.

    python3 scripts/dev.py serve [kura serve options]   # start the gateway on the embedded defaults
    python3 scripts/dev.py test [pytest options]        # run the whole test suite
    python3 scripts/dev.py check                        # ruff check, ruff format --check, mypy

Only the standard library is used here, so it runs on any Python 3.11+ before anything is installed.
The virtualenv lives in .venv; dependencies are reinstalled when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
PACKAGES = ["config", "media", "providers", "gateway"]
CHROMIUM = "/usr/bin/chromium"


def _ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before anything checks it
        sys.exit("Kura needs Python 3.11 or newer")
    if not PY.exists():
        print("creating virtualenv in .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing kura-gateway[{extras}] into .venv", file=sys.stderr)
    target = f".[{extras}]" if extras else "."
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", target], cwd=ROOT, check=True)
    stamp.write_text(digest)


def _ensure_browser() -> None:
    """Under CI=true the browser tests are required: install Debian's Chromium if it is absent
    (Playwright drives it; no browser download of its own)."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"} or Path(CHROMIUM).exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print("installing chromium for the browser tests (apt-get)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)


def _run(argv: list[str]) -> int:
    return subprocess.call(argv, cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "check", "kura"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        _ensure_env("")
        return _run([str(BIN / "kura"), "serve", *rest])
    if command == "kura":
        _ensure_env("")
        return _run([str(BIN / "kura"), *rest])
    _ensure_env("dev")
    if command == "test":
        _ensure_browser()
        return _run([str(PY), "-m", "pytest", *rest])
    codes = [
        _run([str(PY), "-m", "ruff", "check", "."]),
        _run([str(PY), "-m", "ruff", "format", "--check", "."]),
        _run([str(PY), "-m", "mypy", *PACKAGES]),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
