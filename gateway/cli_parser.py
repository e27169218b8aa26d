"""The ``kura`` command line: every command and option with a description, and choices where
the values are fixed (permissions, providers), so ``--help`` is the reference."""

from __future__ import annotations

import argparse
from typing import Any

from config import Settings
from gateway import cli_admin, cli_calls, cli_config
from gateway.api.permissions import PERMISSIONS
from gateway.provider_setup import build_registry
from kinds.clock import SystemClock

EPILOG = """\
Configuration comes from KURA_* environment variables or ./.env (see the README's
Configuration table); `kura config check` shows the effective values. Exit codes: 0 done,
1 failed (a dependency is unreachable, or the named thing does not exist), 2 invalid
configuration or arguments."""


def _permission_help() -> str:
    lines = [f"  {name:<18} {meaning}" for name, meaning in PERMISSIONS.items()]
    return "permissions:\n" + "\n".join(lines)


def provider_names() -> list[str]:
    # The registry is built without connecting anything; no credential is read here.
    return build_registry(Settings.model_construct(), SystemClock()).names()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str,
         **kwargs: Any) -> argparse.ArgumentParser:  # fmt: skip
    """A sub-command whose one-line help is also its description."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text[:1].upper() + text[1:] + ".", **kwargs
    )
    return parser


def _serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = _add(sub, "serve", "run the gateway: migrate, bootstrap, then serve until SIGTERM")
    serve.add_argument("--host", help="address to listen on (default: KURA_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: KURA_PORT, 8080)")
    _add(
        sub,
        "migrate",
        "upgrade the database schema to this version's head; the deploy step before "
        "starting nodes (safe to run from several places at once)",
    )


def _keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = _add(sub, "keys", "manage API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = _add(
        keys,
        "create",
        "create a key; prints it alone on the last line (only a hash is stored)",
        epilog=_permission_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("--name", required=True, help="a label for the key")
    create.add_argument(
        "--permissions",
        default="",
        metavar="P1,P2",
        help="comma-separated permissions from the list below; default: all of them",
    )
    create.add_argument(
        "--rate-limit", type=_positive_int, default=60, help="requests per minute (default 60)"
    )
    _add(keys, "list", "list keys: id, prefix, name, state, rate limit, permissions")
    _add(
        keys,
        "generate",
        "print a new key and store nothing: a value for KURA_BOOTSTRAP_API_KEY, which "
        "inserts it with every permission at start",
    )
    revoke = _add(keys, "revoke", "revoke a key at once")
    revoke.add_argument("id", type=int, help="the key's id (from `kura keys list`)")


def _assistant_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    parser.add_argument("--name", required=creating, help="shown in lists and the console")
    # Listed, not argparse choices: the API's own check answers, the same words as over REST.
    names = ", ".join(provider_names())
    parser.add_argument("--provider", metavar="NAME", help=f"one of {names} (default: local)")
    parser.add_argument("--model", help="the provider's model name (default: its own)")
    parser.add_argument("--voice", help="the provider's voice name")
    parser.add_argument("--instructions", help="the system prompt")
    parser.add_argument("--greeting", help="spoken (or sent) first")
    parser.add_argument("--language-code", help="BCP 47, e.g. en-US")
    parser.add_argument("--transfer-number", help="E.164 number transfer_call dials")
    parser.add_argument("--temperature", type=float, help="0 to 2")
    parser.add_argument("--idle-timeout-s", type=int, help="end after this silence (5..3600)")
    parser.add_argument("--max-turns", type=int, help="end after this many turns")
    parser.add_argument("--max-duration-s", type=int, help="end after this long (10..14400)")
    parser.add_argument("--tools", metavar="JSON", help="JSON list of tool definitions")
    parser.add_argument("--recording", help="off, mono or dual (caller left, assistant right)")
    parser.add_argument(
        "--recording-retention-days", type=int, help="days recordings are kept (1..3650)"
    )
    parser.add_argument("--events-url", help="where signed post-call events are POSTed")
    parser.add_argument(
        "--turn-detection",
        metavar="JSON",
        help='JSON object, e.g. \'{"server_vad": false, "silence_ms": 600}\'',
    )
    parser.add_argument(
        "--interruption",
        metavar="JSON",
        help='JSON object, e.g. \'{"min_speech_ms": 600, "backchannel_filter": "on"}\'',
    )


def _assistants(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assistants = _add(sub, "assistants", "manage assistants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    _add(assistants, "list", "list assistants: id, name, provider, model")
    _assistant_options(_add(assistants, "create", "create an assistant"), creating=True)
    update = _add(assistants, "update", "change the given fields of an assistant")
    update.add_argument("id", type=int, help="the assistant's id")
    _assistant_options(update, creating=False)
    for action, text in (("show", "print an assistant as JSON"), ("delete", "delete one")):
        _add(assistants, action, text).add_argument("id", type=int, help="the assistant's id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kura",
        description="Kura voice gateway: phone numbers and an app API for AI voice assistants.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve(sub)
    cli_config.add_parsers(sub)
    _keys(sub)
    _assistants(sub)
    cli_admin.add_parsers(sub)
    cli_calls.add_parsers(sub)
    return parser
