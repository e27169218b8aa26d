"""compose.yaml's HAProxy configuration, run for real in front of two nodes (issue 13).

The same ``deploy/compose/haproxy.cfg``, with the compose service names swapped for loopback
ports: a session's WebSocket passes through it; a node given SIGTERM leaves the rotation (its
readiness answers 503) while its live socket runs on, and new sessions go to the other node.
Needs the ``haproxy`` program (Debian's package), so it is skipped where that is absent: CI's
fresh machine has no HAProxy, and ``scripts/check_deploy.py`` checks the file there.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from tests.gateway.multinode.conftest import Cluster, wait_until
from tests.kura_process import ROOT, KuraServer, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

HAPROXY = shutil.which("haproxy")
DRAIN_S = "10"  # longer than HAProxy takes to notice (2 checks, 2 s apart)
SESSION = {"assistant_id": 1, "mode": "chat"}


def _loopback_config(lb_port: int, nodes: list[KuraServer], admin_socket: Path) -> str:
    """The compose configuration on loopback, the nodes' ports for their service names, and
    an admin socket so the test can hold node b back while the socket opens on node a."""
    text = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    text = re.sub(r"# Docker's DNS.*?\n\n", "", text, flags=re.DOTALL)
    text = text.replace(" resolvers docker", "").replace("bind :8080", f"bind 127.0.0.1:{lb_port}")
    admin = f"global\n    stats socket {admin_socket} level admin\n"
    text = re.sub(r"^global\n", admin, text, count=1, flags=re.MULTILINE)
    for number, node in enumerate(nodes, start=1):
        text = text.replace(f"kura-{number}:8080", f"127.0.0.1:{node.port}")
    assert "kura-1:" not in text and "resolvers" not in text
    return text


class HAProxy:
    def __init__(self, workdir: Path, nodes: list[KuraServer]) -> None:
        assert HAPROXY is not None
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._admin = workdir / "haproxy.sock"
        config = workdir / "haproxy.cfg"
        config.write_text(_loopback_config(port, nodes, self._admin))
        self.process = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL
        )

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self._admin))
            sock.sendall(line.encode() + b"\n")
            return sock.recv(65536).decode()

    def status(self, server: str) -> str:
        """HAProxy's view of one server: UP, DOWN, MAINT, or a transition such as UP 1/2."""
        rows = self.command("show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        for row in rows[1:]:
            fields = dict(zip(header, row.split(","), strict=False))
            if fields.get("pxname") == "kura" and fields.get("svname") == server:
                return fields["status"]
        raise AssertionError(f"no server {server} in HAProxy's stats")

    def ready_node(self) -> str | None:
        """The node id behind a readiness check through HAProxy, if it answered 200."""
        try:
            reply = requests.get(self.url + "/api/v1/health/ready", timeout=2)
        except requests.RequestException:
            return None
        return str(reply.json()["node_id"]) if reply.status_code == 200 else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def nodes(cluster: Cluster) -> Iterator[tuple[KuraServer, KuraServer, Cluster]]:
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    with (
        cluster.node("a", KURA_DRAIN_TIMEOUT_S=DRAIN_S) as a,
        cluster.node("b", KURA_DRAIN_TIMEOUT_S=DRAIN_S) as b,
    ):
        yield a, b, cluster


def _node_id(server: KuraServer) -> str:
    return str(requests.get(server.url + "/api/v1/health/live", timeout=2).json()["node_id"])


def test_a_draining_node_leaves_haproxy_while_its_socket_runs_on(
    nodes: tuple[KuraServer, KuraServer, Cluster], tmp_path: Path
) -> None:
    a, b, cluster = nodes
    lb = HAProxy(tmp_path, [a, b])
    headers = {"Authorization": f"Bearer {cluster.admin_key}"}
    try:
        wait_until(lambda: lb.ready_node() is not None, 15, "HAProxy routes to the nodes")
        lb.command("set server kura/kura-2 state maint")  # the socket must open on node a
        created = requests.post(lb.url + "/api/v1/sessions", json=SESSION, headers=headers,
                                timeout=5).json()  # fmt: skip
        path = created["websocket_url"].split("/api/v1/", 1)[1]
        ws = websocket.create_connection(  # an app, not a browser: no Origin header
            lb.url.replace("http", "ws") + "/api/v1/" + path, suppress_origin=True
        )
        assert json.loads(ws.recv())["type"] == "sessionOpen"
        lb.command("set server kura/kura-2 state ready")

        assert lb.status("kura-1") == "UP"
        a.process.send_signal(signal.SIGTERM)
        # Taken out by its readiness answer (503 while draining), not by going away: node a
        # still listens, and holds the open socket, for KURA_DRAIN_TIMEOUT_S.
        wait_until(lambda: lb.status("kura-1") == "DOWN", 15, "HAProxy marks a draining node down")
        assert a.process.poll() is None
        assert {lb.ready_node() for _ in range(6)} == {_node_id(b)}
        for _ in range(5):  # new sessions land on b: none refused while a drains
            reply = requests.post(lb.url + "/api/v1/sessions", json=SESSION, headers=headers,
                                  timeout=5)  # fmt: skip
            assert reply.status_code == 201, reply.text
        # Node a, out of the rotation, still serves the socket it holds, through HAProxy.
        ws.send(json.dumps({"type": "textMessage", "text": "still there?"}))
        while True:  # past the greeting's turn, to the answer to this message
            message = json.loads(ws.recv())
            if message["type"] == "turnComplete" and message["fullInput"] == "still there?":
                break
        ws.close()
        assert a.process.wait(timeout=30) == 0
    finally:
        lb.stop()
