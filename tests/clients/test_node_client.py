"""The documentation's Node.js example (fetch + ws) against ``kura serve``.

Needs ``node`` (20+) and ``npm``: skipped with a reason when absent, but a failure under CI=true.
``ws`` comes from the committed package-lock.json (``npm ci``) when node_modules is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import ServedKura
from tests.conftest import IN_CI

NODE_DIR = Path(__file__).parent / "node"
NODE_MAJOR_MIN = 20
NPM_TIMEOUT_S = 120
RUN_TIMEOUT_S = 30


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(f"{message}; install Node.js {NODE_MAJOR_MIN}+ with npm to run this test")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _unavailable(f"{name} is not on PATH")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with ws installed from the lock file."""
    node = _tool("node")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < NODE_MAJOR_MIN:
        _unavailable(f"node {version.stdout.strip()} is older than {NODE_MAJOR_MIN}")
    if not (NODE_DIR / "node_modules" / "ws" / "package.json").exists():
        npm = _tool("npm")
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
        if install.returncode != 0:
            _unavailable(f"npm ci failed in {NODE_DIR}:\n{install.stderr[-2000:]}")
    return node


def test_node_ws_example_gets_the_greeting(node: str, kura: ServedKura) -> None:
    done = subprocess.run(
        [node, "kura_example.mjs"],
        cwd=NODE_DIR,
        env=kura.client_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"node exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    tagged = [
        line.split(" ", 2)[1:] for line in done.stdout.splitlines() if line.startswith("KURA_TEST ")
    ]
    status, session = tagged[0][1].split(" ", 1)
    # fetch sends the body as text/plain (the example sets no Content-Type): still a 201.
    assert status == "201"
    assert json.loads(session)["mode"] == "chat"
    messages: list[dict[str, Any]] = [
        json.loads(rest) for kind, rest in tagged if kind == "message"
    ]
    # Every message carries seq, one more each time (an additive field clients may ignore).
    assert [m.pop("seq") for m in messages] == list(range(1, len(messages) + 1))
    assert messages[0].pop("resumeToken").startswith("kura_rt_")  # for a resume
    assert messages[0] == {"type": "sessionOpen", "provider": "local", "mode": "chat"}
    assert messages[-1]["type"] == "turnComplete"
    assert "local demo" in messages[-1]["fullOutput"]
    assert tagged[-1] == ["closed", "1000"]
    # The documentation's own line, console.log(msg.type, msg), printed each message too.
    assert any(line.startswith("turnComplete {") for line in done.stdout.splitlines())
