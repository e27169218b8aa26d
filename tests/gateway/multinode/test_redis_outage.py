"""Killing Redis under two live nodes does what the README promises ("Running several nodes"):
readiness says degraded but stays 200; sessions are still created, connected and ended across
nodes (the end request reaches the owner by the database poll); each node counts rate limits on
its own; and once Redis is back, claims are restored and end requests travel by pub/sub again.

The Redis here is a private ``redis-server`` started for this test, never the machine's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from tests.gateway.multinode.conftest import Cluster, api, wait_for_fresh_window, wait_until
from tests.gateway.multinode.test_two_nodes import _create, _open, delete_and_time_close
from tests.kura_process import KuraServer
from tests.redis_process import private_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

POLL_S = 3.0  # long enough that an end request delivered by pub/sub (< 1 s) is told apart


def _readiness(server: KuraServer) -> tuple[int, Any]:
    reply = api(server, "GET", "/api/v1/health/ready", None)
    return reply.status_code, reply.json()


def _is(server: KuraServer, status: str, redis_check: str) -> bool:
    code, body = _readiness(server)
    return code == 200 and (body["status"], body["checks"]["redis"]) == (status, redis_check)


def test_killing_redis_degrades_as_documented(cluster: Cluster, tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        settings = {"KURA_REDIS_URL": server.url, "KURA_CONTROL_POLL_S": str(POLL_S)}
        with cluster.node("d", **settings) as d, cluster.node("e", **settings) as e:
            key = cluster.create_key("assistants:read")
            survivor = _create(cluster, d)
            survivor_ws = _open(e, survivor)  # lives through the outage

            server.kill()
            for node in (d, e):
                wait_until(lambda n=node: _is(n, "degraded", "down"), 5, "readiness: degraded")

            created = _create(cluster, d)
            took = delete_and_time_close(cluster, d, created, _open(e, created))
            print(f"Redis down: cross-node DELETE -> close in {took:.2f} s (poll {POLL_S} s)")
            assert took < POLL_S + 2

            wait_for_fresh_window()
            for node in (d, e):  # counted on each node alone while Redis is away
                statuses = [api(node, "GET", "/api/v1/assistants", key).status_code
                            for _ in range(65)]  # fmt: skip
                assert (statuses.count(200), statuses.count(429)) == (60, 5)

            server.start()  # empty, as a restarted cache comes back
            for node in (d, e):
                wait_until(lambda n=node: _is(n, "ready", "ok"), 10, "readiness: ready again")
            client = redis.Redis(port=server.port)
            try:
                wait_until(
                    lambda: len(client.pubsub_channels(cluster.prefix + "bus:*")) == 2,
                    10, "both nodes listen again",
                )  # fmt: skip
                wait_until(
                    lambda: client.get(cluster.prefix + "owner:" + survivor["session_id"])
                    is not None,
                    5, "the survivor's claim is restored by its node's refresher",
                )  # fmt: skip
            finally:
                client.close()
            took = delete_and_time_close(cluster, d, survivor, survivor_ws)
            print(f"Redis back: cross-node DELETE -> close in {took * 1000:.0f} ms")
            assert took < 1.0
