"""Configuration at start-up, and ``kura config check``.

Every mistake is one line on stderr naming the variable, and exit code 2 (as argparse's usage
errors): a supervisor can tell "fix the configuration" (2) from "a dependency is down" (1).
Unknown ``KURA_*`` variables are warned about with the closest setting's name; they are not an
error, since a platform may set variables of its own under the prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import importlib.util
import ssl
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from config import Settings
from gateway.bootstrap import is_well_formed_key
from gateway.store import Store
from gateway.store.db import DatabaseUnavailable, describe_database, schema_revisions

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

CONFIG_ERROR = 2
PREFIX = "KURA_"
# The test suite's own variables share the prefix; they are not settings of the gateway.
IGNORED_PREFIXES = ("KURA_TEST_", "KURA_API_KEY")  # KURA_API_KEY: `kura calls`, a client
CHECK_TIMEOUT_S = 5.0


def _say(line: str) -> None:
    print(f"kura: {line}", file=sys.stderr)


def known_variables() -> list[str]:
    return [PREFIX + name.upper() for name in Settings.model_fields]


def unknown_variables(names: Iterable[str]) -> list[str]:
    """A warning for each ``KURA_*`` name that is no setting, with the closest one's name."""
    known = known_variables()
    warnings = []
    for name in sorted({n.upper() for n in names}):
        if not name.startswith(PREFIX) or name in known or name.startswith(IGNORED_PREFIXES):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is not a Kura setting and is ignored{hint}")
    return warnings


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named as its variable."""
    lines = []
    for error in exc.errors(include_url=False):
        name = PREFIX + str(error["loc"][0]).upper() if error["loc"] else "configuration"
        # A ValueError from our validators already says what is wrong in our words.
        reason = error.get("ctx", {}).get("error") if error["type"] == "value_error" else None
        lines.append(f"{name}: {reason or error['msg']}")
    return lines


def _post_checks(settings: Settings) -> list[str]:
    """Checks that need gateway code (the key format lives in ``gateway.bootstrap``)."""
    problems = []
    key = settings.bootstrap_api_key
    if key is not None and not is_well_formed_key(key.get_secret_value()):
        problems.append(
            "KURA_BOOTSTRAP_API_KEY: not a Kura key: expected kura_live_ and 38 letters and "
            "digits ending in their checksum; make one with `kura keys generate`"
        )
    if settings.tracing == "otlp" and not _tracing_installed():
        problems.append(
            "KURA_TRACING: otlp needs the tracing extra: pip install 'kura-gateway[tracing]'"
        )
    return problems


def _tracing_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is not None
    except ModuleNotFoundError:  # a parent package is missing altogether
        return False


def load_settings(environ: Mapping[str, str], env_file: Path = Path(".env")) -> Settings | None:
    """The settings, or None once every problem has been printed (one line each)."""
    names = list(environ)
    if env_file.is_file():
        names += list(dotenv_values(env_file))
    for warning in unknown_variables(names):
        _say(f"warning: {warning}")
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe_errors(exc):
            _say(line)
        return None
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        _say(str(exc).splitlines()[0])
        return None
    problems = _post_checks(settings)
    for problem in problems:
        _say(problem)
    return None if problems else settings


def mask_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def effective_settings(settings: Settings) -> list[str]:
    """``KURA_NAME=value`` for every setting; secrets and URL passwords masked."""
    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "******** (set)"
        elif value is None:
            shown = "(unset)"
        elif name.endswith("_url"):
            shown = mask_url(str(value))
        else:
            shown = str(value)
        lines.append(f"{PREFIX}{name.upper()}={shown}")
    return lines


async def _check_database(settings: Settings) -> tuple[bool, str]:
    store = Store.open(settings.database_url)
    where = describe_database(settings.database_url)
    try:
        current, head = await asyncio.wait_for(schema_revisions(store.engine), CHECK_TIMEOUT_S)
    except (DatabaseUnavailable, TimeoutError) as exc:
        return False, str(exc) or f"no answer from {where} in {CHECK_TIMEOUT_S:g} s"
    finally:
        await store.aclose()
    if current != head:
        schema = f"at {current}" if current else "empty"
        return True, f"{where}: reachable; schema {schema}, head is {head}: run `kura migrate`"
    return True, f"{where}: reachable; schema at head ({head})"


async def _check_redis(settings: Settings) -> tuple[bool, str]:
    if not settings.redis_url:
        return True, "not configured: shared state is in-process (one node)"
    from gateway.state.redis_link import REDIS_ERRORS, open_redis

    where = mask_url(settings.redis_url)
    client = open_redis(settings.redis_url)
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_S)
    except REDIS_ERRORS as exc:
        return False, f"{where}: {exc or type(exc).__name__}"
    finally:
        await client.aclose()
    return True, f"{where}: PING answered"


async def _check_endpoint(url: str) -> tuple[bool, str]:
    """DNS, TCP and (for wss://) a TLS handshake with certificate check; no request sent."""
    parts = urlsplit(url)
    secure = parts.scheme in {"wss", "https"}
    port = parts.port or (443 if secure else 80)
    host = parts.hostname or ""
    tls: dict[str, Any] = (
        {"ssl": ssl.create_default_context(), "server_hostname": host} if secure else {}
    )
    try:
        opened = asyncio.open_connection(host, port, **tls)
        _reader, writer = await asyncio.wait_for(opened, CHECK_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return False, f"{host}:{port}: {exc or type(exc).__name__}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, f"{host}:{port}: {'TLS handshake' if secure else 'TCP connection'} completed"


async def config_check(args: argparse.Namespace, settings: Settings) -> int:
    """Print the effective settings, then test each dependency; exit 1 if one fails."""
    print("\n".join(effective_settings(settings)))
    checks = {"database": _check_database(settings), "redis": _check_redis(settings)}
    if args.providers:
        checks["openai endpoint"] = _check_endpoint(settings.openai_realtime_url)
        checks["gemini endpoint"] = _check_endpoint(settings.gemini_live_url)
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    if not args.providers:
        print("providers: not checked (--providers tests DNS and TLS to their endpoints)")
    for name, (ok, detail) in results.items():
        print(f"{name}: {'ok' if ok else 'FAILED'}: {detail}")
    return 0 if all(ok for ok, _ in results.values()) else 1


def add_parsers(sub: Any) -> None:
    """Add ``kura config check``."""
    config = sub.add_parser(
        "config",
        help="check the configuration",
        description="Check the KURA_* configuration and the services it points at.",
    )
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="print the effective settings (secrets masked) and test the database and Redis",
        description="Print the effective settings, secrets masked, then test the database "
        "(connection and schema revision) and Redis (PING). Exit 0 when all answer, 1 when "
        "one does not, 2 when the configuration itself is invalid.",
    )
    check.add_argument(
        "--providers",
        action="store_true",
        help="also resolve and open TLS connections to the OpenAI and Gemini endpoints",
    )


COMMANDS: dict[str, Command] = {"config": config_check}
