"""Several real ``kura serve`` processes sharing one PostgreSQL database and one Redis.

The database is a throwaway one (created and dropped here, never ``test`` itself); the Redis
keys carry a prefix unique to the module and are deleted afterwards. Nodes use short ownership
timings so a lost node is noticed in seconds. Everything is on loopback and bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import POSTGRES_URL, REDIS_URL, require_server
from tests.kura_process import KuraServer, kura_serve, run_kura

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NODE_SETTINGS = {
    "KURA_TTS_COMMAND": "off",
    # Short timings, so a lost node or a missed message shows within seconds.
    "KURA_OWNERSHIP_TTL_S": "2",
    "KURA_OWNERSHIP_REFRESH_S": "0.5",
    "KURA_CONTROL_POLL_S": "0.5",
    "KURA_DRAIN_TIMEOUT_S": "3",
}
POLL_S = 0.02


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class Cluster:
    """Where the nodes meet: the database, Redis and key prefix they share."""

    workdir: Path
    database_url: str
    redis_url: str
    prefix: str

    def settings(self, **overrides: str) -> dict[str, str]:
        return {
            **NODE_SETTINGS,
            "KURA_REDIS_URL": self.redis_url,
            "KURA_REDIS_KEY_PREFIX": self.prefix,
            **overrides,
        }

    @contextlib.contextmanager
    def node(self, name: str, *, port: int | None = None, **overrides: str) -> Iterator[KuraServer]:
        """One more ``kura serve`` in this cluster, its files under ``workdir/name``."""
        home = self.workdir / name
        home.mkdir(exist_ok=True)
        settings = self.settings(**overrides)
        with kura_serve(home, self.database_url, port=port, **settings) as server:
            yield server

    admin_key: str = ""
    """Every permission and a limit no test reaches, so polling never meets a 429."""

    def api(self, server: KuraServer, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call with the cluster's admin key."""
        return api(server, method, path, self.admin_key, **kwargs)

    def create_key(self, *permissions: str, rate_limit: int = 60) -> str:
        """A fresh key made with ``kura keys create`` (which also migrates the database)."""
        outcome = run_kura(
            "keys", "create", "--name", "multinode", "--permissions", ",".join(permissions),
            "--rate-limit", str(rate_limit), database_url=self.database_url, cwd=self.workdir,
        )  # fmt: skip
        assert outcome.returncode == 0, outcome.stderr
        return outcome.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def shared_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"kura_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, shared_database: str) -> Iterator[Cluster]:
    require_server("Redis", "127.0.0.1", 6379)
    prefix = f"kura-test-{uuid.uuid4().hex[:10]}:"
    cluster = Cluster(tmp_path_factory.mktemp("multinode"), shared_database, REDIS_URL, prefix)
    cluster.admin_key = cluster.create_key(rate_limit=1_000_000)
    yield cluster
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def two_nodes(cluster: Cluster) -> Iterator[tuple[KuraServer, KuraServer]]:
    """Nodes A and B (the database was migrated by ``kura keys create``)."""
    with cluster.node("a") as a, cluster.node("b") as b:
        yield a, b


def api(server: KuraServer, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
    """One REST call to ``server`` with ``key`` (None: no credential)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, server.url + path, headers=headers, timeout=5, **kwargs)


def connect_url_on(server: KuraServer, websocket_url: str) -> str:
    """The session's connect URL routed to ``server`` (as a load balancer might)."""
    return f"ws://127.0.0.1:{server.port}/api/v1/" + websocket_url.split("/api/v1/", 1)[1]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took. Fails after ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(POLL_S)
    pytest.fail(f"{what}: not within {timeout_s} s")


def wait_for_fresh_window(margin_s: float = 5.0) -> None:
    """Rate-limit windows are wall-clock minutes: do not start a count near a boundary."""
    left = 60 - time.time() % 60
    if left < margin_s:
        time.sleep(left + 0.05)
