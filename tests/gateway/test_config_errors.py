"""Configuration mistakes: each gives one line naming the variable, and exit code 2 (a broken
dependency: exit 1); never a traceback. Also ``kura config check`` and the start-up lines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.bootstrap import generate_api_key
from gateway.cli import main
from gateway.cli_config import effective_settings, mask_url, unknown_variables
from tests.kura_process import kura_serve, sqlite_url

SECRET = "pa55word"


@dataclass(frozen=True)
class Mistake:
    variables: dict[str, str]
    code: int
    line: str
    """The one line on stderr (after ``kura: ``) that names the problem, or its start."""


MISTAKES = {
    "public URL without a scheme": Mistake(
        {"KURA_PUBLIC_URL": "kura.example.com"},
        2,
        "KURA_PUBLIC_URL: must start with http:// or https:// and name a host, "
        "e.g. https://kura.example.com (got 'kura.example.com')",
    ),
    "misspelt variable": Mistake(
        {"KURA_PROT": "9000"},
        0,
        "warning: KURA_PROT is not a Kura setting and is ignored (did you mean KURA_PORT?)",
    ),
    "PostgreSQL URL without the async driver": Mistake(
        {"KURA_DATABASE_URL": f"postgresql://kura:{SECRET}@db/kura"},
        2,
        "KURA_DATABASE_URL: use postgresql+asyncpg://… (the async driver Kura installs), "
        "not postgresql://…",
    ),
    "SQLite URL without the async driver": Mistake(
        {"KURA_DATABASE_URL": "sqlite:///kura.db"}, 2, "KURA_DATABASE_URL: use sqlite+aiosqlite"
    ),
    "unknown log level": Mistake(
        {"KURA_LOG_LEVEL": "verbose"},
        2,
        "KURA_LOG_LEVEL: must be one of debug, info, warning, error, critical (got 'verbose')",
    ),
    "origins not JSON": Mistake(
        {"KURA_ALLOWED_ORIGINS": "https://app.example.com"},
        2,
        "KURA_ALLOWED_ORIGINS: must be a JSON list of origins, "
        "e.g. '[\"https://app.example.com\"]'",
    ),
    "origin without a scheme": Mistake(
        {"KURA_ALLOWED_ORIGINS": '["app.example.com"]'},
        2,
        "KURA_ALLOWED_ORIGINS: each origin must start with https:// or http://",
    ),
    "database refusing connections": Mistake(
        {"KURA_DATABASE_URL": f"postgresql+asyncpg://kura:{SECRET}@127.0.0.1:1/kura"},
        1,
        "cannot connect to the database postgresql+asyncpg://kura:***@127.0.0.1:1/kura: ",
    ),
    "bootstrap key in the wrong format": Mistake(
        {"KURA_BOOTSTRAP_API_KEY": "my-admin-key"},
        2,
        "KURA_BOOTSTRAP_API_KEY: not a Kura key: expected kura_live_ and 38 letters",
    ),
    "Redis URL without a scheme": Mistake(
        {"KURA_REDIS_URL": "localhost:6379"},
        2,
        "KURA_REDIS_URL: must start with redis://, rediss:// or unix://",
    ),
    "port not a number": Mistake(
        {"KURA_PORT": "http"}, 2, "KURA_PORT: Input should be a valid integer"
    ),
    "refresh slower than the TTL": Mistake(
        {"KURA_OWNERSHIP_REFRESH_S": "20"},
        2,
        "KURA_OWNERSHIP_REFRESH_S: must be shorter than KURA_OWNERSHIP_TTL_S",
    ),
    "provider endpoint not a WebSocket URL": Mistake(
        {"KURA_OPENAI_REALTIME_URL": "https://api.openai.com/v1/realtime"},
        2,
        "KURA_OPENAI_REALTIME_URL: must start with wss:// or ws://",
    ),
}


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("KURA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KURA_DATABASE_URL", sqlite_url(tmp_path / "kura.db"))
    return tmp_path


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_one_line_and_its_exit_code(
    mistake: Mistake,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in mistake.variables.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate"]) == mistake.code
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kura: " + mistake.line), err
    assert SECRET not in err


def test_mistakes_in_the_env_file_are_reported_too(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / ".env").write_text("KURA_LOG_LEVL=debug\nKURA_LOG_LEVEL=loud\n")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "kura: warning: KURA_LOG_LEVL is not a Kura setting and is ignored "
        "(did you mean KURA_LOG_LEVEL?)",
        "kura: KURA_LOG_LEVEL: must be one of debug, info, warning, error, critical (got 'loud')",
    ]


def test_the_test_suites_own_variables_are_not_warned_about() -> None:
    assert unknown_variables(["KURA_TEST_REDIS_URL", "KURA_PORT", "PATH", "kura_port"]) == []


def test_config_check_prints_settings_with_secrets_masked(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = generate_api_key()
    monkeypatch.setenv("KURA_BOOTSTRAP_API_KEY", key)
    monkeypatch.setenv("KURA_OPENAI_API_KEY", "sk-" + SECRET)
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert key not in out
    assert SECRET not in out
    assert "KURA_OPENAI_API_KEY=******** (set)" in out.splitlines()
    assert "KURA_REDIS_URL=(unset)" in out.splitlines()
    assert "database: ok: sqlite+aiosqlite:///" in out
    assert "schema empty" in out  # config check reports; it never migrates
    assert "redis: ok: not configured" in out


def test_config_check_fails_with_a_dependency_down(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KURA_REDIS_URL", f"redis://:{SECRET}@127.0.0.1:1/0")
    assert main(["config", "check"]) == 1
    out = capsys.readouterr().out
    assert "redis: FAILED: redis://:***@127.0.0.1:1/0: " in out
    assert SECRET not in out


def test_urls_lose_their_passwords_and_settings_their_secrets() -> None:
    assert mask_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert mask_url("redis://h:1/0") == "redis://h:1/0"
    from config import Settings

    lines = effective_settings(Settings(webhook_secret="whsec_" + SECRET))
    assert "KURA_WEBHOOK_SECRET=******** (set)" in lines


def test_start_up_lines_say_where_it_listens_and_the_public_url(tmp_path: Path) -> None:
    public = "https://kura.example.test"
    with kura_serve(tmp_path, sqlite_url(tmp_path / "kura.db"), KURA_PUBLIC_URL=public) as node:
        lines = list(node.stdout)
        assert node.terminate() == 0
    assert f"Kura gateway public URL: {public}" in lines
    assert lines[-1] == f"Kura gateway listening on http://127.0.0.1:{node.port}"


def test_tracing_without_its_extra_is_a_configuration_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway import cli_config

    monkeypatch.setattr(cli_config, "_tracing_installed", lambda: False)
    monkeypatch.setenv("KURA_TRACING", "otlp")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "kura: KURA_TRACING: otlp needs the tracing extra: pip install 'kura-gateway[tracing]'"
    ]
