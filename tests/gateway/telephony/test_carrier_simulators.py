"""``scripts/simulate_call.py --carrier plivo|signalwire`` completes a call against the real
gateway: signed webhooks, the carrier's framing, checkpoints/marks echoed after playout."""

from __future__ import annotations

import pytest

from scripts import simulate_call
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.test_plivo import PLIVO_TOKEN, plivo_gateway  # noqa: F401
from tests.gateway.telephony.test_signalwire import SIGNING_KEY, sw_gateway  # noqa: F401


async def _simulate(gw: Gateway, carrier: str, token: str, to: str) -> dict[str, object]:
    argv = ["--gateway", gw.url.rstrip("/"), "--public-url", PUBLIC_URL, "--carrier", carrier,
            "--auth-token", token, "--to", to, "--duration-s", "5", "--dtmf", "1@0.5"]  # fmt: skip
    args = simulate_call.parser().parse_args(argv)
    simulate_call._check_args(simulate_call.parser(), args)
    summary = await simulate_call.run(args)
    simulate_call.print_text(summary)
    return summary


async def test_the_simulator_acting_as_plivo_completes_a_call(
    plivo_gateway: Gateway,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    gw = plivo_gateway
    await gw.ctx.store.numbers.create(
        {"number": "+445550001234", "assistant_id": 1, "carrier": "plivo"}, gw.clock.now()
    )
    summary = await _simulate(gw, "plivo", PLIVO_TOKEN, "+445550001234")
    print(capsys.readouterr().out)
    assert summary["failure"] is None, summary
    assert summary["stream_url"] == "wss://gw.example.com/telephony/plivo/media"
    assert summary["frames_sent"] == 250 and summary["dtmf_sent"] == 1
    assert summary["agent_media_messages"] > 0
    assert 0 < summary["marks_echoed"] <= summary["marks_received"]  # type: ignore[operator]
    assert summary["action_status"] == 200
    call = await gw.ctx.store.calls.get_by_sid(str(summary["call_sid"]))
    assert call is not None and (call.carrier, call.status) == ("plivo", "completed")


async def test_the_simulator_acting_as_signalwire_completes_a_call(
    sw_gateway: Gateway,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    gw = sw_gateway
    await gw.ctx.store.numbers.create(
        {"number": "+15550001234", "assistant_id": 1, "carrier": "signalwire"}, gw.clock.now()
    )
    summary = await _simulate(gw, "signalwire", SIGNING_KEY, "+15550001234")
    print(capsys.readouterr().out)
    assert summary["failure"] is None, summary
    assert summary["stream_url"] == "wss://gw.example.com/telephony/signalwire/media"
    assert summary["frames_sent"] == 250 and summary["dtmf_sent"] == 1
    assert summary["agent_media_messages"] > 0
    assert 0 < summary["marks_echoed"] <= summary["marks_received"]  # type: ignore[operator]
    assert summary["action_status"] == 200
