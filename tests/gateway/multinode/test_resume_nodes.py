"""Resume, REST chat and monitoring across nodes (issues 16, 18): a resume, a chat message or a
monitor request (the POST and the supervisor's socket) that reaches the node not holding the
session is forwarded, signed, to the node that does; the internal door refuses everyone else."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from tests.gateway.multinode.conftest import Cluster, api, connect_url_on
from tests.kura_process import KuraServer, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

NODE_SECRET = "n" * 40


@pytest.fixture(scope="module")
def linked_nodes(cluster: Cluster) -> Iterator[tuple[KuraServer, KuraServer]]:
    """Two nodes that know each other's internal URL and share the node secret."""
    a_port, b_port = free_port(), free_port()
    with (
        cluster.node(
            "ra",
            port=a_port,
            KURA_NODE_URL=f"http://127.0.0.1:{a_port}",
            KURA_NODE_SECRET=NODE_SECRET,
        ) as a,
        cluster.node(
            "rb",
            port=b_port,
            KURA_NODE_URL=f"http://127.0.0.1:{b_port}",
            KURA_NODE_SECRET=NODE_SECRET,
        ) as b,
    ):
        yield a, b


def _create(cluster: Cluster, server: KuraServer) -> dict[str, Any]:
    reply = cluster.api(
        server, "POST", "/api/v1/sessions", json={"assistant_id": 1, "mode": "chat"}
    )
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def _next(ws: websocket.WebSocket) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv())
    return message


def _until(ws: websocket.WebSocket, kind: str) -> list[dict[str, Any]]:
    seen = [_next(ws)]
    while seen[-1]["type"] != kind:
        seen.append(_next(ws))
    return seen


def _resume_url(server: KuraServer, session_id: str, token: str, last_seq: int) -> str:
    return (
        f"ws://127.0.0.1:{server.port}/api/v1/sessions/{session_id}/connect"
        f"?resume={token}&lastSeq={last_seq}"
    )


def _resume(server: KuraServer, session_id: str, token: str, last_seq: int) -> websocket.WebSocket:
    """Resume on ``server``, retrying while the owner has not yet seen the old socket drop."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return websocket.create_connection(
                _resume_url(server, session_id, token, last_seq), timeout=5
            )
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_a_session_held_by_a_resumes_through_b_with_nothing_lost_or_doubled(
    cluster: Cluster, linked_nodes: tuple[KuraServer, KuraServer]
) -> None:
    a, b = linked_nodes
    created = _create(cluster, a)
    ws = websocket.create_connection(connect_url_on(a, created["websocket_url"]), timeout=5)
    opened = _next(ws)
    token = opened["resumeToken"]
    greeting = _until(ws, "turnComplete")
    ws.send(json.dumps({"type": "textMessage", "text": "hello there"}))
    first = _next(ws)  # the answer has begun: drop the socket with the rest unread
    ws.shutdown()  # no close frame: a network blip
    resumed = _resume(b, created["session_id"], token, first["seq"] - 1)
    head = _next(resumed)
    assert head["type"] == "sessionOpen" and head["resumed"] is True and "seq" not in head
    replayed = _until(resumed, "turnComplete")
    assert replayed[0] == first
    seqs = [1, *(m["seq"] for m in greeting), *(m["seq"] for m in replayed)]
    assert seqs == list(range(1, len(seqs) + 1))  # every number once, none missing
    # The live stream goes on through B's proxy, and the owner's close reaches the client.
    resumed.send(json.dumps({"type": "textMessage", "text": "and again"}))
    assert _until(resumed, "turnComplete")[0]["seq"] == seqs[-1] + 1
    resumed.send(json.dumps({"type": "stopSession"}))
    opcode, frame = resumed.recv_data(control_frame=True)
    while opcode != websocket.ABNF.OPCODE_CLOSE:
        opcode, frame = resumed.recv_data(control_frame=True)
    assert (int.from_bytes(frame[:2], "big"), frame[2:]) == (1000, b"client_stop")
    # A spent token is refused through B too, with the owner's own HTTP error.
    refused = requests.get(
        _resume_url(b, created["session_id"], token, 1).replace("ws://", "http://", 1),
        headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
        timeout=5,
    )  # fmt: skip
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "invalid or spent resume token"


def test_rest_chat_held_by_a_answers_messages_sent_to_b(
    cluster: Cluster, linked_nodes: tuple[KuraServer, KuraServer]
) -> None:
    a, b = linked_nodes
    created = _create(cluster, a)
    path = f"/api/v1/sessions/{created['session_id']}/messages"
    first = cluster.api(a, "POST", path, json={"text": "hello"})
    assert first.status_code == 200, first.text
    second = cluster.api(b, "POST", path, json={"text": "hello from b"})
    assert second.status_code == 200, second.text
    assert second.json()["turn_id"] == first.json()["turn_id"] + 1
    streamed = requests.post(
        b.url + path,
        json={"text": "stream it"},
        headers={"Authorization": f"Bearer {cluster.admin_key}", "Accept": "text/event-stream"},
        timeout=10,
    )
    assert streamed.status_code == 200
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    assert "event: turnComplete" in streamed.text
    # The caller's key is checked where the message arrives: a wrong one never travels.
    assert api(b, "POST", path, "kura_live_wrong", json={"text": "x"}).status_code == 401


def test_a_session_held_by_a_is_monitored_through_b(
    cluster: Cluster, linked_nodes: tuple[KuraServer, KuraServer]
) -> None:
    a, b = linked_nodes
    created = _create(cluster, a)
    app = websocket.create_connection(connect_url_on(a, created["websocket_url"]), timeout=5)
    try:
        assert _next(app)["type"] == "sessionOpen"  # held by A
        started = cluster.api(b, "POST", f"/api/v1/sessions/{created['session_id']}/monitor")
        assert started.status_code == 201, started.text  # A issued the token, through B
        url = started.json()["websocket_url"]
        monitor = websocket.create_connection(connect_url_on(b, url), timeout=5)
        assert _next(monitor)["type"] == "monitorOpen"
        app.send(json.dumps({"type": "textMessage", "text": "Hello"}))
        seen = _until(monitor, "turnComplete")  # A's transcript, proxied by B
        assert seen[-1]["fullInput"] == "Hello"
        monitor.close()
        # The token is A's, single-use: spent, A's refusal comes back through B as is.
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(connect_url_on(b, url), timeout=5)
        assert refused.value.status_code == 401
    finally:
        app.close()
    monitor_door = f"/internal/v1/sessions/{created['session_id']}/monitor"
    assert requests.post(a.url + monitor_door, timeout=5).status_code == 403


def test_the_internal_door_refuses_unsigned_and_forged_requests(
    cluster: Cluster, linked_nodes: tuple[KuraServer, KuraServer]
) -> None:
    a, _ = linked_nodes
    created = _create(cluster, a)
    path = f"/internal/v1/sessions/{created['session_id']}/messages"
    unsigned = requests.post(a.url + path, json={"text": "hi"}, timeout=5)
    assert unsigned.status_code == 403
    forged = requests.post(
        a.url + path,
        json={"text": "hi"},
        headers={
            "X-Kura-Node": "someone",
            "X-Kura-Node-Time": f"{time.time():.3f}",
            "X-Kura-Node-Signature": "0" * 64,
        },
        timeout=5,
    )
    assert forged.status_code == 403
    resume = requests.get(
        a.url + f"/internal/v1/sessions/{created['session_id']}/resume", timeout=5
    )
    assert resume.status_code == 403
