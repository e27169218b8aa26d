"""Shared fixtures. Servers that CI must have (PostgreSQL, Redis) are required under CI=true."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Under pytest-xdist ("-n N") each worker is a process named gw0, gw1, ...; alone, "".
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_INDEX = int(WORKER[2:]) if WORKER.startswith("gw") else 0
# Where throwaway databases are created (CREATE/DROP DATABASE); tests never write to it.
POSTGRES_URL = os.environ.get(
    "KURA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _worker_redis_db(url: str, index: int) -> str:
    """This worker's Redis database: the configured one for the first worker, then counting
    down (15, 14, ... from the default 15), away from 0 where a developer's gateway lives.
    Tests prefix their keys, but a gateway started without a prefix uses the default one:
    two workers' gateways would share rate limits and ownership in one database."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - index) % 16}"))


REDIS_URL = _worker_redis_db(
    os.environ.get("KURA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), WORKER_INDEX
)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip locally, fail under CI, when a loopback server the test needs is absent."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(f"{message}; start it to run this test")


@pytest.fixture
async def postgres_url() -> str:
    """A database this worker alone uses (``<name>_gw0``, created if missing; alone, the
    configured one): parallel workers must not migrate or write one database together."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    if not WORKER:
        return POSTGRES_URL
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"{POSTGRES_URL.rsplit('/', 1)[1]}_{WORKER}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not found:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL


async def fresh_postgres_database() -> tuple[str, str]:
    """A throwaway database (URL, name), so tests never touch data they did not make."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"kura_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, name


async def drop_postgres_database(name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``reliability`` every test that docs/reliability.md names, and all of
    tests/reliability/, so ``pytest -m reliability`` runs the whole matrix."""
    from tests.reliability.rows import node_ids

    named = node_ids()
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith("tests/reliability/") or item.nodeid.split("[", 1)[0] in named:
            item.add_marker(pytest.mark.reliability)
