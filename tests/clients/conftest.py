"""One ``kura serve`` subprocess for every client example: a free loopback port, a temporary
SQLite database and a ``KURA_BOOTSTRAP_API_KEY`` the examples use as their key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.bootstrap import generate_api_key
from tests.kura_process import KuraServer, kura_serve, sqlite_url


@dataclass(frozen=True)
class ServedKura:
    server: KuraServer
    api_key: str

    def client_env(self) -> dict[str, str]:
        """What an example needs: the environment, plus where Kura is and the key."""
        return {**os.environ, "KURA_HOST": self.server.url, "KURA_API_KEY": self.api_key}


@pytest.fixture(scope="package")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedKura]:
    workdir = tmp_path_factory.mktemp("kura-serve")
    key = generate_api_key()
    # Speech synthesis off: the greeting is text only, so voice runs do not wait for it to play.
    settings = {"KURA_BOOTSTRAP_API_KEY": key, "KURA_TTS_COMMAND": "off"}
    with kura_serve(workdir, sqlite_url(workdir / "kura.db"), **settings) as server:
        yield ServedKura(server, key)
        assert server.terminate() == 0
