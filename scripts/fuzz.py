#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers hostile input reaches first
(reliability.md row 26: "atheris 10 min", 0 unhandled exceptions).

    pip install atheris            # or: pip install --target /tmp/atheris atheris, then
                                   #     PYTHONPATH=/tmp/atheris:. python scripts/fuzz.py
    .venv/bin/python scripts/fuzz.py                             # every target, 30 s each
    .venv/bin/python scripts/fuzz.py --seconds 600 --target app-socket    # the row's 10 min
    .venv/bin/python scripts/fuzz.py --list

Targets (``scripts/fuzz_targets.py``): the app socket's messages, each carrier's media frames
(Twilio, Telnyx, Vonage, Plivo), webhook form and JSON bodies, and the signature checks
(Twilio, Telnyx, Plivo, Vonage's JWT: a made-up signature must never pass). Each target runs
in its own process, its gateway modules instrumented for coverage, seeded with valid inputs.
A finding is an exception other than the parser's own refusal: libFuzzer stops and writes the
input to ``--artifacts`` (default ``/tmp/kura-fuzz``); reproduce it with
``scripts/fuzz.py --target NAME --replay FILE``. Exit status 0 when no target found anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_NAMES = ("app-socket", "twilio-media", "telnyx-media", "vonage-media", "plivo-media",
                "webhook-bodies", "signatures", "vonage-jwt")  # fmt: skip
SEEDS: dict[str, tuple[bytes, ...]] = {
    "app-socket": (
        b'{"type":"audioChunk","audio":"AAAAAA=="}',
        b'{"type":"textMessage","text":"hi"}',
        b'{"type":"interrupt","playedMs":120}',
        b'{"type":"stopSession"}',
    ),
    "twilio-media": (
        b'{"event":"media","streamSid":"MZ1","media":{"track":"inbound","chunk":"1",'
        b'"timestamp":"20","payload":"/////w=="}}',
        b'{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{}}}',
        b'{"event":"mark","streamSid":"MZ1","mark":{"name":"a:1"}}',
        b'{"event":"stop","streamSid":"MZ1"}',
    ),
    "telnyx-media": (
        b'{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"20",'
        b'"payload":"/////w=="}}',
        b'{"event":"start","start":{"call_control_id":"v3:x","media_format":'
        b'{"encoding":"PCMU","sample_rate":8000,"channels":1}}}',
    ),
    "vonage-media": (
        b'{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}',
        b"\x00\x01" * 320,
    ),
    "plivo-media": (
        b'{"event":"media","media":{"track":"inbound","chunk":1,"timestamp":"20",'
        b'"payload":"/////w=="}}',
        b'{"event":"start","start":{"callId":"c1","streamId":"s1","mediaFormat":'
        b'{"encoding":"audio/x-mulaw","sampleRate":8000}}}',
    ),
    "webhook-bodies": (
        b"CallSid=CA0123456789abcdef0123456789abcdef&CallDuration=12",
        b'{"CallSid":"CA0","CallDuration":3}',
    ),
    "signatures": (
        b"/telephony/twilio/voice\0CallSid=CA1&From=%2B1555\0c2lnbmF0dXJl\x001700000000",
    ),
    "vonage-jwt": (b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJpYXQiOjF9.c2ln\0{}",),
}


def _atheris_available() -> bool:
    return importlib.util.find_spec("atheris") is not None


def run_one(name: str, seconds: int, artifacts: Path, replay: Path | None) -> None:
    """In this process: instrument the gateway's parsers, then hand ``name`` to libFuzzer
    (which exits the process when done or on a finding)."""
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]

    with atheris.instrument_imports(include=["gateway", "kinds", "scripts.fuzz_targets"]):
        from scripts.fuzz_targets import TARGETS
    target = TARGETS[name]
    if replay is not None:
        target(replay.read_bytes())
        print(f"{name}: {replay} ran without a finding")
        return
    corpus = Path(tempfile.mkdtemp(prefix=f"kura-fuzz-{name}-"))
    for i, seed in enumerate(SEEDS[name]):
        (corpus / f"seed{i}").write_bytes(seed)
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/{name}-",
            "-print_final_stats=1", "-max_len=4096", str(corpus)]  # fmt: skip
    atheris.Setup(argv, target)
    atheris.Fuzz()


def _summary(name: str, done: subprocess.CompletedProcess[str]) -> tuple[bool, str]:
    output = done.stdout + done.stderr
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    cover = re.findall(r"cov: (\d+)", output)
    crash = re.search(r"Test unit written to (\S+)", output)
    ok = done.returncode == 0 and crash is None
    inputs, edges = runs.group(1) if runs else "?", cover[-1] if cover else "?"
    line = f"{name}: {'no finding' if ok else 'FINDING'}; {inputs} inputs, coverage {edges}"
    if not ok:
        problem = re.search(r"(=== Uncaught Python exception: ===.*?)(?:\n\n|$)", output, re.S)
        line += f"; input {crash.group(1) if crash else '?'}\n" + (
            problem.group(1) if problem else output[-2000:]
        )
    return ok, line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=TARGET_NAMES, help="repeatable; all")
    p.add_argument("--seconds", type=int, default=30, help="per target (row 26: 600)")
    p.add_argument(
        "--artifacts",
        default=str(Path(tempfile.gettempdir()) / "kura-fuzz"),
        help="where findings are written",
    )
    p.add_argument("--replay", type=Path, help="run one saved input through --target")
    p.add_argument("--list", action="store_true", help="print the targets and exit")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child's mode
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(TARGET_NAMES))
        return 0
    if not 1 <= args.seconds <= 24 * 3600:
        p.error("--seconds must be in [1, 86400]")
    if not _atheris_available():
        print("atheris is not installed: pip install atheris (a wheel exists for CPython "
              "3.8-3.12 on x86-64 Linux); tests/reliability/test_parser_properties.py holds "
              "the hypothesis version of these targets", file=sys.stderr)  # fmt: skip
        return 2
    names = args.target or list(TARGET_NAMES)
    if args.one or args.replay:
        run_one(names[0], args.seconds, Path(args.artifacts), args.replay)
        return 0
    clean = True
    for name in names:
        command = [sys.executable, __file__, "--one", "--target", name,
                   "--seconds", str(args.seconds), "--artifacts", args.artifacts]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=args.seconds + 120)  # fmt: skip
        ok, line = _summary(name, done)
        clean &= ok
        print(line, flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
