"""Rows 17 and 18 with phone calls, on real ``kura serve`` processes sharing PostgreSQL and
Redis: SIGTERM ends live calls at the drain deadline with a bounded close handshake (the
carrier here never answers our close frame) and the process exits within the deadline + 5 s;
after SIGKILL, the surviving node's ``<Connect action>`` URL apologises or transfers, never
"Thank you for calling. Goodbye."."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast
from xml.etree import ElementTree

import aiohttp
import pytest

from gateway.telephony.twiml import GOODBYE, TROUBLE
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import Gateway
from tests.gateway.multinode.conftest import Cluster, cluster, shared_database, wait_until
from tests.gateway.telephony.conftest import FakeTwilio, new_call_sid, stream_parameters
from tests.kura_process import KuraServer

__all__ = ["cluster", "shared_database"]  # the module-scoped fixtures, used by name

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

AUTH_TOKEN = "reliability_auth_token"
PUBLIC_URL = "https://gw.example.com"
PHONE = {"KURA_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "KURA_PUBLIC_URL": PUBLIC_URL}
DRAIN_TIMEOUT_S = 2.0
EXIT_WITHIN_S = DRAIN_TIMEOUT_S + 5  # row 17's pass figure
LIVE_CALLS = 5
TRANSFER_TO = "+15550007777"


@dataclass
class _Node:
    """What FakeTwilio needs of a gateway: a client and a base URL."""

    http: aiohttp.ClientSession
    url: str


def _twilio(http: aiohttp.ClientSession, server: KuraServer) -> FakeTwilio:
    return FakeTwilio(cast(Gateway, _Node(http, server.url)), PUBLIC_URL, AUTH_TOKEN)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _route(cluster: Cluster, server: KuraServer, number: str, **assistant: Any) -> None:
    """``number`` answered by a new local-provider assistant with ``assistant`` fields."""
    made = cluster.api(
        server, "POST", "/api/v1/assistants",
        json={"name": "Phone", "provider": "local", **assistant},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    body = {"number": number, "assistant_id": made.json()["id"], "carrier": "twilio"}
    assigned = cluster.api(server, "POST", "/api/v1/admin/numbers", json=body)
    assert assigned.status_code == 201, assigned.text


async def _dial(
    twilio: FakeTwilio, number: str, *, autoclose: bool = True
) -> tuple[FakeMediaStream, str]:
    """A call streaming to the node ``twilio`` posts to, and its session id."""
    call_sid = new_call_sid()
    answer = await twilio.voice(twilio.call_fields(call_sid, To=number))
    assert answer.status == 200, await answer.text()
    document = ElementTree.fromstring(await answer.text())  # noqa: S314 - our own answer
    stream = document.find("./Connect/Stream")
    assert stream is not None
    parameters = stream_parameters(document)
    opened = await FakeMediaStream.open(
        twilio.gateway.http, twilio.gateway.url, stream.attrib["url"],
        auth_token=AUTH_TOKEN, call_sid=call_sid, parameters=parameters, autoclose=autoclose,
    )  # fmt: skip
    return opened, parameters["session_id"]


async def _live(cluster: Cluster, server: KuraServer, session_ids: list[str]) -> None:
    def all_active() -> bool:
        views = [cluster.api(server, "GET", f"/api/v1/sessions/{sid}") for sid in session_ids]
        return all(view.json()["status"] == "active" for view in views)

    await asyncio.to_thread(wait_until, all_active, 15, "the calls are live")


async def _after_stream(twilio: FakeTwilio, call_sid: str, number: str) -> ElementTree.Element:
    answer = await twilio.action(twilio.call_fields(call_sid, To=number))
    assert answer.status == 200 and answer.content_type == "text/xml", await answer.text()
    return ElementTree.fromstring(await answer.text())  # noqa: S314 - our own answer


def _said(document: ElementTree.Element) -> str:
    return " ".join(say.text or "" for say in document.iter("Say"))


async def test_sigterm_ends_live_calls_with_the_apology_within_the_deadline(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    number = "+15550004001"
    with (
        cluster.node("a", **PHONE) as a,
        cluster.node("drained", KURA_DRAIN_TIMEOUT_S=str(DRAIN_TIMEOUT_S), **PHONE) as c,
    ):
        _route(cluster, a, number)
        on_c = _twilio(http, c)
        # A carrier that never answers our close frame: the handshake must still be bounded.
        calls = [await _dial(on_c, number, autoclose=False) for _ in range(LIVE_CALLS)]
        streams = [stream for stream, _ in calls]
        await _live(cluster, a, [session_id for _, session_id in calls])
        c.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        for stream in streams:
            await stream.wait_closed(EXIT_WITHIN_S)
            assert stream.close_code == 1001
        code = await asyncio.to_thread(c.process.wait, EXIT_WITHIN_S + 5)
        took = time.monotonic() - started
        print(f"SIGTERM with {LIVE_CALLS} live calls -> exit {code} in {took:.1f} s "
              f"(drain deadline {DRAIN_TIMEOUT_S:g} s)")  # fmt: skip
        assert code == 0
        assert took <= EXIT_WITHIN_S
        on_a = _twilio(http, a)
        for stream in streams:
            document = await _after_stream(on_a, stream.call_sid, number)
            assert _said(document) == TROUBLE
            assert [child.tag for child in document] == ["Say", "Hangup"]
            await stream.aclose()


async def test_after_sigkill_the_surviving_node_apologises_or_transfers(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    plain, transferring = "+15550004002", "+15550004003"
    with cluster.node("survivor", **PHONE) as a:
        _route(cluster, a, plain)
        _route(cluster, a, transferring, transfer_number=TRANSFER_TO)
        with cluster.node("killed", **PHONE) as victim:
            on_victim = _twilio(http, victim)
            calls = [await _dial(on_victim, plain), await _dial(on_victim, transferring)]
            streams = [stream for stream, _ in calls]
            await _live(cluster, a, [session_id for _, session_id in calls])
            victim.process.kill()
            victim.process.wait(timeout=5)
        for stream in streams:
            await stream.wait_closed()
        on_a = _twilio(http, a)
        apology = await _after_stream(on_a, streams[0].call_sid, plain)
        assert _said(apology) == TROUBLE and GOODBYE not in _said(apology)
        transfer = await _after_stream(on_a, streams[1].call_sid, transferring)
        assert [child.tag for child in transfer] == ["Say", "Dial"]
        assert transfer.find("Dial").text == TRANSFER_TO  # type: ignore[union-attr]
        for stream in streams:
            await stream.aclose()
