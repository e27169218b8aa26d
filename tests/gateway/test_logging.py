"""Secrets never reach the logs: no query strings in the access log, sensitive fields redacted."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from config import Settings
from gateway.logs import AccessLogger, JsonFormatter
from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import connect, receive


async def test_access_log_never_shows_the_session_token(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    created = await gateway.create_session(mode="chat")
    token = created["websocket_url"].split("api_key=")[1]
    logger = logging.getLogger("aiohttp.access")
    access = AccessLogger(logger, "")
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        ws = await connect(gateway, created)
        await receive(ws)
        await ws.close()
        fake = make_mocked_request("GET", f"/api/v1/sessions/x/connect?api_key={token}")
        access.log(fake, web.Response(status=101), 0.01)
    text = "\n".join(
        record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records
    )
    assert "/api/v1/sessions/x/connect" in text
    assert token not in text


def test_json_formatter_redacts_sensitive_fields() -> None:
    record = logging.makeLogRecord(
        {"msg": "call started", "phone_number": "+15550001111", "session_id": "s1"}
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "call started"
    assert entry["phone_number"] == "[redacted]"
    assert entry["session_id"] == "s1"


def test_public_url_scheme_decides_the_websocket_scheme() -> None:
    local = Settings(_env_file=None, host="0.0.0.0", port=9000)  # type: ignore[call-arg]
    assert local.public_ws_url == "ws://127.0.0.1:9000"
    secure = Settings(_env_file=None, public_url="https://voice.example.com/")  # type: ignore[call-arg]
    assert secure.public_ws_url == "wss://voice.example.com"
