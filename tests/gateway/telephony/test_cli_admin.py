"""``kura numbers`` and ``kura contacts``: output, exit codes, and no tracebacks on bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.store import Store
from kinds.clock import SystemClock


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KURA_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env file is read

    async def seed() -> None:
        store = Store.open(url)
        await store.migrate()
        await store.assistants.create({"name": "Front desk"}, SystemClock().now())
        await store.contacts.record_session("+15550001111", SystemClock().now())
        await store.aclose()

    asyncio.run(seed())
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_numbers_assign_list_unassign(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "numbers", "assign", "+15550002222", "--assistant", "1")
    assert (code, out.strip()) == (0, "+15550002222 → assistant 1 (enabled)")
    code, out, _ = run(
        capsys, "numbers", "assign", "+1 555 000 2222", "--assistant", "1", "--label", "Main",
        "--disabled",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "+15550002222 → assistant 1 (disabled)")
    code, out, _ = run(capsys, "numbers", "list")
    assert code == 0
    assert out.split("\t")[1:] == ["+15550002222", "twilio", "assistant 1", "disabled", "Main\n"]
    code, out, _ = run(capsys, "numbers", "unassign", "+15550002222")
    assert (code, out.strip()) == (0, "unassigned +15550002222")
    code, _, err = run(capsys, "numbers", "unassign", "+15550002222")
    assert (code, err.strip()) == (1, "+15550002222 is not assigned")


def test_numbers_bad_input(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "numbers", "assign", "nope", "--assistant", "1")
    assert code == 2
    assert "not a phone number" in err
    code, _, err = run(capsys, "numbers", "assign", "+15550002222", "--assistant", "7")
    assert (code, err.strip()) == (1, "no assistant 7")
    code, _, err = run(capsys, "numbers", "assign", "+15550002222", "--assistant", "x")
    assert code == 2
    assert "expected a positive id" in err
    code, _, err = run(capsys, "numbers", "assign", "+15550002222")
    assert code == 2
    assert "--assistant" in err
    code, _, err = run(capsys, "numbers", "unassign", "??")
    assert code == 2


def test_contacts_list_show_update(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contacts", "list")
    assert code == 0
    assert out.split("\t")[:4] == ["1", "+15550001111", "-", "1 sessions"]
    code, out, _ = run(capsys, "contacts", "update", "1", "--name", "Ana")
    assert (code, out.strip()) == (0, "contact 1: Ana")
    code, out, _ = run(capsys, "contacts", "show", "1")
    assert code == 0
    assert '"name": "Ana"' in out
    assert '"sessions": []' in out
    code, out, _ = run(capsys, "contacts", "update", "1", "--name", "")
    assert (code, out.strip()) == (0, "contact 1: (no name)")
    for argv in (("show", "9"), ("update", "9", "--name", "A")):
        code, _, err = run(capsys, "contacts", *argv)
        assert (code, err.strip()) == (1, "no contact 9")
    code, _, err = run(capsys, "contacts", "show", "one")
    assert code == 2
    code, _, err = run(capsys, "contacts", "update", "1", "--name", "x" * 201)
    assert code == 2
