"""The ``kura`` CLI: migrate, keys, assistants and serve, against temporary SQLite databases.

Most commands run in-process through ``main([...])`` (fast); the behaviours scripts depend on
(the key alone on the last line, exit codes without tracebacks, ``serve`` and SIGTERM) run the
real command as a subprocess.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from gateway.api.permissions import ALL_PERMISSIONS
from gateway.cli import main
from tests.gateway.conftest import Gateway
from tests.kura_process import KURA, LISTENING, kura_env, kura_serve, run_kura, sqlite_url

KEY_PATTERN = re.compile(r"kura_live_[A-Za-z0-9]{38}")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``kura`` in-process with the environment a shell would give it."""

    def __init__(self, capsys: pytest.CaptureFixture[str], database: Path) -> None:
        self._capsys = capsys
        self.database = database

    def __call__(self, *args: str) -> Outcome:
        self._capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
        captured = self._capsys.readouterr()
        assert "Traceback" not in captured.err
        return Outcome(code, captured.out, captured.err)

    def json(self, *args: str) -> dict[str, Any]:
        outcome = self(*args)
        assert outcome.code == 0, outcome.err
        data: dict[str, Any] = json.loads(outcome.out)
        return data


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for name in [n for n in os.environ if n.startswith("KURA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env or kura.db from the developer's checkout
    database = tmp_path / "kura.db"
    monkeypatch.setenv("KURA_DATABASE_URL", sqlite_url(database))
    return Cli(capsys, database)


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.store.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrate_creates_the_schema_and_is_idempotent(cli: Cli) -> None:
    for _ in range(2):
        outcome = cli("migrate")
        assert (outcome.code, outcome.out) == (0, "database is up to date\n")
    with sqlite3.connect(cli.database) as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert version == _head_revision()
    assert {"api_keys", "assistants", "sessions"} <= tables


def test_keys_create_list_and_revoke(cli: Cli) -> None:
    first = cli(
        "keys", "create", "--name", "ops", "--permissions", "sessions:create, sessions:read"
    )
    assert first.code == 0, first.err
    *notes, secret = first.out.splitlines()
    assert KEY_PATTERN.fullmatch(secret)
    assert notes == ["created key 1 (ops): sessions:create, sessions:read"]
    everything = cli("keys", "create", "--name", "admin")
    assert everything.code == 0
    assert everything.out.splitlines()[0].endswith(", ".join(sorted(ALL_PERMISSIONS)))
    other_secret = everything.out.splitlines()[-1]

    listing = cli("keys", "list")
    assert listing.code == 0
    rows = [line.split("\t") for line in listing.out.splitlines()]
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("1", "ops", "live", "60/min", "sessions:create,sessions:read"),
        ("2", "admin", "live", "60/min", ",".join(sorted(ALL_PERMISSIONS))),
    ]
    for key in (secret, other_secret):
        assert key not in listing.out
        assert key[len("kura_live_") + 12 :] not in listing.out  # not even most of it

    assert cli("keys", "revoke", "1") == Outcome(0, "revoked key 1\n", "")
    assert "\trevoked\t" in cli("keys", "list").out.splitlines()[0]
    assert cli("keys", "revoke", "1") == Outcome(1, "", "no live key 1\n")
    assert cli("keys", "revoke", "99").code == 1


def test_unknown_permission_is_exit_2_and_creates_nothing(cli: Cli) -> None:
    outcome = cli("keys", "create", "--name", "x", "--permissions", "sessions:create,sessions:x")
    assert outcome.code == 2
    assert outcome.out == ""
    assert "unknown permissions: sessions:x" in outcome.err
    assert "known: " + ", ".join(ALL_PERMISSIONS) in outcome.err
    assert cli("keys", "list").out == ""


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_rate_limit_must_be_a_positive_number(cli: Cli, value: str) -> None:
    outcome = cli("keys", "create", "--name", "x", "--rate-limit", value)
    assert outcome.code == 2
    assert "--rate-limit" in outcome.err


def test_assistants_round_trip(cli: Cli) -> None:
    tools = [{"name": "book", "description": "Book a slot", "webhook_url": "https://x.test/b"}]
    created = cli.json(
        "assistants", "create", "--name", "Front desk", "--greeting", "Hi!",
        "--temperature", "0.7", "--idle-timeout-s", "60", "--transfer-number", "+1 415 555 0100",
        "--tools", json.dumps(tools), "--turn-detection", '{"silence_ms": 700}',
    )  # fmt: skip
    assistant_id = str(created["id"])
    assert created["name"] == "Front desk"
    assert created["provider"] == "local"
    assert created["temperature"] == 0.7
    assert created["transfer_number"] == "+14155550100"
    assert created["tools"][0]["name"] == "book"
    assert created["turn_detection"]["silence_ms"] == 700
    listing = cli("assistants", "list")
    assert listing.out == f"{assistant_id}\tFront desk\tlocal\t-\n"
    assert cli.json("assistants", "show", assistant_id) == created

    updated = cli.json("assistants", "update", assistant_id, "--greeting", "Hello again")
    assert updated["greeting"] == "Hello again"
    unchanged = {k: v for k, v in created.items() if k not in {"greeting", "updated_at"}}
    assert {k: v for k, v in updated.items() if k in unchanged} == unchanged

    assert cli("assistants", "delete", assistant_id) == Outcome(
        0, f"deleted assistant {assistant_id}\n", ""
    )
    for action in ("show", "delete"):
        outcome = cli("assistants", action, assistant_id)
        assert (outcome.code, outcome.out) == (1, "")
        assert f"no assistant {assistant_id}" in outcome.err
    assert cli("assistants", "update", "42", "--name", "x").code == 1
    assert cli("assistants", "list").out == ""


BAD_OPTIONS = [
    (["--temperature", "9"], "--temperature: Input should be less than or equal to 2"),
    (["--tools", "[bad"], "--tools: not valid JSON"),
    (["--tools", '[{"name": "two words"}]'], "--tools (0.name): String should match pattern"),
    (["--tools", '{"name": "x"}'], "--tools: Input should be a valid list"),
    (["--turn-detection", '{"silence_ms": 5}'], "--turn-detection (silence_ms)"),
    (["--turn-detection", "{"], "--turn-detection: not valid JSON"),
    (["--idle-timeout-s", "1"], "--idle-timeout-s"),
    (["--language-code", "english please"], "--language-code"),
    (["--provider", "nosuch"], "--provider: expected one of gemini, local, openai"),
    (["--transfer-number", "call me"], "--transfer-number: expected an E.164 number"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_assistant_options_are_one_clear_error(
    cli: Cli, options: list[str], message: str
) -> None:
    outcome = cli("assistants", "create", "--name", "X", *options)
    assert (outcome.code, outcome.out) == (2, "")
    assert outcome.err.startswith("kura: invalid assistant options:\n")
    assert message in outcome.err
    assert cli("assistants", "list").out == ""


def test_bad_update_options_leave_the_assistant_alone(cli: Cli) -> None:
    created = cli.json("assistants", "create", "--name", "Kept", "--temperature", "0.3")
    outcome = cli("assistants", "update", str(created["id"]), "--name", "", "--temperature", "3")
    assert outcome.code == 2
    assert "--name:" in outcome.err
    assert "--temperature:" in outcome.err
    assert cli.json("assistants", "show", str(created["id"])) == created


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("assistants", "create").code == 2  # --name is required
    assert cli("assistants", "show", "one").code == 2
    assert cli("keys").code == 2


def test_invalid_configuration_names_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KURA_PORT", "eighty")
    outcome = cli("migrate")
    assert outcome.code == 2
    assert "KURA_PORT: Input should be a valid integer" in outcome.err


# The real console script as a subprocess, next to a running gateway.


async def _kura(gw: Gateway, *args: str, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *KURA,
        *args,
        env=kura_env(gw.ctx.settings.database_url),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_created_key_is_the_last_line_and_works_for_exactly_its_permissions(
    gateway: Gateway,
    tmp_path: Path,
) -> None:
    permissions = "sessions:create,assistants:read"
    code, out, err = await _kura(
        gateway, "keys", "create", "--name", "app", "--permissions", permissions, cwd=tmp_path
    )
    assert code == 0, err
    key = out.splitlines()[-1]  # what `kura keys create ... | tail -1` captures
    assert KEY_PATTERN.fullmatch(key), out
    key_id = re.search(r"created key (\d+)", out)
    assert key_id is not None

    async def status(method: str, path: str, **kwargs: Any) -> int:
        return (await gateway.request(method, path, key=key, **kwargs)).status

    assert await status("GET", "/api/v1/assistants") == 200
    assert await status("GET", "/api/v1/assistants/1") == 200
    created = await gateway.create_session(key=key, mode="chat")
    own = f"/api/v1/sessions/{created['session_id']}"
    assert await status("GET", own) == 200  # sessions:create reads its own sessions
    assert await status("GET", "/api/v1/sessions") == 403  # sessions:read
    assert await status("GET", own + "/transcript") == 200  # its own transcript too
    assert await status("POST", "/api/v1/assistants", json={"name": "x"}) == 403
    assert await status("DELETE", "/api/v1/assistants/1") == 403
    assert await status("DELETE", own) == 200  # sessions:create ends its own sessions

    code, out, err = await _kura(gateway, "keys", "revoke", key_id[1], cwd=tmp_path)
    assert (code, out) == (0, f"revoked key {key_id[1]}\n"), err
    assert await status("GET", "/api/v1/assistants") == 401  # no cache outlives a revoke


@pytest.mark.parametrize(
    ("args", "database", "code", "message"),
    [
        (
            ("assistants", "create", "--name", "X", "--temperature", "9"),
            "kura.db",
            2,
            "--temperature: Input should be less than or equal to 2",
        ),
        # Run as a subprocess: in-process, aiosqlite's worker thread for the failed connection can
        # outlive asyncio.run's loop and warn from a later test.
        (("keys", "list"), "missing/dir/kura.db", 1, "unable to open database file"),
    ],
    ids=["bad-option", "unopenable-database"],
)
def test_errors_from_the_console_script_are_one_message_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...], database: str, code: int, message: str
) -> None:
    outcome = run_kura(*args, database_url=sqlite_url(tmp_path / database), cwd=tmp_path)
    assert outcome.returncode == code, outcome.stderr
    assert outcome.stderr.startswith("kura: "), outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert message in outcome.stderr


def _get_json(url: str, key: str) -> Any:
    reply = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _close_frame(ws: websocket.WebSocket) -> tuple[int, bytes]:
    """Read until the server's close frame: its code and reason."""
    while True:
        opcode, frame = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame[:2], "big"), frame[2:]


def test_serve_prints_a_key_once_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = sqlite_url(tmp_path / "kura.db")
    with kura_serve(tmp_path, database, wait_healthy=False) as server:
        # The "listening" line is printed once the port is bound: connect at once, no polling.
        assert requests.get(server.url + "/api/v1/health", timeout=5).json()["status"] == "ok"
        keys = [line.strip() for line in server.stdout if "kura_live_" in line]
        assert len(keys) == 1
        assert KEY_PATTERN.fullmatch(keys[0]), server.stdout
        assistants = _get_json(server.url + "/api/v1/assistants", keys[0])
        assert [a["name"] for a in assistants["data"]] == ["Local demo"]
        started = time.monotonic()
        assert server.terminate() == 0
        assert time.monotonic() - started < 5

    # No drain deadline: live sessions are ended at once (the drain has its own tests).
    with kura_serve(tmp_path, database, KURA_DRAIN_TIMEOUT_S="0") as again:
        assert not [line for line in again.stdout if "kura_live_" in line], again.stdout
        assert again.stdout[-1].startswith(LISTENING)
        assert _get_json(again.url + "/api/v1/assistants", keys[0])["data"]  # the key still works
        # A live session is ended cleanly by the shutdown, with "going away".
        session = requests.post(
            again.url + "/api/v1/sessions",
            headers={"Authorization": f"Bearer {keys[0]}"},
            json={"assistant_id": 1, "mode": "chat"},
            timeout=5,
        ).json()
        ws = websocket.create_connection(session["websocket_url"], timeout=10)
        assert json.loads(ws.recv())["type"] == "sessionOpen"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            close_frame = pool.submit(_close_frame, ws)  # a client that keeps reading, as apps do
            started = time.monotonic()
            assert again.terminate() == 0
            assert time.monotonic() - started < 5
            assert close_frame.result(timeout=5) == (1001, b"shutdown")
        ws.close()


def test_console_script_entry_point_is_gateway_cli_main() -> None:
    """``pip install`` makes ``kura`` call ``gateway.cli:main``; these tests run that function."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"kura": "gateway.cli:main"}
    assert KURA[0] == sys.executable
