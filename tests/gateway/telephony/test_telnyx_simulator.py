"""``scripts/simulate_call.py --carrier telnyx`` completes a call against the real gateway."""

from __future__ import annotations

import base64

import pytest

from scripts import simulate_call
from tests.gateway.telephony.conftest import (
    PUBLIC_URL,
    TELNYX_KEY,
    TELNYX_NUMBER,
    TELNYX_PUBLIC_KEY,
    FakeTelnyx,
)


async def test_the_simulator_acting_as_telnyx_completes_a_call(
    telnyx: FakeTelnyx, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = telnyx.gateway
    seed = base64.b64encode(bytes(TELNYX_KEY)).decode()
    assert simulate_call.main(["--telnyx-signing-key", seed, "--show-public-key"]) == 0
    assert capsys.readouterr().out.strip() == TELNYX_PUBLIC_KEY
    argv = ["--gateway", gw.url.rstrip("/"), "--public-url", PUBLIC_URL, "--carrier", "telnyx",
            "--telnyx-signing-key", seed, "--to", TELNYX_NUMBER, "--duration-s", "6",
            "--dtmf", "1@0.5"]  # fmt: skip
    args = simulate_call.parser().parse_args(argv)
    simulate_call._check_args(simulate_call.parser(), args)
    summary = await simulate_call.run(args)
    simulate_call.print_text(summary)
    print(capsys.readouterr().out)  # the simulator's own report, shown with -s
    assert summary["failure"] is None, summary
    assert summary["stream_url"] == "wss://gw.example.com/telephony/telnyx/media"
    assert summary["frames_sent"] == 300 and summary["dtmf_sent"] == 1
    assert summary["agent_media_messages"] > 0  # the demo's greeting or the caller played back
    assert summary["marks_received"] == summary["marks_echoed"] > 0
    assert summary["action_status"] == 200  # the call's end, reported to the status URL
    call = await gw.ctx.store.calls.get_by_sid(summary["call_sid"])
    assert call is not None and (call.carrier, call.status) == ("telnyx", "completed")
