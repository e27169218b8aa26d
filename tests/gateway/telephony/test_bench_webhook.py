"""``scripts/bench_webhook.py`` against the real gateway: each carrier's signed voice webhook,
counted by outcome (a wrong credential is a refusal, not a latency), and its bounds."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from scripts import bench_webhook
from scripts.twilio_sim.call import CallConfig
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    NUMBER,
    PUBLIC_URL,
    TELNYX_KEY,
    TELNYX_NUMBER,
    FakeTelnyx,
    FakeTwilio,
)

TELNYX_SEED = base64.b64encode(bytes(TELNYX_KEY)).decode()


async def measure(gw: Gateway, carrier: str, token: str, number: str) -> dict[str, Any]:
    """Ten webhooks at 20/s, signed over the gateway's public URL, sent to its loopback one."""
    config = CallConfig(gw.url.rstrip("/"), token, "+15551000000", number, PUBLIC_URL,
                        carrier=carrier)  # fmt: skip
    return await bench_webhook.measure(bench_webhook.Door.of(config), 20.0, 0.5)


async def test_telnyx_webhooks_are_signed_with_ed25519_and_answered(telnyx: FakeTelnyx) -> None:
    figures = await measure(telnyx.gateway, "telnyx", TELNYX_SEED, TELNYX_NUMBER)
    assert figures["outcomes"] == {"200": 10}, figures
    assert isinstance(figures["p99_ms"], float) and figures["max_ms"] >= figures["p50_ms"]
    text = bench_webhook.report(figures, "http://gw/telephony/telnyx/voice")
    assert text.startswith("telnyx: sent 10 signed voice webhooks at 20/s")


async def test_twilio_webhooks_are_measured_the_same_way(twilio: FakeTwilio) -> None:
    figures = await measure(twilio.gateway, "twilio", AUTH_TOKEN, NUMBER)
    assert figures["outcomes"] == {"200": 10}, figures


async def test_a_credential_the_gateway_does_not_trust_is_a_refusal_and_a_miss(
    telnyx: FakeTelnyx,
) -> None:
    other_seed = base64.b64encode(bytes(32)).decode()
    figures = await measure(telnyx.gateway, "telnyx", other_seed, TELNYX_NUMBER)
    assert set(figures["outcomes"]) == {"403"}, figures
    assert figures["meets_target"] is False
    assert "misses the target" in bench_webhook.report(figures, "http://gw")


@pytest.mark.parametrize(
    "argv",
    [
        [],  # neither --spawn nor a gateway
        ["--url", "http://10.0.0.5:8080", "--auth-token", "t", "--number", "+15550002222"],
        ["--url", "http://127.0.0.1:8080", "--auth-token", "t", "--number", "+1555000222",
         "--carrier", "all"],  # every carrier needs a fresh gateway each
        ["--spawn", "--rate", "500"],
        ["--spawn", "--duration", "0"],
    ],
)  # fmt: skip
def test_out_of_bounds_runs_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    p = bench_webhook.parser()
    with pytest.raises(SystemExit) as exited:
        bench_webhook.check(p, p.parse_args(argv))
    assert exited.value.code == 2 and "error" in capsys.readouterr().err


def test_every_carrier_has_a_door_and_all_of_them_can_be_asked_for() -> None:
    args = bench_webhook.parser().parse_args(["--spawn", "--carrier", "all"])
    assert args.carrier == "all"
    for carrier in ("twilio", "telnyx", "vonage", "plivo", "signalwire"):
        token = TELNYX_SEED if carrier == "telnyx" else "secret"
        config = CallConfig("http://127.0.0.1:1", token, "+1", "+2", carrier=carrier)
        assert bench_webhook.Door.of(config).carrier == carrier
