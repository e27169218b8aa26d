"""Monitoring with two nodes: the node that holds the session answers; the other says why not."""

from __future__ import annotations

import json

import pytest
import websocket

from tests.gateway.multinode.conftest import Cluster, connect_url_on
from tests.kura_process import KuraServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_monitor_on_the_owning_node_and_a_clear_409_elsewhere(
    cluster: Cluster, two_nodes: tuple[KuraServer, KuraServer]
) -> None:
    a, b = two_nodes
    created = cluster.api(a, "POST", "/api/v1/sessions", json={"assistant_id": 1, "mode": "chat"})
    assert created.status_code == 201, created.text
    session = created.json()
    app = websocket.create_connection(connect_url_on(b, session["websocket_url"]), timeout=5)
    try:
        assert json.loads(app.recv())["type"] == "sessionOpen"  # held by B
        path = f"/api/v1/sessions/{session['session_id']}/monitor"
        elsewhere = cluster.api(a, "POST", path)
        assert elsewhere.status_code == 409
        assert "another gateway node" in elsewhere.json()["error"]["message"]
        owner = cluster.api(b, "POST", path)
        assert owner.status_code == 201, owner.text
        url = owner.json()["websocket_url"]
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(connect_url_on(a, url), timeout=5)  # B's token, on A
        monitor = websocket.create_connection(
            connect_url_on(b, cluster.api(b, "POST", path).json()["websocket_url"]), timeout=5
        )
        assert json.loads(monitor.recv())["type"] == "monitorOpen"
        app.send(json.dumps({"type": "textMessage", "text": "Hello"}))
        while json.loads(monitor.recv())["type"] != "turnComplete":
            pass  # the reply's transcriptionUpdates, then its turnComplete, reach B's monitor
        monitor.close()
    finally:
        app.close()
