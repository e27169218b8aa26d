"""scripts/soak.py and scripts/chaos.py: their bounds, and a very short run of each against a
real ``kura serve`` (the long runs are for the lead, on a quiet machine)."""

from __future__ import annotations

import pytest

from scripts import chaos, soak
from scripts.twilio_sim.proc_stats import ProcessSample


@pytest.mark.parametrize(
    "argv", [["--minutes", "0"], ["--calls", "0"], ["--calls", "50", "--call-s", "6"]]
)
def test_soak_refuses_out_of_bounds_runs(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        soak.main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--faults", "flood"], ["--kills", "0"], ["--call-s", "1"], ["--faults", ""]]
)
def test_chaos_refuses_unknown_faults_and_bounds(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        chaos.main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def _round(rss_kib: int, fds: int, tasks: int, failures: dict[str, int]) -> dict[str, object]:
    return {"calls": 2, "held": 2, "failures": failures, "lost_frames": 0,
            "frame_p99_ms": {"inbound": 1.0}, "loop_lag_p99_ms": 1.0,
            "after": ProcessSample(rss_kib, fds, 7, tasks).as_dict()}  # fmt: skip


@pytest.mark.parametrize(
    ("last", "rows", "passes"),
    [
        (_round(1_090, 20, 12, {}), (4, 0), True),
        (_round(1_200, 20, 12, {}), (4, 0), False),  # RSS grew 20 %
        (_round(1_000, 30, 12, {}), (4, 0), False),  # ten descriptors more
        (_round(1_000, 20, 40, {}), (4, 0), False),  # tasks piling up
        (_round(1_000, 20, 12, {"timeout": 1}), (4, 0), False),
        (_round(1_000, 20, 12, {}), (4, 1), False),  # a session left open
        (_round(1_000, 20, 12, {}), (3, 0), False),  # a call with no session row
    ],
)
def test_the_soak_verdict_is_the_rows_figure(
    last: dict[str, object], rows: tuple[int, int], passes: bool
) -> None:
    run = soak.Soak(baseline=ProcessSample(1_000, 20, 7, 10), calls_placed=4)
    run.rounds = [_round(1_000, 20, 10, {}), last]
    run.failures = dict(last["failures"])  # type: ignore[call-overload]
    assert soak.verdict(run, *rows)["passes"] is passes


@pytest.mark.slow
def test_a_short_soak_runs_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert soak.main(["--minutes", "0.01", "--calls", "2", "--call-s", "6"]) == 0
    out = capsys.readouterr().out
    assert "round 1: 2/2 held" in out and "row 16 passes" in out


@pytest.mark.slow
def test_one_sigkill_leaves_an_intact_database_and_no_open_session(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert chaos.main(["--faults", "sigkill", "--kills", "1", "--calls", "2", "--call-s", "6"]) == 0
    assert "sigkill: passes" in capsys.readouterr().out
