"""A real gateway on a loopback port, with an injected clock and a scripted provider."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config import Settings
from gateway.app import build_app
from gateway.context import CONTEXT, GatewayContext
from kinds.clock import Clock, SystemClock
from providers.local import LocalProvider
from providers.registry import ProviderRegistry
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.fakes.openai_realtime import FakeRealtimeServer
from tests.fakes.openai_realtime_default import default_script
from tests.fakes.scripted_provider import ScriptedProvider
from tests.virtual_clock import VirtualClock

ADMIN_KEY = "kura_live_testadminkey0000000000000000000000"
WEBHOOK_SECRET = "whsec_test_secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    """A running gateway and a client for it."""

    server: TestServer
    http: aiohttp.ClientSession
    ctx: GatewayContext
    scripted: ScriptedProvider
    clock: Clock

    @property
    def url(self) -> str:
        return str(self.server.make_url(""))

    def headers(self, key: str = ADMIN_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def request(
        self, method: str, path: str, *, key: str | None = ADMIN_KEY, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers.update(self.headers(key))
        return await self.http.request(method, self.url + path, headers=headers, **kwargs)

    async def create_session(self, key: str = ADMIN_KEY, **body: Any) -> dict[str, Any]:
        body.setdefault("assistant_id", 1)
        response = await self.request("POST", "/api/v1/sessions", key=key, json=body)
        assert response.status == 201, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def create_key(
        self, permissions: list[str], *, rate_limit: int = 60, **fields: Any
    ) -> str:
        """A key straight in the store; ``fields``: kind, allowed_origins, assistant_ids,
        session_modes (``kind="publishable"`` makes a ``kura_pk_`` key)."""
        from gateway.bootstrap import generate_api_key
        from gateway.store.keys import PUBLISHABLE_PREFIX, SECRET_PREFIX

        publishable = fields.get("kind") == "publishable"
        secret = generate_api_key(PUBLISHABLE_PREFIX if publishable else SECRET_PREFIX)
        await self.ctx.store.keys.create(
            secret,
            name="test",
            permissions=permissions,
            rate_limit_per_minute=rate_limit,
            now=self.clock.now(),
            **fields,
        )
        return secret

    async def use_scripted_assistant(self, **fields: Any) -> int:
        row = await self.ctx.store.assistants.create(
            {"name": "Scripted", "provider": "scripted", **fields}, self.clock.now()
        )
        return row.id


async def start_gateway(
    tmp_path: Path,
    clock: Clock,
    *,
    register: Callable[[ProviderRegistry], None] | None = None,
    **settings: Any,
) -> AsyncIterator[Gateway]:
    port = free_port()
    scripted = ScriptedProvider()
    registry = ProviderRegistry()
    registry.register("local", lambda: LocalProvider("off", clock=SystemClock()))
    registry.register("scripted", lambda: scripted)
    if register is not None:
        register(registry)
    given_url = settings.pop("database_url", None)
    database_url, throwaway = (given_url, None) if given_url else await _test_database(tmp_path)
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        bootstrap_api_key=ADMIN_KEY,
        webhook_secret=WEBHOOK_SECRET,
        webhook_timeout_s=1.0,
        host="127.0.0.1",
        port=port,
        **settings,
    )
    app: web.Application = build_app(config, clock=clock, providers=registry)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Gateway(server, http, app[CONTEXT], scripted, clock)
    finally:
        await server.close()
        if throwaway is not None:
            await _release_database(tmp_path)


# Gateways started for one test share its database, as nodes of one deployment do.
_POSTGRES_BY_TEST: dict[Path, list[Any]] = {}


async def _test_database(tmp_path: Path) -> tuple[str, str | None]:
    """SQLite in the test's directory, or (KURA_TEST_BACKEND=postgres) a throwaway PostgreSQL
    database, so the whole gateway suite can run on either backend."""
    if os.environ.get("KURA_TEST_BACKEND", "sqlite") != "postgres":
        return f"sqlite+aiosqlite:///{tmp_path / 'kura.db'}", None
    if tmp_path not in _POSTGRES_BY_TEST:
        url, name = await fresh_postgres_database()
        _POSTGRES_BY_TEST[tmp_path] = [url, name, 0]
    entry = _POSTGRES_BY_TEST[tmp_path]
    entry[2] += 1
    return entry[0], entry[1]


async def _release_database(tmp_path: Path) -> None:
    entry = _POSTGRES_BY_TEST[tmp_path]
    entry[2] -= 1
    if entry[2] == 0:
        del _POSTGRES_BY_TEST[tmp_path]
        await drop_postgres_database(entry[1])


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway on the real clock."""
    async for gw in start_gateway(tmp_path, SystemClock()):
        yield gw


@pytest.fixture
async def virtual_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway whose clock only moves when the test advances it."""
    async for gw in start_gateway(tmp_path, VirtualClock()):
        yield gw


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeRealtimeServer]:
    """The fake OpenAI Realtime server, default behaviour; everything it got was valid and
    every scripted step ran."""
    server = FakeRealtimeServer(default_script)
    await server.start()
    yield server
    await server.stop()
    assert server.invalid_messages() == []
    assert server.script_errors == []
